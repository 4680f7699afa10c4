"""Fixtures and helpers for the strategy deployer tests (moto in-process; see conftest's `aws` and moto_fixtures).

``deploy_env`` builds what the deployer works on: the three tables, the network, the ECS cluster with the two
trading task definitions, the Cloud Map namespace with the two trading services, and the environment.
``DeployEnv.run`` drives one deployment through the steps as the workflow does (prepare, start, check until
HEALTHY or FAILED, activate; any error -> abort), so tests read like executions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

import pytest
from moto.ecs.models import ecs_backends
from moto.moto_api import state_manager

from deployments import contract, deployer
from shared.clock import iso
from shared.ddb import marshal, unmarshal

from .conftest import REGION
from .moto_fixtures import (ACCOUNT, ENV, LambdaContext, MotoEnv, clear_package_caches, cold_start_fixture,
                            create_table, emf_values, service_errors, service_logs, string_attributes)

TRADING_TABLE = f"tradai-trading-state-{ENV}"
DEPLOYMENTS_TABLE = f"tradai-deployments-{ENV}"
CONFIG_VERSIONS_TABLE = f"tradai-config-versions-{ENV}"
CONFIGS_BUCKET = f"tradai-configs-{ENV}-{ACCOUNT}"
CLUSTER_NAME = f"tradai-{ENV}"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER_NAME}"
FAMILIES = {contract.DRY_RUN: f"dry-run-trading-{ENV}", contract.LIVE: f"live-trading-{ENV}"}
PROVIDERS = {contract.DRY_RUN: "FARGATE_SPOT", contract.LIVE: "FARGATE"}
PORTS = {contract.DRY_RUN: 8005, contract.LIVE: 8004}
NAMESPACE = f"tradai-{ENV}.local"
STRATEGY_NAME, STRATEGY_ID, STRATEGY_CLASS = "pascal", "pascal-btc", "PascalStrategy"


@dataclass
class Context(LambdaContext):
    function_name: str = f"tradai-strategy-deployer-{ENV}"
    remaining_ms: int = 60_000


def clear_caches() -> None:
    """A new cold start of the deployer (settings, clients, the Deployer)."""
    clear_package_caches("deployments")


cold_start = cold_start_fixture(clear_caches)


def request(action: str, **overrides: Any) -> dict[str, Any]:
    """A workflow input (None removes a field)."""
    body = {"action": action, "strategy_name": STRATEGY_NAME, "strategy_id": STRATEGY_ID,
            "requested_by": "alice@example.com"}
    if action == contract.STAGE:
        body["config_hash"] = "sha256-c1"
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def lambda_error(exc: BaseException) -> dict[str, str]:
    """What a Catch puts in $.error for a Lambda function error."""
    return {"Error": type(exc).__name__,
            "Cause": json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": []})}


def emf_metrics(capsys) -> dict[str, float]:
    found: dict[str, float] = {}
    for name, value, _dimensions in emf_values(capsys, contract.METRICS_NAMESPACE):
        found[name] = found.get(name, 0) + value
    return found


@dataclass
class DeployEnv(MotoEnv):
    """moto resources of the deployer, a controllable clock and helpers that act as the workflow and the
    trading containers."""

    subnet_ids: list[str] = field(default_factory=list)
    security_group_id: str = ""
    service_ids: dict[str, str] = field(default_factory=dict)
    offset: timedelta = timedelta()
    calls: dict[str, list[dict]] = field(default_factory=dict)
    packages = ("deployments",)

    # --- time and invocations ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)

    def invoke(self, step: Optional[str], deployment_id: Optional[str], req: Any = None, **parts: Any) -> dict:
        """One invocation as the workflow sends it (None leaves ``step`` / ``deployment_id`` out)."""
        event: dict[str, Any] = {"request": req, **parts}
        if step is not None:
            event["step"] = step
        if deployment_id is not None:
            event["deployment_id"] = deployment_id
        deployer.deployer().now = self.now  # the test's clock (after any cold start)
        return deployer.handler(json.loads(json.dumps(event)), Context())

    def run(self, req: dict[str, Any], deployment_id: str, *, healthy: bool = True, checks: int = 3,
            before_check: Optional[Callable[[dict[str, Any], int], None]] = None) -> dict[str, Any]:
        """Drive one deployment as the workflow does; the state holds every step's output and "outcome"
        (Deployed, DeploymentFailed or Waiting). ``healthy``: the container heartbeats before each check;
        ``before_check(state, attempt)`` runs instead when given."""
        state: dict[str, Any] = {"request": req, "plan": {}, "task": {}, "check": {}}
        error: Optional[dict[str, str]] = None
        try:
            state["plan"] = self.invoke(contract.STEP_PREPARE, deployment_id, req)
            state["task"] = self.invoke(contract.STEP_START, deployment_id, req, plan=state["plan"])
            for attempt in range(checks):
                if before_check is not None:
                    before_check(state, attempt)
                elif healthy:
                    self.beat(state["plan"]["slot_key"])
                state["check"] = self.invoke(contract.STEP_CHECK, deployment_id, req, plan=state["plan"],
                                             task=state["task"])
                if state["check"]["state"] == contract.HEALTHY:
                    state["activation"] = self.invoke(contract.STEP_ACTIVATE, deployment_id, req,
                                                      plan=state["plan"], task=state["task"], check=state["check"])
                    state["outcome"] = "Deployed"
                    return state
                if state["check"]["state"] == contract.FAILED_CHECK:
                    error = {"Error": "TaskUnhealthy", "Cause": state["check"]["reason"]}
                    break
            else:
                state["outcome"] = "Waiting"
                return state
        except Exception as exc:  # the workflow's catch (States.ALL)
            error = lambda_error(exc)
            state["exception"] = exc
        state["error"] = error
        state["abort"] = self.invoke(contract.STEP_ABORT, deployment_id, req, plan=state["plan"],
                                     task=state["task"], error=error)
        state["outcome"] = "DeploymentFailed"
        return state

    # --- the trading containers and the world around ------------------------------------------------------------

    def beat(self, slot_key: str, at: Optional[datetime] = None) -> str:
        """What a trading container does: SET last_heartbeat on its slot (just after its start by default)."""
        slot = self.slot(slot_key) or {}
        started = datetime.fromisoformat(slot.get("started_at", iso(self.now())).replace("Z", "+00:00"))
        moment = at or max(self.now(), started + timedelta(milliseconds=1))
        self.dynamodb.update_item(TableName=TRADING_TABLE, Key=marshal({"strategy_id": slot_key}),
                                  UpdateExpression="SET last_heartbeat = :beat",
                                  ExpressionAttributeValues=marshal({":beat": iso(moment)}))
        return iso(moment)

    def set_task(self, task_arn: str, last_status: Optional[str] = None, health: Optional[str] = None,
                 stopped_reason: Optional[str] = None) -> None:
        """Set a task's state in moto's backend (moto has no task health or stop events of its own)."""
        task = ecs_backends[ACCOUNT][REGION].tasks[CLUSTER_NAME][task_arn]
        if last_status is not None:
            task.last_status = last_status
            if last_status == "STOPPED":
                task.desired_status = "STOPPED"
        if health is not None:
            for container in task.containers:
                container.health_status = health
        if stopped_reason is not None:
            task.stopped_reason = stopped_reason

    def stop_externally(self, slot_key: str) -> None:
        """What an operator's stop does to a running strategy: StopTask, deregister, slot STOPPED."""
        slot = self.slot(slot_key)
        mode = slot["mode"]
        self.ecs.stop_task(cluster=CLUSTER_ARN, task=slot["task_arn"], reason="operator stop")
        self.client("servicediscovery").deregister_instance(ServiceId=self.service_ids[mode],
                                                           InstanceId=slot_key.split("#")[0])
        self.dynamodb.update_item(TableName=TRADING_TABLE, Key=marshal({"strategy_id": slot_key}),
                                  UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                                  ExpressionAttributeValues=marshal({":s": contract.SLOT_STOPPED}))

    # --- reading what the deployer wrote ------------------------------------------------------------------------

    @property
    def ecs(self) -> Any:
        return self.client("ecs")

    def slot(self, key: str) -> Optional[dict[str, Any]]:
        item = self.dynamodb.get_item(TableName=TRADING_TABLE, Key=marshal({"strategy_id": key}),
                                      ConsistentRead=True).get("Item")
        return unmarshal(item) if item else None

    def deployment(self, deployment_id: str, strategy_name: str = STRATEGY_NAME) -> Optional[dict[str, Any]]:
        item = self.dynamodb.get_item(TableName=DEPLOYMENTS_TABLE, ConsistentRead=True, Key=marshal(
            {"strategy_name": strategy_name, "deployment_id": deployment_id})).get("Item")
        return unmarshal(item) if item else None

    def task(self, task_arn: str) -> dict[str, Any]:
        return self.ecs.describe_tasks(cluster=CLUSTER_ARN, tasks=[task_arn])["tasks"][0]

    def running_tasks(self) -> list[str]:
        return self.ecs.list_tasks(cluster=CLUSTER_ARN, desiredStatus="RUNNING")["taskArns"]

    def instance(self, mode: str, instance_id: str = STRATEGY_ID) -> Optional[dict[str, str]]:
        instances = self.client("servicediscovery").list_instances(ServiceId=self.service_ids[mode])["Instances"]
        found = [i for i in instances if i["Id"] == instance_id]
        assert len(found) <= 1, f"{instance_id} registered {len(found)} times in {mode}"
        return found[0]["Attributes"] if found else None

    def add_config(self, config_id: str, config_hash: str, strategy_name: str = STRATEGY_NAME,
                   strategy: Optional[str] = STRATEGY_CLASS, s3_key: Optional[str] = "auto",
                   created_at: str = "2026-11-01T00:00:00.000Z") -> None:
        item = {"strategy_name": strategy_name, "config_id": config_id, "config_hash": config_hash,
                "created_at": created_at, "strategy": strategy,
                contract.ATTR_CONFIG_KEY: f"configs/{strategy_name}/{config_id}.json" if s3_key == "auto" else s3_key}
        self.dynamodb.put_item(TableName=CONFIG_VERSIONS_TABLE,
                               Item=marshal({k: v for k, v in item.items() if v is not None}))

    def record_calls(self, service_id: str, operation: str) -> list[dict]:
        """Record the API parameters of every call to the operation (the call still goes to moto)."""
        calls = self.calls.setdefault(f"{service_id}.{operation}", [])
        self.session.events.register(f"before-parameter-build.{service_id}.{operation}",
                                     lambda params, **_: calls.append(dict(params)))
        return calls


