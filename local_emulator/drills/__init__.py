"""Handler drills: run a deployed function's handler in-process against the emulator.

moto cannot run Lambda code without Docker, so a drill imports the handler
from the function's synthesized code asset, with the deployed function's
Handler and Environment plus the emulator endpoint, and checks what it did.
``DRILLS`` maps a config Lambda name (``cfg.lambdas``) to its drill; a drill
is ``drill(ctx, invoke) -> detail``, where ``invoke(event)`` runs the handler,
and raises (e.g. ``invoke.DrillFailure``) when the emulator state is wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..smoke.model import CheckContext
from . import backtest, deployments, ml, nat_routes, operations
from .invoke import invoke_in_process

Drill = Callable[[CheckContext, Callable[[dict], Any]], str]

DRILLS: dict[str, Drill] = {
    "update-nat-routes": nat_routes.failover_then_audit,
    "sqs-consumer": backtest.follow,
    "health-check": operations.health_check,
    "orphan-scanner": operations.orphan_scan,
    "trading-heartbeat-check": operations.heartbeat_check,
    "infra-drift-detector": operations.infra_drift,
    "drift-monitor": ml.drift_monitor,
    "retraining-scheduler": ml.retraining_scheduler,
    "model-rollback": ml.model_rollback,
    "strategy-deployer": deployments.stage_and_promote,
}


@dataclass(frozen=True)
class DrillResult:
    name: str
    status: str
    detail: str
    seconds: float = 0.0

    def line(self) -> str:
        """The report line: status, function name, wall seconds and detail."""
        return f"   {self.status:<8} {self.name} ({self.seconds:.1f} s): {self.detail}"


def run_drills(ctx: CheckContext, keys: Iterable[str] = tuple(DRILLS)) -> list[DrillResult]:
    """Run each drill of ``keys`` whose function is deployed; a drill without its function is SKIPPED."""
    results = []
    for key in keys:
        drill = DRILLS[key]
        name = ctx.cfg.function_name(key)
        found = [
            (view, fn)
            for view in ctx.views.values()
            for fn in view.of_type("AWS::Lambda::Function")
            if fn.physical_id == name
        ]
        if not found:
            results.append(DrillResult(name, "SKIPPED", "function not deployed"))
            continue
        view, fn = found[0]
        started = time.monotonic()
        try:
            status, detail = "PASSED", drill(ctx, partial(invoke_in_process, ctx, view, fn))
        except Exception as exc:  # noqa: BLE001 - every drill error is a reported failure
            status, detail = "FAILED", f"{type(exc).__name__}: {exc}"
        results.append(DrillResult(name, status, detail, time.monotonic() - started))
    return results
