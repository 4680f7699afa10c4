"""Pure decisions of the strategy deployer (no AWS calls): the plan, slot claims, the staged config, the
rollback target, the health verdict and the error text recorded on abort.

Unit-testable without moto; ``steps`` feeds them what ``aws_access`` read and writes what they decide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from shared.clock import iso, parse_iso, parse_iso_or_none

from . import contract
from .errors import AlreadyLive, AlreadyRunning, DeploymentRefused, NothingToRollBackTo, NotStaged, UnknownConfig
from .request import DEPLOYMENT_ID, STRATEGY_CLASS, STRATEGY_ID, STRATEGY_NAME, Request, invalid, matching, optional

STARTED_BY_MAX = 36  # ECS startedBy holds at most 36 characters
CREATOR_REQUEST_ID_MAX = 64  # Cloud Map RegisterInstance CreatorRequestId
ERROR_TEXT_MAX = 1000
ECS_STOPPED = "STOPPED"
ECS_RUNNING = "RUNNING"
UNHEALTHY = "UNHEALTHY"
# A slot held by its deployment in these statuses has a task that may be running (retired by rollback/promote).
SLOT_ACTIVE = (contract.SLOT_STARTING, contract.SLOT_RUNNING, contract.SLOT_STALE)


def short_id(value: str, limit: int) -> str:
    """``value`` if it fits in ``limit`` characters, else a prefix plus 8 hex of its SHA-256 (deterministic, and
    two ids sharing a long prefix still differ)."""
    if len(value) <= limit:
        return value
    return f"{value[: limit - 9]}-{hashlib.sha256(value.encode()).hexdigest()[:8]}"


def started_by(deployment_id: str) -> str:
    """The ECS startedBy of a deployment's task: how start finds a task it started already."""
    return short_id(deployment_id, STARTED_BY_MAX)


def creator_request_id(deployment_id: str) -> str:
    return short_id(deployment_id, CREATOR_REQUEST_ID_MAX)


# --- config ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigRef:
    """A config version a trading task runs: its id, file and strategy class."""

    config_id: str
    config_path: str
    strategy: str


def config_path(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key.lstrip('/')}"


def config_candidates(keys: Iterable[Mapping[str, Any]], strategy_name: str, config_hash: str) -> list[str]:
    """config_ids of ``strategy_name`` among the config_hash-index entries (sorted); UnknownConfig when none."""
    keys = list(keys)
    ids = sorted({str(k["config_id"]) for k in keys if k.get("strategy_name") == strategy_name and k.get("config_id")})
    if ids:
        return ids
    others = sorted({str(k.get("strategy_name")) for k in keys})
    if others:
        raise UnknownConfig(
            f"config hash {config_hash} belongs to strategy {', '.join(others)}, not to {strategy_name}"
        )
    raise UnknownConfig(f"no config version of {strategy_name} has config_hash {config_hash}")


def config_ref(items: Iterable[Mapping[str, Any]], bucket: str, strategy_name: str, config_hash: str) -> ConfigRef:
    """The newest (created_at, then config_id) of the strategy's config items with the hash; UnknownConfig when it
    lacks its file (contract.ATTR_CONFIG_KEY) or its strategy class, or belongs to another strategy."""
    items = [item for item in items if item.get("strategy_name") == strategy_name]
    if not items:
        raise UnknownConfig(f"no config version of {strategy_name} has config_hash {config_hash}")
    item = max(items, key=lambda i: (str(i.get("created_at") or ""), str(i.get("config_id"))))
    key, strategy = item.get(contract.ATTR_CONFIG_KEY), item.get(contract.ATTR_CONFIG_STRATEGY)
    if not (isinstance(key, str) and key.strip("/")):
        raise UnknownConfig(
            f"config version {item.get('config_id')} of {strategy_name} has no "
            f"{contract.ATTR_CONFIG_KEY} (its file in the configs bucket)"
        )
    if not (isinstance(strategy, str) and STRATEGY_CLASS.fullmatch(strategy)):
        raise UnknownConfig(
            f"config version {item.get('config_id')} of {strategy_name} has no valid "
            f"{contract.ATTR_CONFIG_STRATEGY} (strategy class): {strategy!r}"
        )
    return ConfigRef(str(item["config_id"]), config_path(bucket, key), strategy)