def create_tables(dynamodb: Any) -> None:
    create_table(dynamodb, TRADING_TABLE, "strategy_id", "ttl")
    create_table(dynamodb, DEPLOYMENTS_TABLE, "strategy_name", "ttl", sort="deployment_id",
                 attributes=string_attributes("environment", "created_at"),
                 GlobalSecondaryIndexes=[{
                     "IndexName": "environment-created_at-index",
                     "KeySchema": [{"AttributeName": "environment", "KeyType": "HASH"},
                                   {"AttributeName": "created_at", "KeyType": "RANGE"}],
                     "Projection": {"ProjectionType": "ALL"}}])
    create_table(dynamodb, CONFIG_VERSIONS_TABLE, "strategy_name", sort="config_id",
                 attributes=string_attributes("config_hash"),
                 GlobalSecondaryIndexes=[{
                     "IndexName": contract.CONFIG_HASH_INDEX,
                     "KeySchema": [{"AttributeName": "config_hash", "KeyType": "HASH"}],
                     "Projection": {"ProjectionType": "KEYS_ONLY"}}])


@pytest.fixture
def ecs_tasks_stay_running():
    """moto advances a task's lastStatus on each DescribeTasks; keep it RUNNING until StopTask instead."""
    state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**9})
    yield
    state_manager.unset_transition("ecs::task")


