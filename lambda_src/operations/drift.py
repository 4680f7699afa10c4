"""Pure decisions of the infrastructure drift detector (no AWS calls).

A detection's outcome is DRIFTED (MODIFIED or DELETED resources other than the runtime-managed ones),
IN_SYNC, or UNKNOWN (the stack does not exist, detection failed or did not finish). An UNKNOWN record keeps
the last known drift of the stack, so a failed run neither hides drift nor makes old drift look new.
New drift (a drifted (logical id, status) pair the previous record did not have) is alerted; a return to
IN_SYNC from known drift is a notice, not an alert. Less or the same drift is not notified again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.clock import iso
from shared.notify import Notice

from . import contract
from .outbox import Decision, pending

IN_PROGRESS, COMPLETE, FAILED = "DETECTION_IN_PROGRESS", "DETECTION_COMPLETE", "DETECTION_FAILED"
MAX_LISTED = 20  # resources listed in a notice


@dataclass(frozen=True)
class DriftedResource:
    logical_id: str
    resource_type: str
    status: str  # MODIFIED | DELETED
    differences: tuple[str, ...] = ()  # property paths, e.g. /Tags/0/Value

    @classmethod
    def from_api(cls, drift: dict[str, Any]) -> DriftedResource:
        """From one StackResourceDrifts entry of DescribeStackResourceDrifts."""
        return cls(
            drift["LogicalResourceId"],
            drift.get("ResourceType", ""),
            drift["StackResourceDriftStatus"],
            tuple(d["PropertyPath"] for d in drift.get("PropertyDifferences") or [] if "PropertyPath" in d),
        )

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> DriftedResource:
        return cls(
            item["logical_id"], item.get("resource_type", ""), item["status"], tuple(item.get("differences") or ())
        )

    def as_item(self) -> dict[str, Any]:
        return {
            "logical_id": self.logical_id,
            "resource_type": self.resource_type,
            "status": self.status,
            "differences": list(self.differences),
        }

    def describe(self) -> str:
        paths = f": {', '.join(self.differences)}" if self.differences else ""
        return f"{self.logical_id} ({self.resource_type}) {self.status}{paths}"


@dataclass(frozen=True)
class Outcome:
    drift_status: str  # contract.DRIFTED | IN_SYNC | DRIFT_UNKNOWN
    detection_id: str | None = None
    drifted: tuple[DriftedResource, ...] = ()
    ignored: tuple[DriftedResource, ...] = ()
    error: str | None = None


def unknown(error: str, detection_id: str | None = None) -> Outcome:
    return Outcome(contract.DRIFT_UNKNOWN, detection_id, error=error)


def finished(status: dict[str, Any]) -> bool:
    """Whether a DescribeStackDriftDetectionStatus response is final."""
    return status.get("DetectionStatus") != IN_PROGRESS


def outcome(
    stack: str, status: dict[str, Any], drifts: Iterable[dict[str, Any]], runtime_managed: frozenset[tuple[str, str]]
) -> Outcome:
    """The outcome of a finished detection: its status response and the stack's MODIFIED/DELETED resources."""
    detection_id, stack_status = status.get("StackDriftDetectionId"), status.get("StackDriftStatus")
    if status.get("DetectionStatus") != COMPLETE:
        reason = status.get("DetectionStatusReason") or "no reason given"
        return unknown(f"drift detection {status.get('DetectionStatus')}: {reason}", detection_id)
    if stack_status not in (contract.DRIFTED, contract.IN_SYNC):
        return unknown(f"CloudFormation reported stack drift status {stack_status}", detection_id)
    resources = [DriftedResource.from_api(d) for d in drifts] if stack_status == contract.DRIFTED else []
    ignored = tuple(r for r in resources if (stack, r.logical_id) in runtime_managed)
    drifted = tuple(r for r in resources if (stack, r.logical_id) not in runtime_managed)
    return Outcome(contract.DRIFTED if drifted else contract.IN_SYNC, detection_id, drifted, ignored)


def fingerprint(resources: Iterable[DriftedResource]) -> str:
    """A stable hash of the sorted (logical id, status) pairs."""
    pairs = sorted({(r.logical_id, r.status) for r in resources})
    return hashlib.sha256(json.dumps(pairs, separators=(",", ":")).encode()).hexdigest()[:16]


def decide(stack: str, result: Outcome, previous: dict[str, Any] | None, now: datetime, source: str) -> Decision:
    """The stack's new tradai-infra-drift-state item and the notice it causes, if any."""
    prior = previous or {}
    known = tuple(DriftedResource.from_item(r) for r in prior.get("drifted_resources") or [])
    item: dict[str, Any] = {
        "stack_name": stack,
        "last_check": iso(now),
        "drift_status": result.drift_status,
        "detection_id": result.detection_id,
    }
    if result.drift_status == contract.DRIFT_UNKNOWN:  # keep the last known drift
        item.update(
            has_drift=prior.get("has_drift", "false"),
            drifted_resources=[r.as_item() for r in known],
            ignored_resources=prior.get("ignored_resources") or [],
            error=result.error,
        )
        return Decision(item)
    item.update(
        has_drift="true" if result.drift_status == contract.DRIFTED else "false",
        drifted_resources=[r.as_item() for r in result.drifted],
        ignored_resources=[r.as_item() for r in result.ignored],
    )
    incident = prior.get("last_check") or "first"
    known_pairs = {(k.logical_id, k.status) for k in known}
    new = [r for r in result.drifted if (r.logical_id, r.status) not in known_pairs]
    if new:
        notice = _drift_notice(stack, result, new, f"drift#{stack}#{fingerprint(result.drifted)}#{incident}", source)
    elif result.drift_status == contract.IN_SYNC and known:
        notice = _in_sync_notice(stack, known, f"drift#{stack}#{contract.IN_SYNC}#{incident}", source)
    else:
        return Decision(item)
    return Decision({**item, contract.ATTR_PENDING_NOTICE: pending(notice)}, notice)


def _drift_notice(stack: str, result: Outcome, new: list[DriftedResource], notification_id: str, source: str) -> Notice:
    lines = [
        f"CloudFormation stack {stack} has drifted: {len(new)} new, {len(result.drifted)} drifted in all "
        f"(detection {result.detection_id}).",
        "New:",
        *_listed(new),
    ]
    if len(result.drifted) > len(new):
        lines += ["Drifted before:", *_listed([r for r in result.drifted if r not in new])]
    if result.ignored:
        lines.append(f"Ignored (runtime-managed): {', '.join(r.logical_id for r in result.ignored)}")
    return Notice(
        notification_id,
        source,
        f"TradAI drift in {stack}: {len(new)} new drifted resource(s)",
        "\n".join(lines),
        alert=True,
        attributes={
            "kind": "infra-drift",
            "stack_name": stack,
            "drift_status": contract.DRIFTED,
            "detection_id": result.detection_id,
        },
    )


def _in_sync_notice(stack: str, known: tuple[DriftedResource, ...], notification_id: str, source: str) -> Notice:
    message = f"CloudFormation stack {stack} is in sync again. Drifted before:\n" + "\n".join(_listed(list(known)))
    return Notice(
        notification_id,
        source,
        f"TradAI {stack} back in sync",
        message,
        alert=False,
        attributes={"kind": "infra-drift", "stack_name": stack, "drift_status": contract.IN_SYNC},
    )


def _listed(resources: list[DriftedResource]) -> list[str]:
    lines = [f"- {r.describe()}" for r in resources[:MAX_LISTED]]
    return lines + ([f"- ... and {len(resources) - MAX_LISTED} more"] if len(resources) > MAX_LISTED else [])