# --- the plan ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retirement:
    """A running deployment this one replaces: promote retires the dry-run at activate, rollback the live one at
    prepare (stop its task, deregister it, slot STOPPED, deployment RETIRED)."""

    deployment_id: str
    strategy_name: str
    slot_key: str
    mode: str
    task_arn: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Retirement:
        if not isinstance(data, dict):
            raise invalid(where, data, "a JSON object")
        mode = data.get("mode")
        if mode not in (contract.DRY_RUN, contract.LIVE):
            raise invalid(f"{where}.mode", mode, f"{contract.DRY_RUN} or {contract.LIVE}")
        slot_key = data.get("slot_key")
        if not (isinstance(slot_key, str) and slot_key.endswith(f"#{mode}")):
            raise invalid(f"{where}.slot_key", slot_key, f"<strategy_id>#{mode}")
        task_arn = data.get("task_arn")
        if task_arn is not None and not (isinstance(task_arn, str) and task_arn.startswith("arn:")):
            raise invalid(f"{where}.task_arn", task_arn, "an ECS task ARN or null")
        return cls(
            matching(data, "deployment_id", DEPLOYMENT_ID, where),
            matching(data, "strategy_name", STRATEGY_NAME, where),
            slot_key,
            mode,
            task_arn,
        )


@dataclass(frozen=True)
class Plan:
    """prepare's output, passed by the workflow to every later step (and stored on the deployment record)."""

    deployment_id: str
    action: str
    mode: str
    strategy_name: str
    strategy_id: str
    strategy: str
    config_id: str
    config_path: str
    slot_key: str
    family: str
    deadline: str  # ISO-8601 UTC: the task must be healthy by then
    requested_by: str
    previous_deployment_id: str | None = None  # the deployment this one follows in its slot or replaces
    restored_deployment_id: str | None = None  # rollback: the deployment whose config is restored
    retire: Retirement | None = None

    @property
    def started_by(self) -> str:
        return started_by(self.deployment_id)

    @property
    def deadline_at(self) -> datetime:
        return parse_iso(self.deadline)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_by"] = self.started_by
        return data

    @classmethod
    def from_dict(cls, data: Any, deployment_id: str, where: str = "plan") -> Plan:
        if not isinstance(data, dict) or not data:
            raise invalid(where, data, "prepare's output (a JSON object with mode, strategy_id, slot_key, deadline...)")
        if data.get("deployment_id") != deployment_id:
            raise invalid(f"{where}.deployment_id", data.get("deployment_id"), f"this deployment ({deployment_id})")
        action = data.get("action")
        if action not in contract.ACTIONS:
            raise invalid(f"{where}.action", action, f"one of {', '.join(contract.ACTIONS)}")
        mode = data.get("mode")
        if mode != contract.MODE_OF_ACTION[action]:
            raise invalid(f"{where}.mode", mode, f"{contract.MODE_OF_ACTION[action]} (the mode of {action})")
        strategy_id = matching(data, "strategy_id", STRATEGY_ID, where)
        if data.get("slot_key") != contract.state_key(strategy_id, mode):
            raise invalid(f"{where}.slot_key", data.get("slot_key"), contract.state_key(strategy_id, mode))
        deadline = data.get("deadline")
        if not isinstance(deadline, str) or parse_iso_or_none(deadline) is None:
            raise invalid(f"{where}.deadline", deadline, "an ISO-8601 UTC timestamp")
        for field in ("config_id", "family", "requested_by"):
            if not (isinstance(data.get(field), str) and data[field]):
                raise invalid(f"{where}.{field}", data.get(field), "a non-empty string")
        if not (isinstance(data.get("config_path"), str) and data["config_path"].startswith("s3://")):
            raise invalid(f"{where}.config_path", data.get("config_path"), "s3://<bucket>/<key>")
        retire = data.get("retire")
        return cls(
            deployment_id=deployment_id,
            action=action,
            mode=mode,
            strategy_name=matching(data, "strategy_name", STRATEGY_NAME, where),
            strategy_id=strategy_id,
            strategy=matching(data, "strategy", STRATEGY_CLASS, where),
            config_id=data["config_id"],
            config_path=data["config_path"],
            slot_key=data["slot_key"],
            family=data["family"],
            deadline=deadline,
            requested_by=data["requested_by"],
            previous_deployment_id=optional(data, "previous_deployment_id", DEPLOYMENT_ID, where),
            restored_deployment_id=optional(data, "restored_deployment_id", DEPLOYMENT_ID, where),
            retire=None if retire is None else Retirement.from_dict(retire, f"{where}.retire"),
        )


