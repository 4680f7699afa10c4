"""Public AWS resources the templates read by SSM parameter, recreated in the empty emulator.

The route function takes AWS's public Powertools layer through the parameter
``/aws/service/powertools/python/<arch>/<runtime>/<version>``; moto has neither the
parameter nor the layer, so a layer of the same name is published in the emulator's account
(its content is never run: drills import the handlers in-process, with Powertools from
``.venv``) and the parameter points at it. moto refuses PutParameter under ``/aws/``, so the
parameter goes straight into the in-process SSM backend, as moto loads its own public ones.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

from moto.core.utils import utcnow
from moto.ssm.models import Parameter, ssm_backends

from . import ACCOUNT, REGION
from .assembly import StackArtifact

POWERTOOLS_PARAMETERS = "/aws/service/powertools/python/"


def seed(artifacts: list[StackArtifact], client: Callable[[str], Any]) -> list[str]:
    """Create every Powertools layer parameter the templates default to; return the parameter names."""
    names = sorted(
        {
            p["Default"]
            for a in artifacts
            for p in a.template.get("Parameters", {}).values()
            if str(p.get("Default", "")).startswith(POWERTOOLS_PARAMETERS)
        }
    )
    for name in names:
        arch, runtime, version = name.removeprefix(POWERTOOLS_PARAMETERS).split("/")
        layer = client("lambda").publish_layer_version(
            LayerName=f"AWSLambdaPowertoolsPythonV3-{runtime.replace('.', '')}-{arch}",
            Description=f"stand-in for the public Powertools {version} layer",
            Content={"ZipFile": _empty_zip()},
            CompatibleRuntimes=[runtime],
            CompatibleArchitectures=[arch],
        )
        # moto's Parameter leaves CloudFormationModel's has_cfn_attr/is_created abstract; moto builds it this way too.
        ssm_backends[ACCOUNT][REGION]._parameters[name].append(
            Parameter(  # type: ignore[abstract]
                account_id=ACCOUNT,
                name=name,
                value=layer["LayerVersionArn"],
                parameter_type="String",
                description=None,
                allowed_pattern=None,
                keyid=None,
                last_modified_date=utcnow(),
                version=1,
                data_type="text",
            )
        )
    return names


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/README", "Powertools stand-in for the local emulator\n")
    return buffer.getvalue()
