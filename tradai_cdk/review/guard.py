"""The stateful-change guard: a change that would replace or delete a stateful resource fails review.

An intended replacement passes only when ``review/allowed-replacements.json`` (committed, so the override is in
the pull request's diff and gets reviewed) names its stage, stack and logical id with a reason. Overrides that
match nothing are reported as stale so they get removed.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .assemblies import ROOT, WORKING_TREE
from .changes import MAY_BE_REPLACED, REMOVED, REPLACED, ResourceChange

OVERRIDES = Path("review") / "allowed-replacements.json"
# Each stateful type with what its replacement or deletion loses (docs/decisions.md, issue 16).
STATEFUL = {
    "AWS::DynamoDB::Table": "its items",
    "AWS::S3::Bucket": "its objects",
    "AWS::RDS::DBInstance": "the database",
    "AWS::RDS::DBSubnetGroup": "the database's placement: the DB instance is replaced with it",
    "AWS::Cognito::UserPool": "every user, password and MFA device",
    "AWS::SecretsManager::Secret": "the secret's value (operator-set keys, generated credentials)",
    "AWS::EC2::VPC": "the network: everything in it is replaced",
    "AWS::EC2::Subnet": "the subnet: every instance, task and ENI in it is replaced",
    "AWS::EC2::EIP": "the egress address exchanges allowlist",
    "AWS::KMS::Key": "what it encrypted (log groups, the database) becomes unreadable after the deletion window",
    "AWS::ECR::Repository": "the images the tasks run",
    "AWS::Logs::LogGroup": "its logs (audit trail, flow logs, function and API logs)",
    "AWS::SQS::Queue": "queued backtest requests and the DLQ's failed messages",
}
LOSSY = (REPLACED, MAY_BE_REPLACED, REMOVED)


@dataclass(frozen=True)
class Override:
    """One reviewed, intended replacement or deletion."""

    stage: str
    stack: str
    logical_id: str
    reason: str

    @property
    def where(self) -> str:
        return f"{self.stage}/{self.stack}/{self.logical_id}"


@dataclass
class Verdict:
    """Blocked changes fail the guard, allowed ones pass by an override; stale overrides are reported."""

    blocked: list[ResourceChange] = field(default_factory=list)
    allowed: list[tuple[ResourceChange, Override]] = field(default_factory=list)
    stale: list[Override] = field(default_factory=list)


def parse_overrides(text: str) -> list[Override]:
    """Overrides from the file's JSON: ``{"allowed": [{"stage", "stack", "logical_id", "reason"}, ...]}``."""
    entries = json.loads(text).get("allowed", [])
    keys = {"stage", "stack", "logical_id", "reason"}
    overrides = []
    for entry in entries:
        if set(entry) != keys or not all(isinstance(entry[k], str) and entry[k].strip() for k in keys):
            raise ValueError(f"{OVERRIDES}: each entry needs exactly {sorted(keys)}, non-empty: {entry}")
        overrides.append(Override(**entry))
    return overrides


def overrides_at(revision: str) -> list[Override]:
    """The overrides committed at git ``revision`` (or in the working tree); none when the file is absent."""
    if revision == WORKING_TREE:
        path = ROOT / OVERRIDES
        return parse_overrides(path.read_text()) if path.exists() else []
    shown = subprocess.run(
        ["git", "show", f"{revision}:{OVERRIDES.as_posix()}"], cwd=ROOT, capture_output=True, text=True
    )
    return parse_overrides(shown.stdout) if shown.returncode == 0 else []


def judge(changes: list[ResourceChange], overrides: list[Override]) -> Verdict:
    """Sort every replacement or deletion of a stateful resource into blocked or allowed."""
    by_place = {(o.stage, o.stack, o.logical_id): o for o in overrides}
    verdict, used = Verdict(), set()
    for change in changes:
        if change.action in LOSSY and change.type in STATEFUL:
            override = by_place.get((change.stage, change.stack, change.logical_id))
            if override:
                verdict.allowed.append((change, override))
                used.add(override)
            else:
                verdict.blocked.append(change)
    verdict.stale = [o for o in overrides if o not in used]
    return verdict


def consequence(change: ResourceChange) -> str:
    """What happens to the existing resource, by its removal policy (prod retains, dev/staging delete)."""
    removed = change.action == REMOVED
    policy = (
        (change.old or {}).get("DeletionPolicy") if removed else (change.new or {}).get("UpdateReplacePolicy")
    ) or "Delete"
    if policy.startswith("Retain"):
        outcome = "the old one is kept, orphaned outside the stack; " + (
            "a resource created later under its name collides with it"
            if removed
            else "a new, empty one is created, which fails while it has a fixed name the old one holds"
        )
    elif policy == "Snapshot":
        outcome = "the old one is deleted after a final snapshot" + ("" if removed else "; the new one starts empty")
    else:
        outcome = "the old one is deleted with its data" + ("" if removed else "; the new one starts empty")
    when = "if replaced: " if change.action == MAY_BE_REPLACED else ""
    return (
        f"{when}{'DeletionPolicy' if removed else 'UpdateReplacePolicy'} {policy}: {outcome}. Loses "
        f"{STATEFUL.get(change.type, 'its state')}"
    )


def report(verdict: Verdict) -> str:
    """The guard's result as text for a terminal or a job log."""
    lines = []
    if verdict.blocked:
        lines.append(f"FAIL: {len(verdict.blocked)} stateful resource(s) would be replaced or deleted")
        lines += _listing(verdict.blocked)
        lines.append(f"If intended, add each to {OVERRIDES} with a reason (reviewed in the pull request).")
    else:
        lines.append("OK: no stateful resource is replaced or deleted")
    if verdict.allowed:
        lines.append(f"Allowed by {OVERRIDES}:")
        lines += _listing([c for c, _ in verdict.allowed], [o.reason for _, o in verdict.allowed])
    if verdict.stale:
        lines.append(
            f"Stale overrides in {OVERRIDES} (they match no replacement or deletion of a stateful "
            "resource; remove them):"
        )
        lines += [f"  {o.where}: {o.reason}" for o in verdict.stale]
    return "\n".join(lines)


def _listing(changes: list[ResourceChange], reasons: list[str] | None = None) -> list[str]:
    lines = []
    for i, change in enumerate(changes):
        lines.append(
            f"  {change.stage}  {change.stack} ({change.stack_name})  {change.logical_id}  {change.type}  "
            f"{change.action}"
        )
        lines += [f"      {cause}" for cause in change.causes]
        lines.append(f"      {consequence(change)}")
        if reasons:
            lines.append(f"      override reason: {reasons[i]}")
    return lines