def new_plan(
    request: Request,
    deployment_id: str,
    config: ConfigRef,
    family: str,
    now: datetime,
    health_timeout_seconds: int,
    previous: str | None = None,
    restored: str | None = None,
    retire: Retirement | None = None,
) -> Plan:
    return Plan(
        deployment_id=deployment_id,
        action=request.action,
        mode=request.mode,
        strategy_name=request.strategy_name,
        strategy_id=request.strategy_id,
        strategy=config.strategy,
        config_id=config.config_id,
        config_path=config.config_path,
        slot_key=request.slot_key,
        family=family,
        deadline=iso(now + timedelta(seconds=health_timeout_seconds)),
        requested_by=request.requested_by,
        previous_deployment_id=previous,
        restored_deployment_id=restored,
        retire=retire,
    )


def run_environment(plan: Plan) -> dict[str, str]:
    """The per-run container overrides (contract.RUN_OVERRIDES, in that order)."""
    values = {
        "STRATEGY_ID": plan.strategy_id,
        "STRATEGY": plan.strategy,
        "TRADING_MODE": plan.mode,
        "CONFIG_PATH": plan.config_path,
        "TRADING_STATE_KEY": plan.slot_key,
    }
    return {name: values[name] for name in contract.RUN_OVERRIDES}


def task_tags(plan: Plan) -> dict[str, str]:
    return {"strategy_id": plan.strategy_id, "deployment_id": plan.deployment_id, "trading_mode": plan.mode}


def instance_attributes(plan: Plan, task_arn: str, private_ip: str, port: int) -> dict[str, str]:
    """The Cloud Map attributes of a deployment's task (instance id = the strategy id)."""
    return {
        "AWS_INSTANCE_IPV4": private_ip,
        "AWS_INSTANCE_PORT": str(port),
        "strategy_id": plan.strategy_id,
        "task_arn": task_arn,
        "deployment_id": plan.deployment_id,
        "trading_mode": plan.mode,
    }


def deployment_record(plan: Plan, environment: str, now: datetime, ttl_days: int) -> dict[str, Any]:
    """The tradai-deployments item prepare writes (IN_PROGRESS); ``plan`` keeps the whole plan for replays."""
    item = {
        "strategy_name": plan.strategy_name,
        "deployment_id": plan.deployment_id,
        "environment": environment,
        "created_at": iso(now),
        "updated_at": iso(now),
        "ttl": int((now + timedelta(days=ttl_days)).timestamp()),
        "kind": contract.DEPLOYMENT_KIND,
        "action": plan.action,
        "mode": plan.mode,
        "strategy_id": plan.strategy_id,
        "strategy": plan.strategy,
        "config_id": plan.config_id,
        "config_path": plan.config_path,
        "status": contract.IN_PROGRESS,
        "requested_by": plan.requested_by,
        "previous_deployment_id": plan.previous_deployment_id,
        "restored_deployment_id": plan.restored_deployment_id,
        "deadline": plan.deadline,
        "staged_deployment_id": plan.retire.deployment_id if plan.action == contract.PROMOTE and plan.retire else None,
        "plan": plan.to_dict(),
    }
    return {key: value for key, value in item.items() if value is not None}


# --- slots -------------------------------------------------------------------------------------------------------

