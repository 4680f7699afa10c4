"""Builds the CDK app: one stage per environment, cdk-nag and the Control Tower cfn-guard rules on all of them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from . import cloudformation_validate, result_cache
from .cloudformation_validate import CachedCloudFormationValidate
from .config import ENVIRONMENTS, config_for, require_image_tag, selected_environments
from .control_tower import RESULTS_DIR as GUARD_RESULTS, ControlTowerGuard
from .stages import TradaiStage

# Synth must work offline: without CDK_DEFAULT_ACCOUNT or `-c account=...`
# the stages target this offline default account (also the local emulator's).
OFFLINE_ACCOUNT = "123456789012"


def stage_id(env: str) -> str:
    """Construct id of an environment's stage, e.g. ``TradaiProd``."""
    return f"Tradai{env.capitalize()}"


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None, validations: bool = True) -> cdk.App:
    """Create the app with every stage (or those the `stages` context names); ``context`` and ``outdir`` serve
    tests, ``validations=False`` (no validation at all) serves the benchmark that measures its share of synth time.
    CDK's built-in CloudFormation validation is registered by ``add_validations`` (with its results reused)."""
    app = cdk.App(
        context=dict(context or {}), outdir=outdir, analytics_reporting=False, builtin_cloud_formation_validation=False
    )
    account = app.node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT") or OFFLINE_ACCOUNT
    image_tag = require_image_tag(app.node.try_get_context("image_tag"))
    bucket_suffix = app.node.try_get_context("bucket_suffix")  # S3 names are global: see tradai_cdk/preflight.py
    for env in selected_environments(app.node.try_get_context("stages"), ENVIRONMENTS):
        config = config_for(env, image_tag=image_tag, bucket_suffix=bucket_suffix)
        TradaiStage(
            app, stage_id(env), config=config, env=cdk.Environment(account=account, region=config.network.region)
        )
    if validations:
        add_validations(app)
    return app


def add_validations(app: cdk.App) -> None:
    """cdk-nag's AwsSolutions and Serverless checks, the 237 bundled AWS Control Tower proactive controls (cfn-guard
    3.1.1, offline) and CDK's built-in CloudFormation validation (unless CDK_VALIDATION=false): synth fails on an
    unacknowledged finding (acknowledgements: nag.py; cfn-guard's ids are "cdk-validator-cfnguard::<guard rule name>").
    The last two reuse each template's result while it is unchanged (unless VALIDATION_RESULT_CACHE=0)."""
    reuse = result_cache.enabled()
    guard = ControlTowerGuard(results_dir=GUARD_RESULTS if reuse else None)
    if cloudformation_validate.enabled():
        # Registered first: CDK calls plugins in order, and this one starts cfn-guard's processes in the background
        # so that they run while it and cdk-nag run in node.
        results = cloudformation_validate.RESULTS_DIR if reuse else None
        cdk.Validations.of(app).add_plugins(CachedCloudFormationValidate(results_dir=results, before=guard.start))
    # ControlTowerGuard implements the deprecated Beta1 plugin interface (that of the cfn-guard plugin it replaces);
    # add_plugins takes it at runtime, but is typed with the non-beta one, whose validate() types differ.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app), guard)  # type: ignore[arg-type]
