"""Pure decisions of the NAT failover (no AWS calls): what an event asks for, whether the
instance is ready to forward, and whether the new instance should take a route or the EIP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from . import contract

DETAIL_FIELDS = ("EC2InstanceId", "AutoScalingGroupName", "LifecycleHookName", "LifecycleActionToken")
TOKEN_LENGTH = 36  # CompleteLifecycleAction's LifecycleActionToken is a UUID
GONE_STATES = frozenset({"shutting-down", "terminated", "stopping", "stopped"})


class InvalidEvent(ValueError):
    """The event is not a launch lifecycle action; ``identifiers`` holds what could be read."""

    def __init__(self, problem: str, identifiers: dict[str, str]):
        super().__init__(problem)
        self.identifiers = identifiers


@dataclass(frozen=True)
class LaunchAction:
    """One pending launch lifecycle action, and how many invocations have waited for it already."""

    group_name: str
    hook_name: str
    instance_id: str
    token: str | None
    continuation: int
    event_time: datetime | None


@dataclass(frozen=True)
class Instance:
    """What the failover needs to know of an EC2 instance."""

    instance_id: str
    state: str
    launch_time: datetime
    primary_interface_id: str | None
    boot_state: str | None
    source_dest_check: bool


@dataclass(frozen=True)
class Holder:
    """What a default route or the Elastic IP points at now: its target id and the instance behind it."""

    target: str
    instance: Instance | None
    blackholed: bool = False


class Readiness(Enum):
    READY = "ready"
    WAIT = "wait"
    FAILED = "failed"


def parse_event(event: Any) -> LaunchAction:
    """Validate an EventBridge launch lifecycle event; raise InvalidEvent saying what is wrong."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"event must be a JSON object, got {type(event).__name__}", {})
    detail = event.get("detail")
    if not isinstance(detail, dict):
        problem = (
            "event has no 'detail' object"
            if detail is None
            else f"event 'detail' must be a JSON object, got {type(detail).__name__}"
        )
        raise InvalidEvent(problem, {})
    found = {
        key: detail[key].strip() for key in DETAIL_FIELDS if isinstance(detail.get(key), str) and detail[key].strip()
    }
    problems = []
    if event.get("detail-type") != contract.LAUNCH_EVENT:
        problems.append(f"detail-type is {event.get('detail-type')!r}, expected {contract.LAUNCH_EVENT!r}")
    missing = [key for key in DETAIL_FIELDS if key not in found]
    if missing:
        problems.append(f"missing or empty detail field(s): {', '.join(missing)}")
    if len(found.get("LifecycleActionToken", "x" * TOKEN_LENGTH)) != TOKEN_LENGTH:
        del found["LifecycleActionToken"]  # the instance id still identifies the action
        problems.append(f"LifecycleActionToken is not a {TOKEN_LENGTH}-character token")
    continuation = event.get(contract.CONTINUATION_KEY, 0)
    if not isinstance(continuation, int) or isinstance(continuation, bool) or continuation < 0:
        problems.append(f"{contract.CONTINUATION_KEY} must be a non-negative integer, got {continuation!r}")
    if problems:
        raise InvalidEvent("; ".join(problems), found)
    return LaunchAction(
        found["AutoScalingGroupName"],
        found["LifecycleHookName"],
        found["EC2InstanceId"],
        found["LifecycleActionToken"],
        continuation,
        _timestamp(event.get("time")),
    )


def assess_readiness(instance: Instance | None, now: datetime, ready_timeout_seconds: int) -> tuple[Readiness, str]:
    """READY once the instance runs and tagged itself ready; FAILED when it never can be; else WAIT."""
    if instance is None:
        return Readiness.FAILED, "instance no longer exists"
    if instance.state in GONE_STATES:
        return Readiness.FAILED, f"instance is {instance.state} (boot failure or replaced)"
    if instance.boot_state == contract.BOOT_FAILED:
        return Readiness.FAILED, "boot script reported a failure (see the instance's console output)"
    if instance.state == "running" and instance.boot_state == contract.BOOT_READY:
        return Readiness.READY, "instance forwards and tagged itself ready"
    age = (now - instance.launch_time).total_seconds()
    if age > ready_timeout_seconds:
        return Readiness.FAILED, (
            f"instance not ready {age:.0f} s after launch (budget {ready_timeout_seconds} s; state {instance.state})"
        )
    return Readiness.WAIT, f"{instance.state}, boot {instance.boot_state or 'in progress'} after {age:.0f} s"


def plan_takeover(holder: Holder | None, ours: Instance) -> tuple[str, str]:
    """Decide created / replaced / unchanged / skipped for a route or the EIP and the new instance.

    Never take over from a newer running instance (the alterNAT race rule): its own lifecycle
    event manages the routes and the address.
    """
    if holder is None:
        return "created", "nothing holds it"
    if holder.blackholed:
        return "replaced", f"{holder.target} is blackholed"
    owner = holder.instance
    if owner is None:
        return "replaced", f"{holder.target} is not a live instance"
    if owner.instance_id == ours.instance_id:
        return "unchanged", "already this instance"
    if owner.state != "running":
        return "replaced", f"instance {owner.instance_id} is {owner.state}"
    if (owner.launch_time, owner.instance_id) > (ours.launch_time, ours.instance_id):  # ids break a same-second tie
        return "skipped", f"newer running instance {owner.instance_id} holds it"
    return "replaced", f"older running instance {owner.instance_id} held it"


def _timestamp(value: Any) -> datetime | None:
    """EventBridge's ``time`` (UTC, ``...Z``) as an aware datetime; None if unreadable."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