CLAIM_CONDITION = "attribute_not_exists(strategy_id) OR #status IN (:stopped, :failed) OR deployment_id = :this"


def claim_condition(deployment_id: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(ConditionExpression, names, values) of claiming a slot: free (absent, STOPPED, FAILED) or a replay of
    the same deployment; never two tasks of one strategy in one mode."""
    return (
        CLAIM_CONDITION,
        {"#status": "status"},
        {":stopped": contract.SLOT_STOPPED, ":failed": contract.SLOT_FAILED, ":this": deployment_id},
    )


def claimable(slot: Mapping[str, Any] | None, deployment_id: str) -> bool:
    """What CLAIM_CONDITION decides, for a slot as read."""
    return slot is None or slot.get("status") in contract.SLOT_FREE or slot.get("deployment_id") == deployment_id


def holds(slot: Mapping[str, Any] | None, deployment_id: str) -> TypeGuard[Mapping[str, Any]]:
    return slot is not None and slot.get("deployment_id") == deployment_id


def occupied(mode: str, slot: Mapping[str, Any] | None) -> DeploymentRefused:
    """The refusal of claiming ``mode``'s slot held by ``slot``'s deployment."""
    slot = slot or {}
    holder = f"deployment {slot.get('deployment_id', '?')} ({slot.get('status', '?')})"
    if mode == contract.DRY_RUN:
        return AlreadyRunning(
            f"{slot.get('strategy_id', 'the strategy')} is taken by {holder}; "
            "a strategy runs at most one dry-run (stop it first)"
        )
    return AlreadyLive(
        f"{slot.get('strategy_id', 'the strategy')} is taken by {holder}; "
        "a strategy runs at most one live task (roll back or stop it first)"
    )


def staged(slot: Mapping[str, Any] | None, request: Request) -> tuple[ConfigRef, Retirement]:
    """promote: the config of the strategy's RUNNING dry-run and that dry-run (retired once the live is healthy)."""
    key = contract.state_key(request.strategy_id, contract.DRY_RUN)
    if slot is None:
        raise NotStaged(f"{request.strategy_id} has no dry-run ({key} not found); stage it first")
    if slot.get("status") != contract.SLOT_RUNNING:
        raise NotStaged(
            f"the dry-run of {request.strategy_id} is {slot.get('status')}, not "
            f"{contract.SLOT_RUNNING} (deployment {slot.get('deployment_id')})"
        )
    if slot.get("strategy_name") != request.strategy_name:
        raise NotStaged(f"the dry-run {key} runs strategy {slot.get('strategy_name')}, not {request.strategy_name}")
    missing = [f for f in ("deployment_id", "config_id", "config_path", "strategy") if not slot.get(f)]
    if missing:
        raise NotStaged(f"the dry-run {key} lacks {', '.join(missing)}; stage it again")
    return (
        ConfigRef(slot["config_id"], slot["config_path"], slot["strategy"]),
        Retirement(slot["deployment_id"], request.strategy_name, key, contract.DRY_RUN, slot.get("task_arn")),
    )


def live_to_retire(slot: Mapping[str, Any] | None, request: Request, deployment_id: str) -> Retirement | None:
    """rollback: the live deployment to stop before the restored one starts (None when the slot is free);
    AlreadyLive while another deployment is being started on the live slot."""
    if slot is None or holds(slot, deployment_id) or slot.get("status") in contract.SLOT_FREE:
        return None
    if slot.get("status") == contract.SLOT_STARTING:
        raise AlreadyLive(
            f"deployment {slot.get('deployment_id')} is in progress on {request.slot_key}; roll back once it finished"
        )
    return Retirement(
        str(slot.get("deployment_id")),
        str(slot.get("strategy_name") or request.strategy_name),
        request.slot_key,
        contract.LIVE,
        slot.get("task_arn"),
    )


def restorable(item: Mapping[str, Any], strategy_id: str) -> bool:
    """A live deployment of the strategy by the deployer, with a config to run again."""
    return (
        item.get("kind") == contract.DEPLOYMENT_KIND
        and item.get("strategy_id") == strategy_id
        and item.get("mode") == contract.LIVE
        and all(item.get(f) for f in ("config_id", "config_path", "strategy"))
    )


def rollback_target(
    history: Iterable[Mapping[str, Any]], request: Request, current: Mapping[str, Any] | None, deployment_id: str
) -> dict[str, Any]:
    """The deployment whose config a rollback restores.

    ``history``: the strategy_name's tradai-deployments items; ``current``: the live slot (its deployment is the
    one rolled back, whatever its status). Requested: that deployment, if it is a SUCCEEDED or RETIRED live
    deployment of the strategy other than the current one. Default: the newest SUCCEEDED live deployment created
    before the current one and with another config (restarting the current config changes nothing).
    """
    items = [dict(item) for item in history if item.get("deployment_id") != deployment_id]
    current_id = (current or {}).get("deployment_id")
    by_id = {item["deployment_id"]: item for item in items}
    if request.target_deployment_id:
        wanted = request.target_deployment_id
        item = by_id.get(wanted)
        if item is None or not restorable(item, request.strategy_id):
            raise NothingToRollBackTo(
                f"deployment {wanted} is not a live deployment of {request.strategy_id} "
                f"({request.strategy_name}) with a config"
            )
        if item.get("status") not in (contract.SUCCEEDED, contract.RETIRED):
            raise NothingToRollBackTo(
                f"deployment {wanted} is {item.get('status')}; only a {contract.SUCCEEDED} "
                f"or {contract.RETIRED} deployment can be restored"
            )
        if wanted == current_id:
            raise NothingToRollBackTo(f"deployment {wanted} is the current live deployment of {request.strategy_id}")
        return item
    current_item = by_id.get(current_id) if current_id else None
    before = (current_item or {}).get("created_at") or (current or {}).get("started_at")
    current_config = (current or {}).get("config_id")
    candidates = [
        item
        for item in items
        if restorable(item, request.strategy_id)
        and item.get("status") == contract.SUCCEEDED
        and item["deployment_id"] != current_id
        and (before is None or str(item.get("created_at")) < before)
        and item.get("config_id") != current_config
    ]
    if not candidates:
        where = f"before the current live deployment {current_id}" if current_id else "at all"
        raise NothingToRollBackTo(
            f"{request.strategy_id} has no earlier {contract.SUCCEEDED} live deployment with another config {where}"
        )
    return max(candidates, key=lambda item: (str(item.get("created_at")), item["deployment_id"]))


# --- health ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskView:
    """What the health check needs of a DescribeTasks entry."""

    task_arn: str
    last_status: str
    desired_status: str
    health_status: str  # of the strategy container (else the task's); UNKNOWN when not reported
    stopped_reason: str = ""
    started_at: datetime | None = None
    private_ip: str | None = None
    exit_code: int | None = None

    @classmethod
    def from_description(cls, task: Mapping[str, Any]) -> TaskView:
        containers = task.get("containers") or []
        container = next(
            (c for c in containers if c.get("name") == contract.CONTAINER_NAME), containers[0] if containers else {}
        )
        ip = next(
            (
                ni.get("privateIpv4Address")
                for c in containers
                for ni in c.get("networkInterfaces") or []
                if ni.get("privateIpv4Address")
            ),
            None,
        )
        if ip is None:
            ip = next(
                (
                    d.get("value")
                    for a in task.get("attachments") or []
                    if a.get("type") == "ElasticNetworkInterface"
                    for d in a.get("details") or []
                    if d.get("name") == "privateIPv4Address" and d.get("value")
                ),
                None,
            )
        started = task.get("startedAt")
        if isinstance(started, str):
            started = parse_iso(started)
        reason = " ".join(str(p) for p in (task.get("stopCode"), task.get("stoppedReason")) if p)
        return cls(
            task["taskArn"],
            str(task.get("lastStatus", "")),
            str(task.get("desiredStatus", "")),
            str(container.get("healthStatus") or task.get("healthStatus") or "UNKNOWN"),
            reason,
            started if isinstance(started, datetime) else None,
            ip,
            container.get("exitCode"),
        )


@dataclass(frozen=True)
class Check:
    state: str  # contract.WAITING, HEALTHY or FAILED_CHECK
    reason: str
    task_arn: str | None = None
    private_ip: str | None = None
    last_status: str | None = None
    health_status: str | None = None
    last_heartbeat: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict(task: TaskView | None, slot: Mapping[str, Any] | None, plan: Plan, now: datetime) -> Check:
    """HEALTHY once the task is RUNNING, its container is not UNHEALTHY and the slot holds a heartbeat newer than
    the task's start (the later of the slot's started_at and ECS's startedAt, so a heartbeat left by a previous
    occupant never counts); FAILED when the task stopped (or is stopping), the slot was taken over or the deadline
    passed; else WAITING."""
    if task is None:
        return Check(contract.FAILED_CHECK, "the task is not known to the cluster (stopped long ago or never ran)")
    seen = {
        "task_arn": task.task_arn,
        "private_ip": task.private_ip,
        "last_status": task.last_status,
        "health_status": task.health_status,
    }
    if task.last_status == ECS_STOPPED or task.desired_status == ECS_STOPPED:
        exit_code = f" (exit code {task.exit_code})" if task.exit_code not in (None, 0) else ""
        return Check(
            contract.FAILED_CHECK, f"the task stopped: {task.stopped_reason or 'no reason given'}{exit_code}", **seen
        )
    if not holds(slot, plan.deployment_id) or slot.get("status") not in SLOT_ACTIVE:
        holder = (slot or {}).get("deployment_id")
        return Check(
            contract.FAILED_CHECK,
            f"the slot {plan.slot_key} is no longer this deployment's (held by {holder}, {(slot or {}).get('status')})",
            **seen,
        )
    heartbeat = slot.get("last_heartbeat")
    seen["last_heartbeat"] = heartbeat if isinstance(heartbeat, str) else None
    beat = parse_iso_or_none(heartbeat)
    since = [moment for moment in (parse_iso_or_none(slot.get("started_at")), task.started_at) if moment is not None]
    start = max(since) if since else None
    problems = []
    if task.last_status != ECS_RUNNING:
        problems.append(f"the task is {task.last_status or 'not yet running'}")
    if task.health_status == UNHEALTHY:
        problems.append("the container is UNHEALTHY")
    if beat is None:
        problems.append("no heartbeat yet" if heartbeat is None else f"last_heartbeat {heartbeat!r} is not ISO-8601")
    elif start is not None and beat <= start:
        problems.append(f"last heartbeat {heartbeat} is not newer than the task's start {iso(start)}")
    if not task.private_ip:
        problems.append("the task has no private IPv4 address yet")
    if not problems:
        return Check(
            contract.HEALTHY, f"task RUNNING, container health {task.health_status}, heartbeat {heartbeat}", **seen
        )
    if now >= plan.deadline_at:
        return Check(
            contract.FAILED_CHECK, f"not healthy by the deadline {plan.deadline}: {'; '.join(problems)}", **seen
        )
    return Check(contract.WAITING, "; ".join(problems), **seen)


# --- abort -------------------------------------------------------------------------------------------------------


def error_text(error: Any) -> str:
    """The error recorded on an aborted deployment, from Step Functions' {"Error", "Cause"} (a Lambda error's Cause
    is the JSON of errorType/errorMessage)."""
    if not isinstance(error, dict) or not (error.get("Error") or error.get("Cause")):
        return "aborted without an error"
    name, cause = str(error.get("Error") or "Error"), error.get("Cause")
    message = cause
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("errorMessage") is not None:
            name, message = str(parsed.get("errorType") or name), parsed["errorMessage"]
    text = f"{name}: {message}" if message not in (None, "") else name
    return text if len(text) <= ERROR_TEXT_MAX else text[: ERROR_TEXT_MAX - 3] + "..."


def stop_reason(deployment_id: str, why: str) -> str:
    return f"TradAI deployment {deployment_id}: {why}"
