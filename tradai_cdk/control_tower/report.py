"""cfn-guard's structured JSON output -> violations, exactly as cdk-validator-cfnguard 0.0.62 reads it.

A port of the plugin's ``reviver`` (lib/plugin.js), which pulls the ``traversed`` path and the messages up out of
guard's rule-shaped nesting, and of its ``ViolationCheck`` (lib/check.js), which groups a rule's checks into one
violation per fix with the resources and locations it names. The plugin can only read output it produced itself,
in one synchronous process; this port lets the templates be checked in parallel and the results be cached.
``tests/test_control_tower.py`` runs the plugin and this port on the same templates and compares them.
"""

from __future__ import annotations

import json
import re
from typing import Any

FIX = re.compile(r"^\[FIX\]:\s*")


class GuardOutputError(ValueError):
    """cfn-guard's output cannot be turned into violations."""


def violations(output: str) -> tuple[bool, list[dict[str, Any]]]:
    """(compliant, violations) of one cfn-guard run: each violation has ruleName, description, fix and
    resources (logical id -> locations), in the plugin's order."""
    try:
        results = revive(json.loads(output))
    except json.JSONDecodeError as error:
        raise GuardOutputError(f"cfn-guard's output is not JSON ({error}): {output[:200]!r}") from error
    if not isinstance(results, list):
        raise GuardOutputError(f"cfn-guard's output is not a list of file results: {output[:200]!r}")
    rules = [rule for result in results for rule in (_get(result, "not_compliant") or [])]
    return not rules, [violation for rule in rules for violation in rule_violations(rule)]


def rule_violations(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """ViolationCheck.processCheck: the description and fix carry over from check to check; one violation per fix."""
    description: str | None = None
    fix: str | None = None
    by_fix: dict[str, dict[str, Any]] = {}
    for check in rule["checks"]:
        messages = _get(check, "messages")
        custom = _get(messages, "custom_message")
        if custom:
            for line in filter(None, (line.strip() for line in custom.split("\n"))):
                if line.startswith("[FIX]"):
                    fix = FIX.sub("", line)
                else:
                    description = line
        description = description or custom or _get(messages, "error_message")
        fix = _coalesce(fix, custom, "N/A")
        location = check["traversed"]["to"]["path"]
        parts = location.split("/")
        if len(parts) < 3 or not parts[2]:
            raise GuardOutputError(
                f"cfn-guard rule {rule['name']} reports {location!r}, which is no resource: a rule whose finding "
                "names no resource cannot be acknowledged, so it must pass or be disabled"
            )
        violation = by_fix.setdefault(fix, {"description": _coalesce(description, ""), "fix": fix, "resources": {}})
        violation["resources"].setdefault(parts[2], []).append(location)
    return [{"ruleName": rule["name"], **violation} for violation in by_fix.values()]


def revive(value: Any, key: str = "") -> Any:
    """``JSON.parse(text, reviver)``: every value is revived after its children."""
    if isinstance(value, dict):
        value = {k: revive(v, k) for k, v in value.items()}
    elif isinstance(value, list):
        value = [revive(v, str(i)) for i, v in enumerate(value)]
    if key == "not_compliant":
        return [_get(item, "Rule") for item in _values(value)]
    if isinstance(value, dict):
        return _pull_up(value)
    if key == "checks" and isinstance(value, list):
        return _flatten_checks([item for v in value for item in (v if isinstance(v, list) else [v])])
    return value


def _flatten_checks(checks: list[Any]) -> list[Any]:
    """extractNestedChecks: checks nested in checks are pulled up a level, keeping their rule's name and messages."""
    if not any(isinstance(v, dict) and "checks" in v for check in checks for v in _values(check)):
        return [item for check in checks for item in ([check] if _has(check, "traversed") else _values(check))]
    flat: list[Any] = []
    for check in checks:
        if _has(check, "traversed"):
            flat.append(check)
            continue
        for check_value in _values(check):
            inner = _coalesce(_get(check_value, "checks"), check_value)
            flat.extend(
                {
                    **_spread(nested),
                    "name": _get(check_value, "name"),
                    "messages": _coalesce(_get(check_value, "messages"), _get(nested, "messages")),
                }
                for nested in _values(inner)
            )
    return flat


def _pull_up(node: dict[str, Any]) -> Any:
    """extractNestedObject: a node holding a traversed / resolved / unresolved check becomes that check."""
    new: Any = node
    for key, value in node.items():
        kind = key.lower()
        if kind == "traversed_to":
            origin = _get(value, "from")
            new = {
                "traversed": {
                    "to": {"path": _get(value, "path"), "value": _get(value, "value")},
                    "from": {"path": _get(origin, "path"), "value": None} if _truthy(origin) else None,
                },
                "messages": _get(value, "messages"),
            }
        elif kind == "unresolved":
            new = {
                "resolved": False,
                "traversed": _get(value, "traversed"),
                "messages": _coalesce(_get(value, "messages"), node.get("messages")),
            }
        elif kind in ("resolved", "inresolved") and (_has(value, "from") or _has(value, "value")):
            origin = value["from"] if "from" in value else value["value"]
            target = _get(value.get("to"), "value") if "from" in value else _get(origin, "value")
            new = {
                "resolved": True,
                "traversed": {"from": origin, "to": {"path": _get(origin, "path"), "value": target}},
                "messages": _get(value, "messages"),
            }
        if isinstance(value, dict) and any(inner.lower() == "traversed" for inner in value):
            new = {
                "traversed": value.get("traversed"),
                "resolved": value.get("resolved"),
                "messages": _coalesce(value.get("messages"), _last_traversed_messages(value), node.get("messages")),
            }
    return new


def _last_traversed_messages(value: dict[str, Any]) -> Any:
    """The messages of the last ``traversed`` key (any case), as the plugin's loop leaves them."""
    return [_get(inner, "messages") for key, inner in value.items() if key.lower() == "traversed"][-1]


# --- JavaScript semantics the port needs --------------------------------------------------------------------------


def _get(value: Any, key: str) -> Any:
    """``value.key`` / ``value?.key``: undefined (None) unless ``value`` is an object with that key."""
    return value.get(key) if isinstance(value, dict) else None


def _has(value: Any, key: str) -> bool:
    return isinstance(value, dict) and key in value


def _values(value: Any) -> list[Any]:
    """``Object.values``."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, str)):
        return list(value)
    return []


def _spread(value: Any) -> dict[str, Any]:
    """``{...value}``."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, (list, str)):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _coalesce(*values: Any) -> Any:
    """``a ?? b ?? c``."""
    return next((v for v in values if v is not None), None)


def _truthy(value: Any) -> bool:
    """JavaScript truthiness: empty objects and arrays are true."""
    return value is not None and value is not False and value != 0 and value != ""
