"""The five steps of a strategy deployment (contract.py): each reads what it needs, asks ``decisions`` and
writes the outcome through ``aws_access``.

Every step is idempotent, the workflow may run it again: prepare replays from the deployment record (same
plan, same deadline), start adopts the task on the slot or found by startedBy, check only reads, activate and
abort skip what is done already. Refusals (errors.py) and malformed input (ValueError) propagate to the
handler, which logs them; AWS errors propagate unchanged (the transient ones are worth the workflow's retry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.clock import iso

from . import contract
from .aws_access import CloudMap, ConfigVersions, Deployments, Ecs, TradingSlots
from .decisions import (
    SLOT_ACTIVE,
    ConfigRef,
    Plan,
    Retirement,
    TaskView,
    claim_condition,
    claimable,
    config_candidates,
    config_ref,
    creator_request_id,
    deployment_record,
    error_text,
    holds,
    instance_attributes,
    live_to_retire,
    new_plan,
    occupied,
    rollback_target,
    run_environment,
    staged,
    started_by,
    stop_reason,
    task_tags,
    verdict,
)
from .errors import SlotLost, TaskStartFailed
from .observability import METRIC_FAILED, METRIC_RETIRED, METRIC_STARTED, METRIC_SUCCEEDED, logger, metrics
from .request import Request, invalid, lenient_request, parse_request, section
from .settings import DeployerSettings

ECS_DESIRED = ("RUNNING", "STOPPED")  # where start looks for a task it started already


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deployer:
    settings: DeployerSettings
    ecs: Ecs
    cloud_map: CloudMap
    slots: TradingSlots
    deployments: Deployments
    configs: ConfigVersions
    now: Callable[[], datetime] = field(default=_now)

    # --- prepare -------------------------------------------------------------------------------------------------

    def prepare(self, deployment_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
        request = parse_request(event.get("request"))
        logger.append_keys(action=request.action, strategy_id=request.strategy_id)
        record = self.deployments.get(request.strategy_name, deployment_id)
        if record is not None:
            plan = Plan.from_dict(record.get("plan"), deployment_id, where="plan (of the deployment record)")
            if record.get("status") != contract.IN_PROGRESS:
                logger.info(
                    "prepare replayed after the deployment ended; its plan is returned",
                    extra={"status": record.get("status")},
                )
                return plan.to_dict()
            logger.info("prepare replayed: the recorded plan is reused")
            return self._occupy(plan)
        now = self.now()
        builders = {
            contract.STAGE: self._stage_plan,
            contract.PROMOTE: self._promote_plan,
            contract.ROLLBACK: self._rollback_plan,
        }
        plan = builders[request.action](request, deployment_id, now)
        written, record = self.deployments.create(
            deployment_record(plan, self.settings.environment, now, self.settings.deployment_ttl_days)
        )
        if not written:  # a concurrent attempt recorded it first: follow its plan
            plan = Plan.from_dict(record.get("plan"), deployment_id, where="plan (of the deployment record)")
        logger.info("deployment planned", extra={"plan": plan.to_dict()})
        return self._occupy(plan)

    def _stage_plan(self, request: Request, deployment_id: str, now: datetime) -> Plan:
        assert request.config_hash is not None
        ids = config_candidates(
            self.configs.keys_by_hash(request.config_hash), request.strategy_name, request.config_hash
        )
        items = [item for config_id in ids if (item := self.configs.get(request.strategy_name, config_id))]
        config = config_ref(items, self.settings.configs_bucket, request.strategy_name, request.config_hash)
        slot = self._claimable_slot(request, deployment_id)
        return self._plan(request, deployment_id, config, now, previous=(slot or {}).get("deployment_id"))

    def _promote_plan(self, request: Request, deployment_id: str, now: datetime) -> Plan:
        config, dry_run = staged(self.slots.get(contract.state_key(request.strategy_id, contract.DRY_RUN)), request)
        slot = self._claimable_slot(request, deployment_id)
        return self._plan(
            request, deployment_id, config, now, previous=(slot or {}).get("deployment_id"), retire=dry_run
        )

    def _rollback_plan(self, request: Request, deployment_id: str, now: datetime) -> Plan:
        live = self.slots.get(request.slot_key)
        current = live_to_retire(live, request, deployment_id)
        target = rollback_target(self.deployments.history(request.strategy_name), request, live, deployment_id)
        logger.info(
            "rollback target chosen",
            extra={
                "restored_deployment_id": target["deployment_id"],
                "current_deployment_id": (live or {}).get("deployment_id"),
            },
        )
        config = ConfigRef(target["config_id"], target["config_path"], target["strategy"])
        return self._plan(
            request,
            deployment_id,
            config,
            now,
            previous=(live or {}).get("deployment_id"),
            restored=target["deployment_id"],
            retire=current,
        )

    def _plan(
        self,
        request: Request,
        deployment_id: str,
        config: ConfigRef,
        now: datetime,
        previous: str | None = None,
        restored: str | None = None,
        retire: Retirement | None = None,
    ) -> Plan:
        return new_plan(
            request,
            deployment_id,
            config,
            self.settings.mode(request.mode).family,
            now,
            self.settings.health_timeout_seconds,
            previous=previous,
            restored=restored,
            retire=retire,
        )

    def _claimable_slot(self, request: Request, deployment_id: str) -> dict[str, Any] | None:
        """The slot as it is; its refusal (AlreadyRunning / AlreadyLive) when another deployment holds it."""
        slot = self.slots.get(request.slot_key)
        if not claimable(slot, deployment_id):
            raise occupied(request.mode, slot)
        return slot

    def _occupy(self, plan: Plan) -> dict[str, Any]:
        """rollback: retire the current live task first (two live traders never overlap); then claim the slot."""
        if plan.action == contract.ROLLBACK and plan.retire is not None:
            self._retire(plan.retire, plan, f"rolled back by deployment {plan.deployment_id}")
        slot = self.slots.get(plan.slot_key)
        if holds(slot, plan.deployment_id):
            logger.info("slot held by this deployment already", extra={"slot_key": plan.slot_key})
            return plan.to_dict()
        if not claimable(slot, plan.deployment_id):
            raise occupied(plan.mode, slot)
        now = iso(self.now())
        claimed, current = self.slots.claim(
            plan.slot_key,
            {
                "strategy": plan.strategy,
                "strategy_name": plan.strategy_name,
                "mode": plan.mode,
                "status": contract.SLOT_STARTING,
                "deployment_id": plan.deployment_id,
                "config_id": plan.config_id,
                "config_path": plan.config_path,
                "started_at": now,
                "updated_at": now,
            },
            claim_condition(plan.deployment_id),
        )
        if not claimed and not holds(current, plan.deployment_id):
            raise occupied(plan.mode, current)
        metrics.add_metric(METRIC_STARTED, MetricUnit.Count, 1)
        logger.info("slot claimed", extra={"slot_key": plan.slot_key, "previous": plan.previous_deployment_id})
        return plan.to_dict()

    # --- start ---------------------------------------------------------------------------------------------------

    def start(self, deployment_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
        plan = self._plan_of(deployment_id, event)
        slot = self.slots.get(plan.slot_key)
        if not holds(slot, deployment_id):
            raise SlotLost(
                f"{plan.slot_key} is held by deployment {(slot or {}).get('deployment_id')}, "
                f"not {deployment_id}; no task started"
            )
        task_arn, adopted = slot.get("task_arn"), True
        if not task_arn:
            task_arn = next(
                (arn for status in ECS_DESIRED for arn in self.ecs.tasks_started_by(plan.started_by, status)), None
            )
        if not task_arn:
            if slot.get("status") not in SLOT_ACTIVE:
                raise SlotLost(f"{plan.slot_key} is {slot.get('status')}; no task started")
            adopted = False
            outcome = self.ecs.run_task(
                self.settings.mode(plan.mode), plan.started_by, run_environment(plan), task_tags(plan)
            )
            if outcome.failure:
                raise TaskStartFailed(f"RunTask of {plan.family} for {plan.slot_key} failed: {outcome.failure}")
            task_arn = outcome.task_arn
            logger.info("trading task started", extra={"task_arn": task_arn, "family": plan.family})
        else:
            logger.info("task of this deployment found; not started again", extra={"task_arn": task_arn})
        now = iso(self.now())
        written, current = self.slots.update_held(
            plan.slot_key, deployment_id, {"task_arn": task_arn, "updated_at": now}
        )
        if not written and not holds(current, deployment_id):
            raise SlotLost(
                f"{plan.slot_key} was taken by deployment {(current or {}).get('deployment_id')} "
                f"while task {task_arn} started"
            )
        self.deployments.update(
            plan.strategy_name,
            deployment_id,
            {"task_arn": task_arn, "updated_at": now},
            statuses=(contract.IN_PROGRESS,),
        )
        return {"task_arn": task_arn, "started_by": plan.started_by, "adopted": adopted}

    # --- check ---------------------------------------------------------------------------------------------------

    def check(self, deployment_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
        plan = self._plan_of(deployment_id, event)
        slot = self.slots.get(plan.slot_key)
        task_arn = self._task_arn(event, slot, deployment_id)
        description = self.ecs.describe(task_arn)
        result = verdict(TaskView.from_description(description) if description else None, slot, plan, self.now())
        if result.task_arn is None:
            result = replace(result, task_arn=task_arn)
        log = logger.warning if result.state == contract.FAILED_CHECK else logger.info
        log(f"task check: {result.state}", extra={"check": result.to_dict()})
        return {**result.to_dict(), "checked_at": iso(self.now())}

    # --- activate ------------------------------------------------------------------------------------------------

    def activate(self, deployment_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
        plan = self._plan_of(deployment_id, event)
        slot = self.slots.get(plan.slot_key)
        if not holds(slot, deployment_id) or slot.get("status") not in SLOT_ACTIVE:
            raise SlotLost(
                f"{plan.slot_key} is no longer this deployment's (held by "
                f"{(slot or {}).get('deployment_id')}, {(slot or {}).get('status')}); not activated"
            )
        task_arn = self._task_arn(event, slot, deployment_id)
        check = section(event, "check", required=False)
        private_ip = check.get("private_ip") if check.get("task_arn") in (None, task_arn) else None
        if not private_ip:
            description = self.ecs.describe(task_arn)
            private_ip = TaskView.from_description(description).private_ip if description else None
        if not isinstance(private_ip, str) or not private_ip:
            raise invalid("check.private_ip", check.get("private_ip"), f"the private IPv4 address of {task_arn}")
        target = self.settings.mode(plan.mode)
        attributes = instance_attributes(plan, task_arn, private_ip, target.port)
        registered = self.cloud_map.attributes(target.discovery_service_id, plan.strategy_id)
        if registered != attributes:
            operation = self.cloud_map.register(
                target.discovery_service_id, plan.strategy_id, creator_request_id(deployment_id), attributes
            )
            logger.info(
                "registered in Cloud Map",
                extra={"service_id": target.discovery_service_id, "operation_id": operation, "attributes": attributes},
            )
        now = iso(self.now())
        running, current = self.slots.update_held(
            plan.slot_key,
            deployment_id,
            {"status": contract.SLOT_RUNNING, "activated_at": now, "updated_at": now},
            statuses=(contract.SLOT_STARTING,),
        )
        if not running and not (holds(current, deployment_id) and (current or {}).get("status") in SLOT_ACTIVE):
            raise SlotLost(
                f"{plan.slot_key} was taken by deployment {(current or {}).get('deployment_id')} "
                "while it was being activated"
            )
        if self.deployments.update(
            plan.strategy_name,
            deployment_id,
            {"status": contract.SUCCEEDED, "task_arn": task_arn, "activated_at": now, "updated_at": now},
            statuses=(contract.IN_PROGRESS,),
        ):
            metrics.add_metric(METRIC_SUCCEEDED, MetricUnit.Count, 1)
            logger.info("deployment SUCCEEDED", extra={"task_arn": task_arn, "private_ip": private_ip})
        retired = None
        if plan.action == contract.PROMOTE and plan.retire is not None:
            self._retire(plan.retire, plan, f"promoted to live by deployment {deployment_id}")
            retired = plan.retire.deployment_id
        return {
            "task_arn": task_arn,
            "private_ip": private_ip,
            "service_id": target.discovery_service_id,
            "instance_id": plan.strategy_id,
            "retired_deployment_id": retired,
        }

    # --- abort ---------------------------------------------------------------------------------------------------

    def abort(self, deployment_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """Undo this deployment's own work (task, registration, slot) and record it FAILED; whatever ran before is
        left alone. A deployment that SUCCEEDED (or was RETIRED) is not undone."""
        error = error_text(event.get("error"))
        plan = self._plan_or_none(deployment_id, event.get("plan"))
        known = lenient_request(event.get("request"))
        name = plan.strategy_name if plan else known["strategy_name"]
        strategy_id = plan.strategy_id if plan else known["strategy_id"]
        mode = plan.mode if plan else contract.MODE_OF_ACTION.get(known["action"] or "")
        slot_key = contract.state_key(strategy_id, mode) if strategy_id and mode else None
        logger.append_keys(strategy_id=strategy_id, action=plan.action if plan else known["action"])
        record = self.deployments.get(name, deployment_id) if name else None
        if record is not None and record.get("status") in (contract.SUCCEEDED, contract.RETIRED):
            logger.error(
                "abort of a deployment that ended already; left as it is",
                extra={"status": record["status"], "error": error},
            )
            return {"aborted": False, "status": record["status"], "error": error}
        slot = self.slots.get(slot_key) if slot_key else None
        stopped = self._stop_own_tasks(deployment_id, event, slot, error)
        deregistered = False
        if mode and strategy_id:
            service_id = self.settings.mode(mode).discovery_service_id
            registered = self.cloud_map.attributes(service_id, strategy_id)
            if registered is not None and registered.get("deployment_id") == deployment_id:
                deregistered = self.cloud_map.deregister(service_id, strategy_id)
        now = iso(self.now())
        released = False
        if slot_key and holds(slot, deployment_id):
            released, _ = self.slots.update_held(
                slot_key,
                deployment_id,
                {"status": contract.SLOT_FAILED, "error": error, "stopped_at": now, "updated_at": now},
                statuses=SLOT_ACTIVE,
            )
        recorded = False
        if name:
            recorded = self.deployments.update(
                name,
                deployment_id,
                {"status": contract.FAILED, "error": error, "failed_at": now, "updated_at": now},
                statuses=(contract.IN_PROGRESS,),
                create={
                    "environment": self.settings.environment,
                    "created_at": now,
                    "kind": contract.DEPLOYMENT_KIND,
                    "ttl": int(self.now().timestamp()) + self.settings.deployment_ttl_days * 86400,
                    "action": known["action"],
                    "mode": mode,
                    "strategy_id": strategy_id,
                    "requested_by": known["requested_by"],
                },
            )
        else:
            logger.warning("no valid strategy_name: the deployment cannot be recorded FAILED")
        if recorded:
            metrics.add_metric(METRIC_FAILED, MetricUnit.Count, 1)
        logger.warning(
            "deployment aborted",
            extra={
                "error": error,
                "stopped_tasks": stopped,
                "deregistered": deregistered,
                "slot_released": released,
                "recorded": recorded,
            },
        )
        return {
            "aborted": True,
            "status": contract.FAILED,
            "error": error,
            "stopped_tasks": stopped,
            "deregistered": deregistered,
        }

    def _stop_own_tasks(
        self, deployment_id: str, event: Mapping[str, Any], slot: Mapping[str, Any] | None, error: str
    ) -> list[str]:
        task = event.get("task")
        if not isinstance(task, dict):
            task = {}
        arns = [
            arn
            for arn in (task.get("task_arn"), (slot or {}).get("task_arn") if holds(slot, deployment_id) else None)
            if isinstance(arn, str) and arn.startswith("arn:")
        ]
        arns += self.ecs.tasks_started_by(started_by(deployment_id), "RUNNING")
        stopped = []
        for arn in dict.fromkeys(arns):
            if self.ecs.stop(arn, stop_reason(deployment_id, f"aborted: {error}")):
                stopped.append(arn)
        return stopped

    # --- shared --------------------------------------------------------------------------------------------------

    def _retire(self, retirement: Retirement, plan: Plan, why: str) -> None:
        """Stop a replaced deployment's task, deregister it (if the registration is its), slot STOPPED and
        deployment RETIRED; each part is skipped when done already."""
        if retirement.task_arn:
            self.ecs.stop(retirement.task_arn, stop_reason(retirement.deployment_id, why))
        service_id = self.settings.mode(retirement.mode).discovery_service_id
        registered = self.cloud_map.attributes(service_id, plan.strategy_id)
        if registered is not None and registered.get("deployment_id") == retirement.deployment_id:
            self.cloud_map.deregister(service_id, plan.strategy_id)
        now = iso(self.now())
        stopped, _ = self.slots.update_held(
            retirement.slot_key,
            retirement.deployment_id,
            {"status": contract.SLOT_STOPPED, "stopped_at": now, "updated_at": now, "retired_by": plan.deployment_id},
            statuses=SLOT_ACTIVE,
        )
        self.deployments.update(
            retirement.strategy_name,
            retirement.deployment_id,
            {"status": contract.RETIRED, "retired_at": now, "retired_by": plan.deployment_id, "updated_at": now},
            statuses=(contract.SUCCEEDED,),
        )
        if stopped:
            metrics.add_metric(METRIC_RETIRED, MetricUnit.Count, 1)
            logger.info(
                "deployment retired",
                extra={"retired_deployment_id": retirement.deployment_id, "slot_key": retirement.slot_key, "why": why},
            )

    @staticmethod
    def _plan_of(deployment_id: str, event: Mapping[str, Any]) -> Plan:
        plan = Plan.from_dict(section(event, "plan"), deployment_id)
        logger.append_keys(action=plan.action, strategy_id=plan.strategy_id)
        return plan

    @staticmethod
    def _plan_or_none(deployment_id: str, data: Any) -> Plan | None:
        if not data:  # prepare failed: the workflow passes {}
            return None
        try:
            return Plan.from_dict(data, deployment_id)
        except ValueError as exc:
            logger.warning(f"abort: plan unusable, falling back to the request: {exc}")
            return None

    @staticmethod
    def _task_arn(event: Mapping[str, Any], slot: Mapping[str, Any] | None, deployment_id: str) -> str:
        task = section(event, "task", required=False)
        arn = task.get("task_arn") or ((slot or {}).get("task_arn") if holds(slot, deployment_id) else None)
        if not (isinstance(arn, str) and arn.startswith("arn:aws") and ":task/" in arn):
            raise invalid("task.task_arn", task.get("task_arn"), "the ECS task ARN start returned")
        return arn
