"""The deployer's event: which step, which deployment, and the workflow's input (pure parsing and validation).

Every malformed value raises ValueError naming the field as the workflow passes it (``step``,
``request.strategy_id``, ``plan.deadline``...), the value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import contract

STRATEGY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
STRATEGY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")  # as backtest requests; never contains the slot key's '#'
STRATEGY_CLASS = re.compile(r"[A-Z][A-Za-z0-9_]{0,63}")
CONFIG_HASH = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{5,127}")
DEPLOYMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")  # a Step Functions execution name
REQUESTED_BY = re.compile(r"[^\x00-\x1f\x7f]{1,256}")

ALLOWED = {
    "step": f"one of {', '.join(contract.STEPS)}",
    "deployment_id": f"an execution name matching ^{DEPLOYMENT_ID.pattern}$",
    "action": f"one of {', '.join(contract.ACTIONS)}",
    "strategy_name": f"a strategy name matching ^{STRATEGY_NAME.pattern}$",
    "strategy_id": f"an id matching ^{STRATEGY_ID.pattern}$",
    "strategy": f"a Python class name matching ^{STRATEGY_CLASS.pattern}$",
    "config_hash": f"a config content hash matching ^{CONFIG_HASH.pattern}$",
    "requested_by": "1 to 256 printable characters",
}


def invalid(field: str, value: Any, allowed: str) -> ValueError:
    shown = value if not isinstance(value, str) or len(value) <= 200 else value[:200] + "..."
    return ValueError(f"invalid deployment event: {field}={shown!r}; expected {allowed}")


def section(event: Mapping[str, Any], name: str, required: bool = True) -> dict[str, Any]:
    """``event[name]`` as a dict; {} when absent and not required."""
    value = event.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise invalid(name, value, "a JSON object")
    return value


def matching(data: Mapping[str, Any], field: str, pattern: re.Pattern, where: str, allowed: str | None = None) -> str:
    value = data.get(field)
    if not (isinstance(value, str) and pattern.fullmatch(value)):
        raise invalid(f"{where}.{field}" if where else field, value, allowed or ALLOWED[field])
    return value


def optional(data: Mapping[str, Any], field: str, pattern: re.Pattern, where: str) -> str | None:
    return None if data.get(field) in (None, "") else matching(data, field, pattern, where)


def parse_step(event: Any) -> tuple[str, str]:
    """(step, deployment_id) of an invocation."""
    if not isinstance(event, dict):
        raise invalid("event", type(event).__name__, "a JSON object with step, deployment_id and request")
    step = event.get("step")
    if step not in contract.STEPS:
        raise invalid("step", step, ALLOWED["step"])
    return step, matching(event, "deployment_id", DEPLOYMENT_ID, "")


@dataclass(frozen=True)
class Request:
    """The workflow's input, validated for its action."""

    action: str
    strategy_name: str
    strategy_id: str
    requested_by: str
    config_hash: str | None = None  # stage
    target_deployment_id: str | None = None  # rollback: the deployment to restore (default: the previous live)

    @property
    def mode(self) -> str:
        return contract.MODE_OF_ACTION[self.action]

    @property
    def slot_key(self) -> str:
        return contract.state_key(self.strategy_id, self.mode)


def parse_request(data: Any, where: str = "request") -> Request:
    if not isinstance(data, dict):
        raise invalid(where, data, "a JSON object (the workflow input)")
    action = data.get("action")
    if action not in contract.ACTIONS:
        raise invalid(f"{where}.action", action, ALLOWED["action"])
    name = matching(data, "strategy_name", STRATEGY_NAME, where)
    strategy_id = matching(data, "strategy_id", STRATEGY_ID, where)
    requested_by = optional(data, "requested_by", REQUESTED_BY, where) or "unknown"
    config_hash = matching(data, "config_hash", CONFIG_HASH, where) if action == contract.STAGE else None
    target = optional(data, "deployment_id", DEPLOYMENT_ID, where) if action == contract.ROLLBACK else None
    return Request(action, name, strategy_id, requested_by, config_hash, target)


def lenient_request(data: Any) -> dict[str, str | None]:
    """What abort can use of a request that may be malformed: each valid field, else None."""
    data = data if isinstance(data, dict) else {}
    fields = {"strategy_name": STRATEGY_NAME, "strategy_id": STRATEGY_ID, "requested_by": REQUESTED_BY}
    found: dict[str, str | None] = {
        field: value if isinstance(value := data.get(field), str) and pattern.fullmatch(value) else None
        for field, pattern in fields.items()
    }
    found["action"] = data.get("action") if data.get("action") in contract.ACTIONS else None
    return found
