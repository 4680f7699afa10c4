"""Builds the CDK app: one stage per environment, cdk-nag on all of them."""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from .config import ENVIRONMENTS, config_for, require_image_tag
from .stages import TradaiStage

# Synth must work offline: without CDK_DEFAULT_ACCOUNT or `-c account=...`
# the stages target this offline default account (also the local emulator's).
OFFLINE_ACCOUNT = "123456789012"


def stage_id(env: str) -> str:
    """Construct id of an environment's stage, e.g. ``TradaiProd``."""
    return f"Tradai{env.capitalize()}"


def build_app(context: Optional[Mapping[str, Any]] = None, outdir: Optional[str] = None) -> cdk.App:
    """Create the app with every stage; ``context`` and ``outdir`` serve tests."""
    app = cdk.App(context=dict(context or {}), outdir=outdir, analytics_reporting=False)
    account = app.node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT") or OFFLINE_ACCOUNT
    image_tag = require_image_tag(app.node.try_get_context("image_tag"))
    for env in ENVIRONMENTS:
        config = config_for(env, image_tag=image_tag)
        TradaiStage(app, stage_id(env), config=config,
                    env=cdk.Environment(account=account, region=config.network.region))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app
