"""Assemble and validate the configuration of one environment."""

from __future__ import annotations

import dataclasses
from typing import Optional

from . import canonical as c
from .model import Naming, TradaiConfig
from .validation import ConfigError, validate


def config_for(env: str, image_tag: Optional[str] = None) -> TradaiConfig:
    """Return the validated configuration of ``env`` (dev, staging or prod); ``image_tag`` is the `image_tag`
    context of the synth, the tag every service and task image is deployed at (``require_image_tag`` checks it)."""
    if env not in c.ENVIRONMENTS:
        raise ConfigError("environment", env, f"one of {', '.join(c.ENVIRONMENTS)}")
    config = TradaiConfig(
        env=env,
        spec_version=c.SPEC_VERSION,
        naming=Naming(c.PROJECT, env),
        tags=c.COMMON_TAGS + (("Environment", env),),
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
    validate(config)
    return config
