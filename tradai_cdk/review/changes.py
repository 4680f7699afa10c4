"""What a change does to each stack: the resources it adds, removes, modifies or replaces.

Two synthesized cloud assemblies are compared stack by stack (stage + stack construct id) and resource by
resource (logical id). Whether a modification replaces the resource is read from CloudFormation's resource
provider schemas as shipped in cfn-lint: a change to a ``createOnlyProperties`` property replaces it, a change
to a ``conditionalCreateOnlyProperties`` property (a DynamoDB key schema, an RDS engine) replaces it when it
cannot be applied in place. A resource whose create-only property references (Ref, GetAtt, Sub) a replaced
resource of the same stack is replaced too: the referenced physical id changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint

from ..template_refs import references

REGION = "eu-central-1"
SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
# What a resource change is made of; Metadata (construct paths) and DependsOn change no resource.
COMPARED = (
    "Type",
    "Properties",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
    "Condition",
)

ADDED, REMOVED, MODIFIED = "added", "removed", "modified"
REPLACED, MAY_BE_REPLACED = "replaced", "may be replaced"

StackKey = tuple[str, str]  # (stage, stack construct id), e.g. ("TradaiProd", "Persistent")


@dataclass(frozen=True)
class Stack:
    """One synthesized stack: where it belongs, its CloudFormation name and its template."""

    stage: str
    stack: str
    name: str
    template: dict


@dataclass(frozen=True)
class ResourceChange:
    """One resource that differs between base and head; ``causes`` say why it is replaced or removed."""

    stage: str
    stack: str
    stack_name: str
    logical_id: str
    action: str
    old: dict | None
    new: dict | None
    causes: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        """The resource type as deployed before the change (the one a replacement or deletion loses)."""
        return (self.old or self.new or {})["Type"]

    @property
    def where(self) -> str:
        return f"{self.stage}/{self.stack}/{self.logical_id}"

    def changed_fields(self) -> list[str]:
        """Top-level properties (and resource attributes such as DeletionPolicy) whose value changed."""
        old, new = self.old or {}, self.new or {}
        fields = [f for f in COMPARED if f != "Properties" and old.get(f) != new.get(f)]
        old_props, new_props = old.get("Properties", {}), new.get("Properties", {})
        return fields + sorted(p for p in old_props.keys() | new_props.keys() if old_props.get(p) != new_props.get(p))


def load_assembly(outdir: Path) -> dict[StackKey, Stack]:
    """Every stack template of a cloud assembly (nested stage assemblies included), by (stage, stack)."""
    outdir = Path(outdir)
    stacks: dict[StackKey, Stack] = {}
    for artifact in json.loads((outdir / "manifest.json").read_text())["artifacts"].values():
        if artifact["type"] == "cdk:cloud-assembly":
            stacks.update(load_assembly(outdir / artifact["properties"]["directoryName"]))
        elif artifact["type"] == "aws:cloudformation:stack":
            stage, stack = artifact["displayName"].rsplit("/", 1)
            template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
            stacks[(stage, stack)] = Stack(stage, stack, artifact["properties"]["stackName"], template)
    return stacks


@cache
def _schema_index() -> dict[str, str]:
    return json.loads((SCHEMAS / "providers" / f"{REGION}.json").read_text())


@cache
def create_only(resource_type: str) -> tuple[tuple[str, bool], ...]:
    """``(JSON pointer, conditional)`` of every create-only property of a type in the region's provider schema.

    Types without a schema (custom resources) have none.
    """
    schema_id = _schema_index().get(resource_type)
    if schema_id is None:
        return ()
    schema = json.loads((SCHEMAS / "resources" / f"{schema_id}.json").read_text())
    return tuple(
        [(p, False) for p in schema.get("createOnlyProperties", [])]
        + [(p, True) for p in schema.get("conditionalCreateOnlyProperties", [])]
    )


def show(value: Any, limit: int = 160) -> str:
    """A value as compact JSON, cut to ``limit`` characters; ``absent`` for a missing one."""
    if value is None:
        return "absent"
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compare(base: dict[StackKey, Stack], head: dict[StackKey, Stack]) -> list[ResourceChange]:
    """Every resource change from ``base`` to ``head``; a stack missing on one side counts as empty."""
    changes = []
    for key in list(base) + [k for k in head if k not in base]:
        either = head.get(key) or base[key]
        changes += compare_stack(key, either.name, _resources(base.get(key)), _resources(head.get(key)))
    return changes


def compare_stack(key: StackKey, stack_name: str, old: dict[str, dict], new: dict[str, dict]) -> list[ResourceChange]:
    """The changes between two versions of one stack's ``Resources``, in logical id order."""
    actions: dict[str, str] = {}
    causes: dict[str, list[str]] = {}
    for logical_id in old.keys() | new.keys():
        before, after = old.get(logical_id), new.get(logical_id)
        if before is None or after is None:
            actions[logical_id] = ADDED if before is None else REMOVED
        elif before["Type"] != after["Type"]:
            actions[logical_id], causes[logical_id] = REPLACED, [f"Type: {before['Type']} -> {after['Type']}"]
        elif any(before.get(f) != after.get(f) for f in COMPARED):
            actions[logical_id], causes[logical_id] = _replacement(before, after)
    _propagate(old, new, actions, causes)
    for logical_id in [i for i, a in actions.items() if a == REMOVED]:
        twins = sorted(i for i, a in actions.items() if a == ADDED and new[i]["Type"] == old[logical_id]["Type"])
        causes[logical_id] = [
            "logical id removed" + (f" (renamed? added with its type: {', '.join(twins)})" if twins else "")
        ]
    return [
        ResourceChange(
            key[0],
            key[1],
            stack_name,
            logical_id,
            action,
            old.get(logical_id),
            new.get(logical_id),
            tuple(causes.get(logical_id, ())),
        )
        for logical_id, action in sorted(actions.items())
    ]


