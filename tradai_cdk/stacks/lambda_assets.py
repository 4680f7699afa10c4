"""Lambda code and layers shared by every stack's functions (local bundling, no Docker)."""

from __future__ import annotations

import py_compile
import shutil
import sys
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_, aws_ssm as ssm
from constructs import Construct

LAMBDA_SOURCE = Path(__file__).resolve().parents[2] / "lambda_src"
NOT_SHIPPED = (".*", "__pycache__", "*.pyc")  # tool caches (dot folders) and whatever bytecode the tree holds
# Never pulled: the local bundler below always succeeds, and CDK only falls back to the image when it does not.
UNUSED_IMAGE = "public.ecr.aws/sam/build-python3.11"


def lambda_code(runtime: str) -> lambda_.Code:
    """All handler packages as one asset, compiled to bytecode for ``runtime`` (see CompiledHandlers); the asset
    hash comes from the sources."""
    return lambda_.Code.from_asset(
        str(LAMBDA_SOURCE),
        exclude=[f"**/{pattern}" for pattern in NOT_SHIPPED],
        asset_hash_type=cdk.AssetHashType.SOURCE,
        bundling=cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry(UNUSED_IMAGE),
            # jsii hands the options over as one positional struct, not as the keywords the typed protocol lists
            local=cast(cdk.ILocalBundling, CompiledHandlers(runtime)),
            output_type=cdk.BundlingOutput.NOT_ARCHIVED,
        ),
    )


@jsii.implements(cdk.ILocalBundling)
class CompiledHandlers:
    """Copies the handler packages and, when this interpreter is the functions' runtime, compiles them.

    Lambda's code directory is read-only, so a function compiles every module of ours at each cold start and keeps
    nothing; shipped bytecode spares that (~10-30 ms per cold start). The bytecode is hash-checked
    (``CHECKED_HASH``): it is used only while it matches its source, whatever the zip does to file times. Another
    interpreter's bytecode would be ignored by the runtime, so then the sources ship alone.
    """

    def __init__(self, runtime: str) -> None:
        self._runtime = runtime

    def try_bundle(self, output_dir: str, _options: Any) -> bool:
        shutil.copytree(LAMBDA_SOURCE, output_dir, ignore=shutil.ignore_patterns(*NOT_SHIPPED), dirs_exist_ok=True)
        if self._runtime == f"python{sys.version_info.major}.{sys.version_info.minor}":
            for source in Path(output_dir).rglob("*.py"):
                # Next to the source, where the runtime looks (not under a PYTHONPYCACHEPREFIX of this machine).
                cached = source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
                invalidation = py_compile.PycInvalidationMode.CHECKED_HASH
                py_compile.compile(str(source), cfile=str(cached), doraise=True, invalidation_mode=invalidation)
        return True


def lambda_runtime(name: str) -> lambda_.Runtime:
    return lambda_.Runtime(name, lambda_.RuntimeFamily.PYTHON)


def powertools_layer(scope: Construct, version: str, runtime: str) -> lambda_.ILayerVersion:
    """AWS's public Powertools layer of ``version`` for arm64, resolved from its public SSM parameter at deploy."""
    parameter = f"/aws/service/powertools/python/arm64/{runtime}/{version}"
    return lambda_.LayerVersion.from_layer_version_arn(
        scope, "PowertoolsLayer", ssm.StringParameter.value_for_string_parameter(scope, parameter)
    )
