"""Call a deployed Lambda's handler in this process, as the Lambda runtime would."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..smoke.model import CheckContext, Resource, StackView


class DrillFailure(Exception):
    """The handler ran but the emulator state is not what it should have produced."""


@dataclass
class LambdaContext:
    """The attributes of the runtime's context object that handlers read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


# One handler at a time: invocations swap os.environ, sys.path and sys.stdout, which are process-wide
# (moto's Step Functions interpreter calls handlers from its own thread).
_ONE_AT_A_TIME = threading.RLock()


@dataclass(frozen=True)
class Invocation:
    result: Any
    log: str


def invoke_in_process(
    ctx: CheckContext, view: StackView, fn: Resource, event: dict, env_overrides: dict[str, str] | None = None
) -> Invocation:
    """Import the handler from the function's code asset and call it with ``event``.

    ``env_overrides`` replace deployed variables that point at what the emulator cannot run (a container).
    """
    conf = ctx.client("lambda").get_function_configuration(FunctionName=fn.physical_id)
    asset = view.artifact.resources[fn.logical_id].get("Metadata", {}).get("aws:asset:path")
    if not asset:
        raise DrillFailure(f"{fn.logical_id} has no aws:asset:path metadata: cannot find its code")
    code_dir = (view.artifact.directory / asset).resolve()
    module_name, attribute = conf["Handler"].rsplit(".", 1)
    env = {
        **conf.get("Environment", {}).get("Variables", {}),
        **ctx.aws_env,
        "AWS_LAMBDA_FUNCTION_NAME": fn.physical_id,
        **(env_overrides or {}),
    }
    context = LambdaContext(fn.physical_id, conf["MemorySize"], conf["Timeout"], conf["FunctionArn"])
    log = io.StringIO()
    with _ONE_AT_A_TIME, _environ(env), _code_on_path(code_dir), contextlib.redirect_stdout(log):
        handler = getattr(importlib.import_module(module_name), attribute)
        result = handler(event, context)
    return Invocation(result, log.getvalue())


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _code_on_path(code_dir: Path) -> Iterator[None]:
    """Put the asset first on sys.path; its top-level modules are imported fresh and dropped after."""
    packages = {p.stem for p in code_dir.iterdir() if p.is_dir() or p.suffix == ".py"}

    def drop() -> None:
        for name in [m for m in sys.modules if m.split(".")[0] in packages]:
            del sys.modules[name]

    drop()
    sys.path.insert(0, str(code_dir))
    try:
        yield
    finally:
        sys.path.remove(str(code_dir))
        drop()
