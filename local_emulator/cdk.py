"""Run the project's real CDK CLI against the emulator."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from . import ACCOUNT, PROJECT_ROOT, REGION

CDK = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
CLI_ENV = {
    "CDK_DEFAULT_ACCOUNT": ACCOUNT,
    "CDK_DEFAULT_REGION": REGION,
    # moto reads the bucket and key of a template URL from this host form; the name
    # is only parsed by moto, the CLI's requests all go to AWS_ENDPOINT_URL.
    "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION": f"https://s3.{REGION}.amazonaws.com",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    # Node 20 works but jsii and the AWS SDK would warn on every call.
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
}


def run_cdk(*args: str) -> int:
    """Run ``cdk ARGS`` in the project root, output streamed; its process group never outlives it."""
    proc = subprocess.Popen([str(CDK), *args], cwd=PROJECT_ROOT, env={**os.environ, **CLI_ENV}, start_new_session=True)
    try:
        return proc.wait()
    finally:
        _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM what is left of the CLI's process group, then SIGKILL any survivor after 5 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
