"""Assemble and validate the configuration of one environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from . import canonical as c
from .model import Naming, TradaiConfig
from .validation import BUCKET_SUFFIX_CONTEXT, ConfigError, check_bucket_names, validate

BucketSuffixContext = str | Mapping[str, str | None] | None


def config_for(env: str, image_tag: str | None = None, bucket_suffix: BucketSuffixContext = None) -> TradaiConfig:
    """Return the validated configuration of ``env`` (dev, staging or prod); ``image_tag`` is the `image_tag`
    context of the synth, the tag every service and task image is deployed at (``require_image_tag`` checks it).
    ``bucket_suffix`` is the `bucket_suffix` context: one suffix for every environment, or a mapping from
    environment to suffix (``{"prod": "acme"}`` in cdk.json); it becomes ``naming.bucket_suffix``."""
    if env not in c.ENVIRONMENTS:
        raise ConfigError("environment", env, f"one of {', '.join(c.ENVIRONMENTS)}")
    suffix, suffix_field = bucket_suffix_for(env, bucket_suffix)
    config = TradaiConfig(
        env=env,
        spec_version=c.SPEC_VERSION,
        naming=Naming(c.PROJECT, env, bucket_suffix=suffix),
        tags=(*c.COMMON_TAGS, ("Environment", env)),
        profile=c.PROFILES[env],
        network=c.NETWORK,
        nat=c.NAT,
        security_groups=c.SECURITY_GROUPS,
        compute=dataclasses.replace(c.COMPUTE, image_tag=image_tag),
        services=c.SERVICES,
        on_demand_tasks=c.ON_DEMAND_TASKS,
        service_discovery=c.SERVICE_DISCOVERY,
        task_family_prefix=c.TASK_FAMILY_PREFIX,
        tables=c.TABLES,
        buckets=c.BUCKETS,
        rds=c.RDS_BY_ENV[env],
        cognito=c.COGNITO,
        waf_rules=c.WAF_RULES,
        waf_blocked_alarm_threshold=c.WAF_BLOCKED_ALARM_THRESHOLD,
        api_routes=c.API_ROUTES,
        throttling=c.THROTTLING,
        backtest_queue=c.BACKTEST_QUEUE,
        backtest_dlq=c.BACKTEST_DLQ,
        lambdas=c.LAMBDAS,
        lambda_runtime=c.LAMBDA_RUNTIME,
        powertools_version=c.POWERTOOLS_VERSION,
        backtest=c.BACKTEST,
        operations=c.OPERATIONS,
        deployments=c.DEPLOYMENTS,
        secrets=c.SECRETS,
    )
    check_bucket_names(config, suffix_field)  # a bad suffix names the context key it came from
    validate(config)
    return config


def bucket_suffix_for(env: str, context: BucketSuffixContext) -> tuple[str | None, str]:
    """``env``'s suffix from the `bucket_suffix` context, and the name a ConfigError should give it."""
    if context is None or isinstance(context, str):
        return context, BUCKET_SUFFIX_CONTEXT
    if isinstance(context, Mapping):
        for key in context:
            if key not in c.ENVIRONMENTS:
                raise ConfigError(
                    f"{BUCKET_SUFFIX_CONTEXT} key",
                    key,
                    f"an environment ({', '.join(c.ENVIRONMENTS)}) mapped to its suffix",
                )
        return context.get(env), f"{BUCKET_SUFFIX_CONTEXT}.{env}"
    raise ConfigError(
        BUCKET_SUFFIX_CONTEXT,
        context,
        'a suffix string (-c bucket_suffix=acme-1) or, in cdk.json, a mapping such as {"prod": "acme-1"}',
    )
