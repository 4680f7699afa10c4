"""Builds the CDK app: one stage per environment, cdk-nag and the Control Tower cfn-guard rules on all of them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
import jsii
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

from .config import ENVIRONMENTS, config_for, require_image_tag
from .stages import TradaiStage

# Synth must work offline: without CDK_DEFAULT_ACCOUNT or `-c account=...`
# the stages target this offline default account (also the local emulator's).
OFFLINE_ACCOUNT = "123456789012"


def stage_id(env: str) -> str:
    """Construct id of an environment's stage, e.g. ``TradaiProd``."""
    return f"Tradai{env.capitalize()}"


@jsii.implements(cdk.IPolicyValidationPluginBeta1)
class _ControlTowerGuard:
    """cfn-guard's Control Tower rules, reporting every violation with severity "error".

    CfnGuardValidator leaves ``severity`` unset. Once one of its findings is acknowledged, CDK recomputes the
    report's success from the remaining violations' severities, so unset ones would no longer fail synth.
    The name (and so the acknowledgement prefix ``cdk-validator-cfnguard::``) is the plugin's own.
    A violation whose resource has no logical id (CT.KMS.PR.3 adds one) cannot cross jsii into Python: the
    plugin then fails, and synth with it, so such a rule must pass or be disabled, never acknowledged.
    """

    def __init__(self) -> None:
        self._guard = CfnGuardValidator(
            control_tower_rules_enabled=True,
            max_buffer=64 * 1024 * 1024,  # guard's JSON for one stage is ~1.7 MB today; the default is 1 MB
        )

    @property
    def name(self) -> str:
        return self._guard.name

    @property
    def version(self) -> str | None:
        return self._guard.version

    @property
    def rule_ids(self) -> list[str] | None:
        return self._guard.rule_ids

    def validate(self, context: cdk.IPolicyValidationContextBeta1) -> cdk.PolicyValidationPluginReportBeta1:
        report = self._guard.validate(context)
        return cdk.PolicyValidationPluginReportBeta1(
            success=report.success,
            metadata=report.metadata,
            plugin_version=report.plugin_version,
            violations=[
                cdk.PolicyViolationBeta1(
                    rule_name=v.rule_name,
                    description=v.description,
                    violating_resources=v.violating_resources,
                    fix=v.fix,
                    rule_metadata=v.rule_metadata,
                    severity=v.severity or "error",
                )
                for v in report.violations
            ],
        )


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None, validations: bool = True) -> cdk.App:
    """Create the app with every stage; ``context`` and ``outdir`` serve tests, ``validations=False`` (no policy
    plugins) serves the benchmark that measures their share of synth time (bench/)."""
    app = cdk.App(context=dict(context or {}), outdir=outdir, analytics_reporting=False)
    account = app.node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT") or OFFLINE_ACCOUNT
    image_tag = require_image_tag(app.node.try_get_context("image_tag"))
    bucket_suffix = app.node.try_get_context("bucket_suffix")  # S3 names are global: see tradai_cdk/preflight.py
    for env in ENVIRONMENTS:
        config = config_for(env, image_tag=image_tag, bucket_suffix=bucket_suffix)
        TradaiStage(
            app, stage_id(env), config=config, env=cdk.Environment(account=account, region=config.network.region)
        )
    # The 237 bundled AWS Control Tower proactive controls (cfn-guard 3.1.1, offline); findings are
    # acknowledged like cdk-nag's, with ids "cdk-validator-cfnguard::<guard rule name>" (see nag.py).
    if validations:
        # _ControlTowerGuard implements the deprecated Beta1 plugin interface (that of the cfn-guard plugin it wraps);
        # add_plugins takes it at runtime, but is typed with the non-beta one, whose validate() types differ.
        checks = cdk.Validations.of(app)
        checks.add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app), _ControlTowerGuard())  # type: ignore[arg-type]
    return app
