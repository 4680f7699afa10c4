"""Lambda code and layers shared by every stack's functions (no bundling, no Docker)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_, aws_ssm as ssm
from constructs import Construct

LAMBDA_SOURCE = Path(__file__).resolve().parents[2] / "lambda_src"


def lambda_code() -> lambda_.Code:
    """All handler packages as one asset (plain folder); tool caches (dot folders) and bytecode never ship."""
    return lambda_.Code.from_asset(str(LAMBDA_SOURCE), exclude=["**/__pycache__", "**/*.pyc", "**/.*"])


def lambda_runtime(name: str) -> lambda_.Runtime:
    return lambda_.Runtime(name, lambda_.RuntimeFamily.PYTHON)


def powertools_layer(scope: Construct, version: str, runtime: str) -> lambda_.ILayerVersion:
    """AWS's public Powertools layer of ``version`` for arm64, resolved from its public SSM parameter at deploy."""
    parameter = f"/aws/service/powertools/python/arm64/{runtime}/{version}"
    return lambda_.LayerVersion.from_layer_version_arn(
        scope, "PowertoolsLayer", ssm.StringParameter.value_for_string_parameter(scope, parameter)
    )
