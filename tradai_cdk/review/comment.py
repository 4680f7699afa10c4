"""The pull request's review comment, in markdown: the guard's verdict, then per stage the resources replaced
or deleted, IAM changes, security-group changes and everything else, then extra sections (cost, ``cdk diff``).

The first line is a hidden marker by which the workflow finds the comment to update in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .changes import ADDED, COMPARED, MAY_BE_REPLACED, REMOVED, REPLACED, ResourceChange, show
from .guard import OVERRIDES, STATEFUL, Verdict, consequence

MARKER = "<!-- tradai-review -->"
LIMIT = 65536  # GitHub's maximum comment body, in characters
# Policies and rules are listed in their own section whatever happens to them (a rule changes by replacement);
# roles, groups, keys, ... lead as "replaced or deleted" when that is what happens to them.
POLICY_TYPES = {
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::RolePolicy",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::Lambda::Permission",
    "AWS::SecretsManager::ResourcePolicy",
    "AWS::Logs::ResourcePolicy",
    "AWS::Events::EventBusPolicy",
}
IDENTITY_TYPES = {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::InstanceProfile"}
POLICY_PROPERTY = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::ECR::Repository": "RepositoryPolicyText",
    "AWS::ApiGateway::RestApi": "Policy",
    "AWS::DynamoDB::Table": "ResourcePolicy",
}
RULE_TYPES = {"AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"}
SECTIONS = ("Replaced or deleted", "IAM", "Security groups", "Other changes")


def section_of(change: ResourceChange) -> str:
    """The one section a change is listed in."""
    if change.type in POLICY_TYPES:
        return SECTIONS[1]
    if change.type in RULE_TYPES:
        return SECTIONS[2]
    if change.action in (REPLACED, MAY_BE_REPLACED, REMOVED):
        return SECTIONS[0]
    if change.type in IDENTITY_TYPES or POLICY_PROPERTY.get(change.type) in change.changed_fields():
        return SECTIONS[1]
    if change.type == "AWS::EC2::SecurityGroup":
        return SECTIONS[2]
    return SECTIONS[3]


def render(
    changes: list[ResourceChange], verdict: Verdict, stages: Iterable[str], title: str, extra: Iterable[str] = ()
) -> str:
    """The whole comment, uncapped."""
    parts = [MARKER, f"## {title}", _verdict(verdict)]
    if not changes:
        parts.append("No resource differs between base and head in any stage.")
    else:
        by_stage = {stage: [c for c in changes if c.stage == stage] for stage in stages}
        parts.append(_summary(by_stage))
        for stage, stage_changes in by_stage.items():
            names = [name for name in SECTIONS if any(section_of(c) == name for c in stage_changes)]
            parts.append(f"### {stage}")
            parts += [
                _section(name, [c for c in stage_changes if section_of(c) == name], verdict) for name in names
            ] or ["No changes."]
    parts += [text.strip() for text in extra if text.strip()]
    return "\n\n".join(parts) + "\n"


def cap(body: str, limit: int = LIMIT) -> str:
    """``body`` cut at a line end to fit ``limit``, open code blocks and <details> closed, with a note."""
    if len(body) <= limit:
        return body
    kept = body[: limit - 400]
    kept = kept[: kept.rfind("\n")]
    closing = ("\n```" if kept.count("```") % 2 else "") + "\n</details>" * (
        kept.count("<details") - kept.count("</details>")
    )
    note = (
        f"\n\n**Truncated**: {len(body) - len(kept):,} more characters (GitHub comments hold at most {limit:,}). "
        "The job log of this run prints the whole comment.\n"
    )
    return kept + closing + note


def _verdict(verdict: Verdict) -> str:
    if verdict.blocked:
        lines = [
            f"**Stateful-change guard: ❌ failed.** {len(verdict.blocked)} stateful resource(s) would be "
            f"replaced or deleted (first section of each stage). If intended, add each to `{OVERRIDES}` "
            "with a reason."
        ]
    else:
        lines = ["**Stateful-change guard: ✅ passed.** No stateful resource is replaced or deleted."]
    if verdict.allowed:
        lines.append(f"{len(verdict.allowed)} replacement(s) or deletion(s) allowed by `{OVERRIDES}`.")
    if verdict.stale:
        lines.append(
            f"Stale overrides in `{OVERRIDES}` (they match nothing; remove them): "
            + ", ".join(f"`{o.where}`" for o in verdict.stale)
        )
    return "\n".join(lines)


def _summary(by_stage: dict[str, list[ResourceChange]]) -> str:
    rows = ["| stage | " + " | ".join(SECTIONS) + " |", "|---" * (len(SECTIONS) + 1) + "|"]
    for stage, changes in by_stage.items():
        counts = [sum(section_of(c) == name for c in changes) for name in SECTIONS]
        rows.append(f"| {stage} | " + " | ".join(str(n) for n in counts) + " |")
    return "\n".join(rows)


def _section(name: str, changes: list[ResourceChange], verdict: Verdict) -> str:
    heading = f"#### {name} ({len(changes)})"
    if name == SECTIONS[0]:
        return heading + "\n\n" + _replacements(changes, verdict)
    if name == SECTIONS[3]:
        rows = ["| stack | resource | type | change |", "|---|---|---|---|"]
        rows += [f"| {c.stack} | `{c.logical_id}` | {c.type} | {_cell(_summarized(c))} |" for c in changes]
        return heading + "\n\n" + "\n".join(rows)
    lines = []
    for change in changes:
        sign = "+" if change.action == ADDED else "-" if change.action == REMOVED else "!"
        lines.append(f"{sign} {change.stack} {change.logical_id} ({change.type}) {change.action}")
        lines += [
            f"{sign}   {path}: {show(value, 300)}" for sign, path, value in diff(_view(change.old), _view(change.new))
        ]
    return heading + "\n\n```diff\n" + "\n".join(lines) + "\n```"


def _replacements(changes: list[ResourceChange], verdict: Verdict) -> str:
    blocked = {c.where for c in verdict.blocked}
    reasons = {c.where: o.reason for c, o in verdict.allowed}
    rows = ["| stack | resource | type | change | guard |", "|---|---|---|---|---|"]
    for change in sorted(changes, key=lambda c: (c.where not in blocked, c.where not in reasons)):
        what = [change.action, *change.causes] + ([consequence(change)] if change.type in STATEFUL else [])
        guard = (
            "❌ blocked"
            if change.where in blocked
            else f"✅ allowed: {reasons[change.where]}"
            if change.where in reasons
            else "not stateful"
        )
        rows.append(
            f"| {change.stack} | `{change.logical_id}` | {change.type} | "
            f"{'<br>'.join(_cell(w) for w in what)} | {_cell(guard)} |"
        )
    return "\n".join(rows)


def _summarized(change: ResourceChange) -> str:
    return change.action if change.old is None else f"{change.action}: {', '.join(change.changed_fields())}"


def _view(resource: dict | None) -> dict:
    """A resource's properties and its compared attributes (DeletionPolicy, ...) as one mapping."""
    resource = resource or {}
    return {**resource.get("Properties", {}), **{f: resource[f] for f in COMPARED[2:] if f in resource}}


def diff(old: Any, new: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """``(sign, path, value)`` lines from ``old`` to ``new``: mappings by key, lists as multisets of items."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[tuple[str, str, Any]] = []
        for key in sorted(old.keys() | new.keys()):
            sub = f"{path}.{key}" if path else key
            lines += (
                diff(old[key], new[key], sub)
                if key in old and key in new
                else [("-", sub, old[key])]
                if key in old
                else [("+", sub, new[key])]
            )
        return lines
    if isinstance(old, list) and isinstance(new, list):
        old_items, new_items = [_canonical(i) for i in old], [_canonical(i) for i in new]
        removed = [i for i, c in zip(old, old_items) if c not in new_items]
        added = [i for i, c in zip(new, new_items) if c not in old_items]
        return [("-", f"{path}[]", i) for i in removed] + [("+", f"{path}[]", i) for i in added]
    return [("-", path, old), ("+", path, new)]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell (no pipes, no HTML)."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