@pytest.fixture
def deploy_env(aws, monkeypatch, cold_start, ecs_tasks_stay_running) -> DeployEnv:
    create_tables(aws.client("dynamodb"))
    ec2 = aws.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnet_ids = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{i}.0/24",
                                    AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
                  for i, zone in enumerate("ab", start=10)]
    security_group_id = ec2.create_security_group(GroupName="tradai-trading", Description="trading tasks",
                                                  VpcId=vpc_id)["GroupId"]
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER_NAME, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    for family in FAMILIES.values():
        ecs.register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="1024", memory="2048",
            containerDefinitions=[{"name": contract.CONTAINER_NAME, "essential": True, "cpu": 1024, "memory": 2048,
                                   "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/tradai-strategy:latest"}])
    discovery = aws.client("servicediscovery")
    discovery.create_private_dns_namespace(Name=NAMESPACE, Vpc=vpc_id)
    namespace_id = next(n["Id"] for n in discovery.list_namespaces()["Namespaces"] if n["Name"] == NAMESPACE)
    service_ids = {mode: discovery.create_service(
        Name=f"{mode}-trading", NamespaceId=namespace_id,
        DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 10}], "RoutingPolicy": "MULTIVALUE"})["Service"]["Id"]
        for mode in (contract.DRY_RUN, contract.LIVE)}
    modes = {mode: {"family": FAMILIES[mode], "capacity_provider": PROVIDERS[mode],
                    "discovery_service_id": service_ids[mode], "port": PORTS[mode]} for mode in FAMILIES}
    for name, value in {
        contract.ENV_TRADING_TABLE: TRADING_TABLE, contract.ENV_DEPLOYMENTS_TABLE: DEPLOYMENTS_TABLE,
        contract.ENV_CONFIG_VERSIONS_TABLE: CONFIG_VERSIONS_TABLE, contract.ENV_CONFIGS_BUCKET: CONFIGS_BUCKET,
        contract.ENV_ECS_CLUSTER: CLUSTER_ARN, contract.ENV_TASK_SUBNETS: ",".join(subnet_ids),
        contract.ENV_TASK_SECURITY_GROUPS: security_group_id, contract.ENV_ENVIRONMENT: ENV,
        contract.ENV_DEPLOYMENT_TTL_DAYS: "365", contract.ENV_HEALTH_TIMEOUT_SECONDS: "600",
        contract.ENV_MODES: json.dumps(modes),
    }.items():
        monkeypatch.setenv(name, value)
    clear_caches()
    return DeployEnv(aws, monkeypatch, topic_arn="", alerts_queue_url="", subnet_ids=subnet_ids,
                     security_group_id=security_group_id, service_ids=service_ids)


@pytest.fixture
def deploy_logs(caplog):
    """caplog for the deployer's Powertools logger (named after the service)."""
    yield from service_logs(caplog, contract.SERVICE)


def error_logs(caplog):
    return service_errors(caplog, contract.SERVICE)
