"""Every handler family traces AWS SDK and plain HTTP calls, and patches nothing else at cold start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_xray_sdk.core.patcher import SUPPORTED_MODULES

from shared.tracing import PATCHED_MODULES

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"
FAMILIES = ("backtest", "deployments", "ml_lifecycle", "nat_routes", "operations")


def test_patched_modules_are_ones_the_xray_sdk_can_patch():
    assert set(PATCHED_MODULES) == {"botocore", "httplib"}
    assert set(PATCHED_MODULES) <= set(SUPPORTED_MODULES)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_tracer_patches_only_the_shared_modules(family):
    """In a fresh interpreter, as a cold start (Powertools keeps one tracer configuration per process)."""
    probe = f"import {family}.observability as o; print(','.join(o.tracer._config['patch_modules']))"
    env = {**os.environ, "PYTHONPATH": str(LAMBDA_SRC), "POWERTOOLS_TRACE_DISABLED": "true"}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert tuple(result.stdout.strip().split(",")) == PATCHED_MODULES
