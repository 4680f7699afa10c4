"""Classify every template resource of a stack and print the report.

VERIFIED  the emulator kept it and every property checked matches the config
CREATED   it exists, but something could not be verified (named in the detail)
IGNORED BY EMULATOR  moto's CloudFormation does not implement the type, or the resource
          needs an attribute or output of such a type
FAILED    a checked property differs from the config (expected vs actual)
MISSING   not created (with moto's error when it raised one), or expected by the config but absent
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .smoke.model import Finding

STACK_ROW = "(stack)"


class Status(str, Enum):
    VERIFIED = "VERIFIED"
    CREATED = "CREATED"
    IGNORED = "IGNORED BY EMULATOR"
    FAILED = "FAILED"
    MISSING = "MISSING"


BAD = (Status.FAILED, Status.MISSING)
NOTHING_TO_CHECK = {  # types deliberately without a checker, and why
    "AWS::CloudFormation::WaitConditionHandle": "ProducerOutputs handle: no property to compare",
}


@dataclass(frozen=True)
class Row:
    logical_id: str
    resource_type: str
    status: Status
    detail: str


def classify(
    resources: Mapping[str, str],
    deployed: Iterable[str],
    supported: Callable[[str], bool],
    findings: Iterable[Finding],
    faults: Mapping[str, str],
    blocked: Mapping[str, str],
) -> list[Row]:
    """One row per template resource (logical id -> type), then one per stack-level finding."""
    deployed = set(deployed)
    by_id: dict[str, list[Finding]] = {}
    stack_level: list[Finding] = []
    for finding in findings:
        if finding.logical_id is not None and finding.logical_id in resources:
            by_id.setdefault(finding.logical_id, []).append(finding)
        else:
            stack_level.append(finding)
    rows = [
        _resource_row(
            lid, rtype, lid in deployed, supported(rtype), by_id.get(lid, []), faults.get(lid), blocked.get(lid)
        )
        for lid, rtype in resources.items()
    ]
    kinds = {"ok": Status.VERIFIED, "fail": Status.FAILED, "missing": Status.MISSING, "not_kept": Status.CREATED}
    rows += [Row(f.logical_id or STACK_ROW, "expectation", kinds[f.kind], f.text) for f in stack_level]
    return rows


def _resource_row(
    lid: str,
    rtype: str,
    deployed: bool,
    supported: bool,
    findings: list[Finding],
    fault: str | None,
    blocked: str | None,
) -> Row:
    texts = {kind: [f.text for f in findings if f.kind == kind] for kind in ("ok", "fail", "not_kept")}
    if fault:
        return Row(lid, rtype, Status.MISSING, f"emulator error: {fault}")
    if not supported:
        return Row(lid, rtype, Status.IGNORED, "type not implemented by moto's CloudFormation")
    if blocked:
        return Row(lid, rtype, Status.IGNORED, f"not created: {blocked}")
    if not deployed:
        return Row(lid, rtype, Status.MISSING, "not in the emulator's stack resources")
    if texts["fail"]:
        return Row(lid, rtype, Status.FAILED, "; ".join(texts["fail"]))
    if texts["not_kept"]:
        verified = f"; verified: {', '.join(texts['ok'])}" if texts["ok"] else ""
        return Row(lid, rtype, Status.CREATED, f"not kept by emulator: {', '.join(texts['not_kept'])}{verified}")
    if texts["ok"]:
        return Row(lid, rtype, Status.VERIFIED, ", ".join(texts["ok"]))
    return Row(lid, rtype, Status.CREATED, f"exists; {NOTHING_TO_CHECK.get(rtype, 'no property check for this type')}")


def render(stacks: Mapping[str, list[Row]], notes: Mapping[str, list[str]]) -> str:
    """The report text: per stack its rows, then the totals."""
    lines = []
    for stack, rows in stacks.items():
        lines.append(f"\n== {stack} ==")
        lines += [f"   {note}" for note in notes.get(stack, [])]
        for row in rows:
            lines.append(f"   {row.status.value:<19}  {row.logical_id}  [{row.resource_type}]")
            lines.append(f"   {'':<19}  {row.detail}")
    totals = Counter(r.status for rows in stacks.values() for r in rows)
    lines.append("\nResources: " + ", ".join(f"{totals[s]} {s.value}" for s in Status))
    bad = [(stack, r) for stack, rows in stacks.items() for r in rows if r.status in BAD]
    lines += [f"   {r.status.value}: {stack} / {r.logical_id} [{r.resource_type}]: {r.detail}" for stack, r in bad]
    return "\n".join(lines)


SUMMARY_COLUMNS = (Status.VERIFIED, Status.CREATED, Status.IGNORED, Status.FAILED, Status.MISSING)


def summary(stacks: Mapping[str, list[Row]], drills: Iterable[Any]) -> str:
    """One screen at the end: per stack its count per status and the share verified, then the drills."""
    header = f"   {'stack':<48}" + "".join(f"{s.value.split()[0]:>10}" for s in SUMMARY_COLUMNS) + f"{'verified':>10}"
    lines = ["\n== summary ==", header]
    lines += [_summary_line(stack, rows) for stack, rows in stacks.items()]
    lines.append(_summary_line("all stacks", [r for rows in stacks.values() for r in rows]))
    drills = list(drills)
    lines.append(f"   drills: {sum(d.status == 'PASSED' for d in drills)}/{len(drills)} PASSED")
    lines += [f"   drill {d.status}: {d.name}" for d in drills if d.status != "PASSED"]
    return "\n".join(lines)


def _summary_line(label: str, rows: list[Row]) -> str:
    counts = Counter(r.status for r in rows)
    share = f"{100 * counts[Status.VERIFIED] / len(rows):.0f} %" if rows else "-"
    return f"   {label:<48}" + "".join(f"{counts[s]:>10}" for s in SUMMARY_COLUMNS) + f"{share:>10}"


def has_failures(stacks: Mapping[str, list[Row]]) -> bool:
    return any(r.status in BAD for rows in stacks.values() for r in rows)
