"""Smoke checks: per-tier checkers compare deployed resources with ``config_for("dev")``.

A checker is ``check(view, ctx, findings)``. ``TIER_CHECKERS`` maps a stack's
construct id to its checkers; ``COMMON_CHECKERS`` run on every stack. A tier
adds its module here.
"""

from __future__ import annotations

from collections.abc import Callable

from . import alarms, compute, edge, foundation, iam, kms, lambdas, persistent, policies, services, triggers, wiring
from .model import CheckContext, Findings, StackView

Checker = Callable[[StackView, CheckContext, Findings], None]

TIER_CHECKERS: dict[str, tuple[Checker, ...]] = {
    "Foundation": (foundation.check,),
    "Persistent": (persistent.check,),
    "Compute": (compute.check, services.check, services.check_capacity),
    "Edge": (edge.check,),
}
COMMON_CHECKERS: tuple[Checker, ...] = (
    lambdas.check,
    alarms.check,
    iam.check,
    kms.check,
    policies.check,
    triggers.check,
    wiring.check,
)


def check_stack(view: StackView, ctx: CheckContext) -> Findings:
    """Run the common and tier checkers of one stack; a crashing checker is a failure."""
    findings = Findings()
    for checker in COMMON_CHECKERS + TIER_CHECKERS.get(view.construct_id, ()):
        try:
            checker(view, ctx, findings)
        except Exception as exc:  # noqa: BLE001 - reported as FAILED, never hidden
            findings.fail(None, f"checker {checker.__module__}", "to finish", f"{type(exc).__name__}: {exc}")
    return findings
