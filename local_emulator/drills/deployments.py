"""Strategy deployment drill: stage and promote one strategy through the deployed workflow (issue 14).

The deployed ``tradai-strategy-deployment-<env>`` state machine runs in moto's Step Functions interpreter; its
Lambda tasks run the deployed ``tradai-strategy-deployer-<env>`` handler in-process (harness patch 8), and its
trading tasks start in the emulator's ECS. moto runs no container, so the drill plays the trading container:
the task stays RUNNING (moto would otherwise advance it to STOPPED on the first DescribeTasks, so the drill
holds ECS task states as the handler tests do) at the private IP moto gave its ENI, and it writes the heartbeat
on its slot in tradai-trading-state.

moto's interpreter really sleeps in a Wait state: harness patch 39 ends the workflow's 15 s poll after
``patches.WAIT_CAP_SECONDS``, or as soon as the drill has played the container (``patches.end_waits``), so each
run checks the task once the container runs (a run checked too early polls again).

Steps (each a line of the drill's detail):
1. a config version (tradai-config-versions) and its file (configs bucket) are seeded; the Cloud Map services
   dry-run-trading and live-trading are found (or created, as the health-check drill does, with TRADING_MODES
   overridden to their ids when moto's CloudFormation built none);
2. stage: execution SUCCEEDED; the dry-run task started on the dry-run capacity provider with the per-run
   overrides; slot RUNNING, deployment SUCCEEDED, task registered in dry-run-trading at its private IP;
3. a duplicate stage is refused: FAILED at Prepare with AlreadyRunning, no task started, the slot unchanged;
4. a promote whose live task never heartbeats (HEALTH_TIMEOUT_SECONDS shortened for this run) reaches its
   deadline: FAILED via TaskUnhealthy, live task stopped, live slot and deployment FAILED, dry-run untouched;
5. promote: live task on the live capacity provider, heartbeat played, execution SUCCEEDED, live slot RUNNING
   and registered in live-trading; the dry-run task stopped, deregistered, its slot STOPPED (RETIRED);
6. cleanup: the drill's instances are deregistered, its tasks stopped, its slots STOPPED, its ENIs and the
   Cloud Map services it created (if any) deleted.

moto's CloudFormation registers task definitions without their awsvpc network mode, so RunTask attaches no
ENI; playing Fargate, the drill gives a started task an ENI in the deployer's task subnet (its private IP is
what the deployer registers in Cloud Map).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.ecs.models import ecs_backends
from moto.moto_api import state_manager

from .. import ACCOUNT, REGION, patches
from ..smoke.model import CheckContext
from . import workflows
from .operations import _cloud_map_services
from .support import expect, function_environment, get_item, lines, wait_for

KEY = "strategy-deployer"
SERVICES = {"dry-run": "dry-run-trading", "live": "live-trading"}  # trading mode -> Cloud Map service
PROVIDERS = {"dry-run": "FARGATE_SPOT", "live": "FARGATE"}  # the capacity provider each mode must run on
RUN_OVERRIDES = ("STRATEGY_ID", "STRATEGY", "TRADING_MODE", "CONFIG_PATH", "TRADING_STATE_KEY")
STRATEGY_CLASS = "PascalStrategy"
SHORT_HEALTH_TIMEOUT = "1"  # seconds: the failing promote's deadline has passed at its first check
ECS_TASK_MODEL = "ecs::task"


# --- pure helpers (unit-tested in tests/local) ---------------------------------------------------------------


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and Z, as the deployer and the trading containers write times."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def heartbeat_after(started_at: str | None, now: datetime) -> str:
    """The heartbeat a container just started writes: now, but always strictly after the slot's started_at
    (the deployer counts only heartbeats newer than the task's start)."""
    if started_at:
        started = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
        now = max(now, started + timedelta(milliseconds=1))
    return iso(now)


def container_environment(overrides: Mapping[str, Any], container: str = "strategy") -> dict[str, str]:
    """name -> value of the environment overrides RunTask gave ``container`` (ECS API shape)."""
    return {
        e["name"]: e["value"]
        for o in overrides.get("containerOverrides") or []
        if o.get("name") == container
        for e in o.get("environment") or []
    }


def trading_modes_override(deployed: str, service_ids: Mapping[str, str]) -> dict[str, str]:
    """env_overrides pointing the deployer's TRADING_MODES at the Cloud Map services found (mode -> id); empty
    when the deployed ids are those already."""
    modes = json.loads(deployed)
    if all(modes[mode]["discovery_service_id"] == service_ids[mode] for mode in modes):
        return {}
    return {
        "TRADING_MODES": json.dumps(
            {mode: {**spec, "discovery_service_id": service_ids[mode]} for mode, spec in modes.items()}
        )
    }


def private_ip(attachments: Iterable[Mapping[str, Any]]) -> str | None:
    """The private IPv4 address of a task's ENI attachment (DescribeTasks shape), if any."""
    return next(
        (
            d["value"]
            for a in attachments
            if a.get("type") == "ElasticNetworkInterface"
            for d in a.get("details") or []
            if d.get("name") == "privateIPv4Address" and d.get("value")
        ),
        None,
    )


def eni_attachment(eni: Mapping[str, Any]) -> dict[str, Any]:
    """The ENI attachment Fargate gives an awsvpc task, for a CreateNetworkInterface answer."""
    return {
        "id": str(uuid.uuid4()),
        "type": "ElasticNetworkInterface",
        "status": "ATTACHED",
        "details": [
            {"name": "subnetId", "value": eni["SubnetId"]},
            {"name": "networkInterfaceId", "value": eni["NetworkInterfaceId"]},
            {"name": "macAddress", "value": eni.get("MacAddress", "")},
            {"name": "privateDnsName", "value": eni.get("PrivateDnsName", "")},
            {"name": "privateIPv4Address", "value": eni["PrivateIpAddress"]},
        ],
    }


def first_failure(events: Iterable[Mapping[str, Any]]) -> tuple[str, str] | None:
    """(state, error) of the first task or Lambda function that failed in an execution, if any."""
    state = None
    for event in events:
        if "stateEnteredEventDetails" in event:
            state = event["stateEnteredEventDetails"]["name"]
        for key in ("taskFailedEventDetails", "lambdaFunctionFailedEventDetails"):
            if key in event:
                return state or "?", str(event[key].get("error", ""))
    return None


# --- the drill -----------------------------------------------------------------------------------------------


def stage_and_promote(ctx: CheckContext, invoke: Callable[..., Any]) -> str:
    """Run the steps above; raise DrillFailure at the first one that does not hold."""
    with _tasks_stay_running():
        run = _Run(ctx)
        try:
            return run.steps()
        finally:
            run.clean_up()


@contextmanager
def _tasks_stay_running() -> Iterator[None]:
    """moto advances an ECS task's status on every read (to STOPPED at once by default); keep tasks RUNNING
    until StopTask, as the handler tests do, and restore the previous setting afterwards."""
    previous = state_manager._transitions.get(ECS_TASK_MODEL)
    state_manager.set_transition(model_name=ECS_TASK_MODEL, transition={"progression": "manual", "times": 10**9})
    try:
        yield
    finally:
        if previous is None:
            state_manager.unset_transition(ECS_TASK_MODEL)
        else:
            state_manager.set_transition(model_name=ECS_TASK_MODEL, transition=previous)


class _Run:
    def __init__(self, ctx: CheckContext):
        self.ctx, self.cfg = ctx, ctx.cfg
        self.env = function_environment(ctx, KEY)
        self.sfn, self.ddb = ctx.client("stepfunctions"), ctx.client("dynamodb")
        self.cloud_map = ctx.client("servicediscovery")
        suffix = uuid.uuid4().hex[:8]
        self.strategy_name, self.strategy_id = f"drill-momentum-{suffix}", f"drill-{suffix}"
        self.config_id, self.config_hash = f"cfg-{suffix}", f"sha256-drill{suffix}"
        self.trading, self.deployments = self.env["TRADING_STATE_TABLE"], self.env["DEPLOYMENTS_TABLE"]
        self.service_ids: dict[str, str] = {}
        self.created_services: list[str] = []
        self.tasks: list[str] = []
        self.enis: list[str] = []
        self.played_enis = 0

    # --- the steps ---------------------------------------------------------------------------------------------

    def steps(self) -> str:
        steps = [self._seed()]
        machine = workflows.interpret(self.ctx, self.cfg.naming.name("strategy-deployment"))
        self.machine_arn = machine.arn
        deployer = self.cfg.function_name(KEY)
        expect(
            workflows.task_functions(machine.definition) == [deployer],
            f"{machine.name} does not invoke exactly {deployer}",
            workflows.task_functions(machine.definition),
        )
        overrides = trading_modes_override(self.env["TRADING_MODES"], self.service_ids)
        workflows.route(self.ctx, KEY, overrides or None)
        if overrides:
            steps[0] += " (TRADING_MODES overridden to these ids: moto's CloudFormation built no Cloud Map)"

        staged = self._stage()
        steps.append(staged["line"])
        steps.append(self._duplicate_stage(staged["deployment_id"]))
        workflows.route(self.ctx, KEY, {**overrides, "HEALTH_TIMEOUT_SECONDS": SHORT_HEALTH_TIMEOUT})
        steps.append(self._unhealthy_promote(staged))
        workflows.route(self.ctx, KEY, overrides or None)
        steps.append(self._promote(staged))
        if self.played_enis:
            steps.append(
                f"   the drill gave {self.played_enis} task(s) their Fargate ENI (a network interface in "
                f"the task subnet: moto's CloudFormation registers the task definitions without their "
                f"awsvpc network mode, so RunTask attached none) before marking them RUNNING"
            )
        steps.append(f"6 cleanup: {self.clean_up()}")
        return lines(
            f"{self.strategy_id} staged, promote refused on no heartbeat, then promoted "
            f"({machine.name}; its 15 s poll ended by harness patch 39 once the container is played, "
            f"else after {patches.WAIT_CAP_SECONDS:g} s):",
            steps,
        )

    def _seed(self) -> str:
        bucket, key = self.env["CONFIGS_BUCKET"], f"configs/{self.strategy_name}/{self.config_id}.json"
        self.ctx.client("s3").put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(
                {"strategy": STRATEGY_CLASS, "timeframe": "1h", "pairs": ["BTC/USDT"], "stake_amount": 100}
            ).encode(),
        )
        table = self.env["CONFIG_VERSIONS_TABLE"]
        self.ddb.put_item(
            TableName=table,
            Item={
                "strategy_name": {"S": self.strategy_name},
                "config_id": {"S": self.config_id},
                "config_hash": {"S": self.config_hash},
                "s3_key": {"S": key},
                "strategy": {"S": STRATEGY_CLASS},
                "created_at": {"S": iso(datetime.now(UTC))},
            },
        )
        before = self._service_names()
        ids = _cloud_map_services(self.ctx, self.cfg.namespace, list(SERVICES.values()))
        self.created_services = [ids[name] for name in SERVICES.values() if name not in before]
        self.service_ids = {mode: ids[name] for mode, name in SERVICES.items()}
        return (
            f"1 seeded {table} {self.strategy_name}/{self.config_id} (hash {self.config_hash}, "
            f"{STRATEGY_CLASS}) and s3://{bucket}/{key}; Cloud Map {self.cfg.namespace}: "
            + ", ".join(f"{SERVICES[m]} {i}" for m, i in self.service_ids.items())
            + (" (created by the drill)" if self.created_services else "")
        )

    def _stage(self) -> dict[str, Any]:
        deployment_id = self._deployment_id("stage")
        slot_key = f"{self.strategy_id}#dry-run"
        execution, task, environment, ip = self._run_to_success(
            deployment_id, "stage", "dry-run", slot_key, config_hash=self.config_hash
        )
        states = workflows.states(self.ctx, execution)
        slot, record = self._slot(slot_key), self._deployment(deployment_id)
        expect(
            slot.get("status") == "RUNNING"
            and slot.get("deployment_id") == deployment_id
            and slot.get("task_arn") == task.task_arn,
            f"{slot_key} is not RUNNING with the task",
            slot,
        )
        expect(
            record.get("status") == "SUCCEEDED" and record.get("task_arn") == task.task_arn,
            f"deployment {deployment_id} is not SUCCEEDED",
            record,
        )
        attributes = self._instance("dry-run")
        expect(
            attributes is not None
            and attributes.get("AWS_INSTANCE_IPV4") == ip
            and attributes.get("deployment_id") == deployment_id
            and attributes.get("task_arn") == task.task_arn,
            f"{self.strategy_id} is not registered in {SERVICES['dry-run']} at {ip}",
            attributes,
        )
        assert attributes is not None  # expect raised otherwise
        line = (
            f"2 stage {deployment_id}: SUCCEEDED via {' > '.join(states)}; dry-run task "
            f"{_short(task.task_arn)} on {task.capacity_provider_name} with {_overrides_text(environment)}; "
            f"container played (RUNNING at {ip}, heartbeat on {slot_key}); slot RUNNING, deployment SUCCEEDED, "
            f"registered in {SERVICES['dry-run']} as {self.strategy_id} at {ip}:"
            f"{attributes.get('AWS_INSTANCE_PORT')}"
        )
        return {"line": line, "deployment_id": deployment_id, "task_arn": task.task_arn, "ip": ip}

    def _duplicate_stage(self, staged_id: str) -> str:
        deployment_id = self._deployment_id("stage")
        slot_key = f"{self.strategy_id}#dry-run"
        execution = self._start(deployment_id, "stage", config_hash=self.config_hash)
        result = workflows.finished(self.ctx, execution)
        events = workflows.events(self.ctx, execution)
        failure = first_failure(events)
        expect(
            result["status"] == "FAILED" and failure == ("Prepare", "AlreadyRunning"),
            f"duplicate stage {result['status']}, first failure {failure} (not Prepare/AlreadyRunning)",
            workflows.history(self.ctx, execution),
        )
        expect(
            "StartTask" not in workflows.entered_states(events) and not self._tasks_of(deployment_id),
            "the duplicate stage started a task",
            workflows.history(self.ctx, execution),
        )
        slot, record = self._slot(slot_key), self._deployment(deployment_id)
        expect(slot.get("status") == "RUNNING" and slot.get("deployment_id") == staged_id, f"{slot_key} changed", slot)
        expect(
            record.get("status") == "FAILED" and str(record.get("error", "")).startswith("AlreadyRunning"),
            f"deployment {deployment_id} is not FAILED with AlreadyRunning",
            record,
        )
        return (
            f"3 duplicate stage {deployment_id}: FAILED at Prepare with AlreadyRunning "
            f"({' > '.join(workflows.entered_states(events))}); no task started, {slot_key} still RUNNING for "
            f"{staged_id}; deployment recorded FAILED"
        )

    def _unhealthy_promote(self, staged: dict[str, Any]) -> str:
        deployment_id = self._deployment_id("promote")
        slot_key = f"{self.strategy_id}#live"
        execution = self._start(deployment_id, "promote")
        task, environment = self._started_task("live", slot_key, deployment_id, execution)
        result = workflows.finished(self.ctx, execution)
        events = workflows.events(self.ctx, execution)
        states = workflows.entered_states(events)
        expect(
            result["status"] == "FAILED" and "TaskUnhealthy" in states and "Activate" not in states,
            f"promote without heartbeat {result['status']} via {' > '.join(states)}",
            workflows.history(self.ctx, execution),
        )
        slot, record = self._slot(slot_key), self._deployment(deployment_id)
        expect(task.last_status == "STOPPED", f"live task {_short(task.task_arn)} is {task.last_status}")
        expect(
            slot.get("status") == "FAILED"
            and record.get("status") == "FAILED"
            and "deadline" in str(record.get("error", "")),
            f"{slot_key} / deployment {deployment_id} are not FAILED on the deadline",
            [slot, record],
        )
        expect(self._instance("live") is None, f"{self.strategy_id} is registered in {SERVICES['live']}")
        self._dry_run_untouched(staged)
        return (
            f"4 promote {deployment_id} with HEALTH_TIMEOUT_SECONDS={SHORT_HEALTH_TIMEOUT} (this run only) "
            f"and no heartbeat: live task {_short(task.task_arn)} on {task.capacity_provider_name} "
            f"(TRADING_MODE={environment.get('TRADING_MODE')}); FAILED via {' > '.join(states[-4:])} "
            f"({record.get('error')}); live task stopped, {slot_key} FAILED, nothing registered; "
            f"dry-run still RUNNING and registered"
        )

    def _promote(self, staged: dict[str, Any]) -> str:
        deployment_id = self._deployment_id("promote")
        slot_key, dry_run_key = f"{self.strategy_id}#live", f"{self.strategy_id}#dry-run"
        execution, task, environment, ip = self._run_to_success(deployment_id, "promote", "live", slot_key)
        states = workflows.states(self.ctx, execution)
        slot, record = self._slot(slot_key), self._deployment(deployment_id)
        expect(
            slot.get("status") == "RUNNING"
            and slot.get("task_arn") == task.task_arn
            and record.get("status") == "SUCCEEDED",
            f"{slot_key} / deployment not RUNNING / SUCCEEDED",
            [slot, record],
        )
        live = self._instance("live")
        expect(
            live is not None and live.get("AWS_INSTANCE_IPV4") == ip and live.get("deployment_id") == deployment_id,
            f"{self.strategy_id} is not registered in {SERVICES['live']} at {ip}",
            live,
        )
        assert live is not None  # expect raised otherwise
        dry_task = self._task(staged["task_arn"])
        dry_slot, dry_record = self._slot(dry_run_key), self._deployment(staged["deployment_id"])
        expect(
            dry_task is not None and dry_task.last_status == "STOPPED",
            f"dry-run task {_short(staged['task_arn'])} is {getattr(dry_task, 'last_status', None)}",
        )
        expect(self._instance("dry-run") is None, f"{self.strategy_id} is still registered in {SERVICES['dry-run']}")
        expect(
            dry_slot.get("status") == "STOPPED" and dry_record.get("status") == "RETIRED",
            f"{dry_run_key} / staged deployment not STOPPED / RETIRED",
            [dry_slot, dry_record],
        )
        return (
            f"5 promote {deployment_id}: SUCCEEDED via {' > '.join(states)}; live task "
            f"{_short(task.task_arn)} on {task.capacity_provider_name} with "
            f"TRADING_MODE={environment.get('TRADING_MODE')}, heartbeat played; {slot_key} RUNNING (reclaimed "
            f"from the failed promote), registered in {SERVICES['live']} at {ip}:{live.get('AWS_INSTANCE_PORT')}; "
            f"dry-run task stopped, deregistered, {dry_run_key} STOPPED, "
            f"{staged['deployment_id']} RETIRED"
        )

    # --- playing the workflow's world ----------------------------------------------------------------------------

    def _run_to_success(
        self, deployment_id: str, action: str, mode: str, slot_key: str, **extra: str
    ) -> tuple[str, Any, dict[str, str], str]:
        """Start ``action``, play the task it starts in ``mode`` and expect the execution to succeed: the execution,
        the task, its environment and its private IP."""
        execution = self._start(deployment_id, action, **extra)
        task, environment = self._started_task(mode, slot_key, deployment_id, execution)
        ip = self._play_container(task, slot_key)
        result = workflows.finished(self.ctx, execution)
        expect(
            result["status"] == "SUCCEEDED",
            f"{action} execution {result['status']}",
            workflows.history(self.ctx, execution),
        )
        return execution, task, environment, ip

    def _start(self, deployment_id: str, action: str, **extra: str) -> str:
        request = {
            "action": action,
            "strategy_name": self.strategy_name,
            "strategy_id": self.strategy_id,
            "requested_by": "local-emulator",
            **extra,
        }
        return self.sfn.start_execution(
            stateMachineArn=self.machine_arn, name=deployment_id, input=json.dumps(request)
        )["executionArn"]

    def _started_task(self, mode: str, slot_key: str, deployment_id: str, execution: str):
        """The task the deployment started (found through its slot), checked: capacity provider, overrides."""

        def started():
            slot = self._slot(slot_key)
            arn = slot.get("task_arn") if slot.get("deployment_id") == deployment_id else None
            return self._task(arn) if arn else None

        task = wait_for(
            started, f"the {mode} task of {deployment_id} to start", lambda: workflows.history(self.ctx, execution)
        )
        self.tasks.append(task.task_arn)
        environment = container_environment(task.overrides)
        slot = self._slot(slot_key)
        wanted = {
            "STRATEGY_ID": self.strategy_id,
            "STRATEGY": STRATEGY_CLASS,
            "TRADING_MODE": mode,
            "CONFIG_PATH": slot.get("config_path"),
            "TRADING_STATE_KEY": slot_key,
        }
        expect(
            environment == wanted and str(wanted["CONFIG_PATH"]).startswith(f"s3://{self.env['CONFIGS_BUCKET']}/"),
            f"{mode} task overrides are not {wanted}",
            environment,
        )
        expect(list(environment) == list(RUN_OVERRIDES), f"overrides not in the order {RUN_OVERRIDES}", environment)
        expect(
            task.capacity_provider_name == PROVIDERS[mode],
            f"{mode} task on {task.capacity_provider_name}, not {PROVIDERS[mode]}",
        )
        family = json.loads(self.env["TRADING_MODES"])[mode]["family"]
        expect(
            f":task-definition/{family}:" in task.task_definition_arn,
            f"{mode} task runs {task.task_definition_arn}, not {family}",
        )
        return task, environment

    def _play_container(self, task, slot_key: str) -> str:
        """What Fargate and the trading container would do: run with an ENI in the task subnet, heartbeat."""
        task.last_status = "RUNNING"
        ip = private_ip(task.attachments)
        if ip is None:
            self.played_enis += 1
            eni = self.ctx.client("ec2").create_network_interface(
                SubnetId=self.env["TASK_SUBNETS"].split(",")[0],
                Groups=self.env["TASK_SECURITY_GROUPS"].split(","),
                Description=f"local deploy drill: Fargate ENI of task {_short(task.task_arn)}",
            )["NetworkInterface"]
            self.enis.append(eni["NetworkInterfaceId"])
            task.attachments.append(eni_attachment(eni))
            ip = private_ip(task.attachments)
        expect(bool(ip), f"task {_short(task.task_arn)} has no private IPv4 address", task.attachments)
        assert ip is not None  # expect raised otherwise
        beat = heartbeat_after(self._slot(slot_key).get("started_at"), datetime.now(UTC))
        self.ddb.update_item(
            TableName=self.trading,
            Key={"strategy_id": {"S": slot_key}},
            UpdateExpression="SET last_heartbeat = :beat",
            ExpressionAttributeValues={":beat": {"S": beat}},
        )
        patches.end_waits()
        return ip

    # --- reading ------------------------------------------------------------------------------------------------

    def _deployment_id(self, action: str) -> str:
        return f"{self.strategy_id}-{action}-{uuid.uuid4().hex[:6]}"

    def _slot(self, key: str) -> dict[str, Any]:
        return get_item(self.ctx, self.trading, {"strategy_id": key}) or {}

    def _deployment(self, deployment_id: str) -> dict[str, Any]:
        return (
            get_item(self.ctx, self.deployments, {"strategy_name": self.strategy_name, "deployment_id": deployment_id})
            or {}
        )

    def _instance(self, mode: str) -> dict[str, str] | None:
        instances = self.cloud_map.list_instances(ServiceId=self.service_ids[mode])["Instances"]
        return next((i.get("Attributes", {}) for i in instances if i["Id"] == self.strategy_id), None)

    @staticmethod
    def _task(task_arn: str):
        for tasks in ecs_backends[ACCOUNT][REGION].tasks.values():
            if task_arn in tasks:
                return tasks[task_arn]
        return None

    def _tasks_of(self, deployment_id: str) -> list[str]:
        """Tasks tagged with the deployment id (the deployer tags every task it starts)."""
        return [
            task.task_arn
            for tasks in ecs_backends[ACCOUNT][REGION].tasks.values()
            for task in tasks.values()
            if {"key": "deployment_id", "value": deployment_id} in (task.tags or [])
        ]

    def _dry_run_untouched(self, staged: dict[str, Any]) -> None:
        key = f"{self.strategy_id}#dry-run"
        slot, task, attributes = self._slot(key), self._task(staged["task_arn"]), self._instance("dry-run")
        expect(
            slot.get("status") == "RUNNING"
            and slot.get("deployment_id") == staged["deployment_id"]
            and task is not None
            and task.last_status == "RUNNING"
            and (attributes or {}).get("deployment_id") == staged["deployment_id"],
            "the failed promote touched the dry-run",
            [slot, getattr(task, "last_status", None), attributes],
        )

    # --- cleanup ------------------------------------------------------------------------------------------------

    def clean_up(self) -> str:
        """Deregister the drill's instances, stop its tasks, mark its slots STOPPED (as an operator's stop),
        delete its ENIs and the Cloud Map services it created; best effort (the drill may have failed half-way).
        Idempotent; returns what it did."""
        deregistered = [
            SERVICES[mode]
            for mode, service_id in self.service_ids.items()
            if _quietly(self.cloud_map.deregister_instance, ServiceId=service_id, InstanceId=self.strategy_id)
        ]
        ecs, stopped = self.ctx.client("ecs"), 0
        for arn in self.tasks:
            task = self._task(arn)
            if task is not None and task.last_status != "STOPPED":
                stopped += _quietly(ecs.stop_task, cluster=task.cluster_arn, task=arn, reason="local deploy drill done")
        slots = 0
        for mode in SERVICES:
            key = f"{self.strategy_id}#{mode}"
            slots += _quietly(
                self.ddb.update_item,
                TableName=self.trading,
                Key={"strategy_id": {"S": key}},
                UpdateExpression="SET #s = :s",
                ConditionExpression="attribute_exists(strategy_id) AND #s IN (:running, :starting)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":s": {"S": "STOPPED"},
                    ":running": {"S": "RUNNING"},
                    ":starting": {"S": "STARTING"},
                },
            )
        ec2 = self.ctx.client("ec2")
        enis = sum(_quietly(ec2.delete_network_interface, NetworkInterfaceId=eni) for eni in self.enis)
        self.enis = []
        services = sum(_quietly(self.cloud_map.delete_service, Id=service_id) for service_id in self.created_services)
        self.created_services = []
        return (
            f"deregistered {self.strategy_id} from {', '.join(deregistered) or 'no service'}, stopped "
            f"{stopped} task(s), {slots} slot(s) STOPPED, deleted {enis} played ENI(s)"
            + (f" and {services} Cloud Map service(s) the drill created" if services else "")
        )

    def _service_names(self) -> set[str]:
        namespaces = [
            n["Id"] for n in self.cloud_map.list_namespaces()["Namespaces"] if n["Name"] == self.cfg.namespace
        ]
        if not namespaces:
            return set()
        return {
            s["Name"]
            for s in self.cloud_map.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": namespaces}])["Services"]
        }


def _quietly(call: Callable[..., Any], **kwargs: Any) -> bool:
    """Whether ``call(**kwargs)`` succeeded (cleanup of what may not exist, or exist no more)."""
    try:
        call(**kwargs)
    except Exception:  # noqa: BLE001
        return False
    return True


def _short(task_arn: str) -> str:
    return task_arn.rsplit("/", 1)[-1][:8]


def _overrides_text(environment: Mapping[str, str]) -> str:
    return ", ".join(f"{name}={environment.get(name)}" for name in RUN_OVERRIDES)