def _resources(stack: Stack | None) -> dict[str, dict]:
    return stack.template.get("Resources", {}) if stack else {}


def _replacement(before: dict, after: dict) -> tuple[str, list[str]]:
    """MODIFIED, or (MAY_BE_)REPLACED with a cause per changed create-only property."""
    causes: list[str] = []
    changed: list[str] = []  # paths already reported; a nested pointer under one of them adds nothing
    certain = False
    for pointer, conditional in sorted(create_only(after["Type"])):
        path = pointer.split("/")[2:]
        shown = "/".join(path)
        old_value, new_value = _at(before.get("Properties", {}), path), _at(after.get("Properties", {}), path)
        if old_value != new_value and not any(shown.startswith(c + "/") for c in changed):
            changed.append(shown)
            kind = "conditionalCreateOnly" if conditional else "createOnly"
            causes.append(f"{shown} ({kind}): {show(old_value)} -> {show(new_value)}")
            certain = certain or not conditional
    if not causes:
        return MODIFIED, []
    return (REPLACED if certain else MAY_BE_REPLACED), causes


def _propagate(
    old: dict[str, dict], new: dict[str, dict], actions: dict[str, str], causes: dict[str, list[str]]
) -> None:
    """Mark resources replaced whose unchanged create-only property references a replaced resource."""
    while True:
        replaced = {i: a for i, a in actions.items() if a in (REPLACED, MAY_BE_REPLACED)}
        found = False
        for logical_id, after in new.items():
            if logical_id in replaced or logical_id not in old or old[logical_id]["Type"] != after["Type"]:
                continue
            for pointer, conditional in sorted(create_only(after["Type"])):
                path = pointer.split("/")[2:]
                refs = sorted(set(references(_at(after.get("Properties", {}), path))) & replaced.keys())
                if refs:
                    certain = not conditional and any(replaced[r] == REPLACED for r in refs)
                    actions[logical_id] = REPLACED if certain else MAY_BE_REPLACED
                    causes[logical_id] = [
                        f"{'/'.join(path)} references {', '.join(refs)}, which is "
                        f"{'replaced' if certain else 'possibly replaced'}"
                    ]
                    found = True
                    break
        if not found:
            return


def _at(node: Any, path: list[str]) -> Any:
    """The value at a schema pointer's path (``*`` = every list item); None where absent."""
    if not path:
        return node
    if path[0] == "*" and isinstance(node, list):
        return [_at(item, path[1:]) for item in node]
    if isinstance(node, dict) and path[0] in node:
        return _at(node[path[0]], path[1:])
    return None
