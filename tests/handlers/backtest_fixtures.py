"""Fixtures and helpers for the backtest handler tests (moto in-process; see conftest's `aws` and moto_fixtures).

Test modules import the fixtures they use from here (`from .backtest_fixtures import ...`).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

import pytest
from moto.moto_api import state_manager

from backtest import (cleanup_resources, consumer, contract, data_collection_proxy, notify_completion,  # noqa: F401
                      orphan_scanner, update_status, validate_strategy)
from backtest.runs import Runs

from .conftest import REGION
from .moto_fixtures import (ACCOUNT, ENV, NOTIFICATIONS_TABLE, LambdaContext, MotoEnv, ago,  # noqa: F401
                            alerts_topic, clear_package_caches, cold_start_fixture, create_notifications_table,
                            create_table, emf_values, pass_state_machine, service_errors, service_logs,
                            string_attributes)

WORKFLOW_TABLE = f"tradai-workflow-state-{ENV}"
IDEMPOTENCY_TABLE = f"tradai-idempotency-{ENV}"
CLUSTER_NAME = f"tradai-{ENV}"
TASK_FAMILY = f"strategy-container-{ENV}"
STATE_MACHINE_NAME = f"tradai-backtest-workflow-{ENV}"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:tradai-backtest-queue.fifo"


@dataclass
class Context(LambdaContext):
    function_name: str = f"tradai-backtest-consumer-{ENV}"


def clear_caches() -> None:
    """A new cold start of the backtest handlers (settings, clients, repositories, the notifier)."""
    clear_package_caches("backtest")


cold_start = cold_start_fixture(clear_caches)


def request_body(**overrides: Any) -> dict[str, Any]:
    """A valid backtest request (the SQS message body), with field overrides (None removes a field)."""
    body = {"job_id": str(uuid.uuid4()), "strategy": "PascalStrategy", "strategy_id": "pascal-btc",
            "timeframe": "1h", "timerange": "20240101-20240301", "pairs": ["BTC/USDT", "ETH/USDT"],
            "experiment_name": "momentum-q1"}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


_sequence = iter(range(1, 1_000_000))


def sqs_record(body: Any, group: str = "backtests", trace_id: Optional[str] = None,
               receive_count: int = 1, message_id: Optional[str] = None) -> dict[str, Any]:
    """One record of a FIFO queue's Lambda event, as the SQS event source mapping delivers it."""
    text = body if isinstance(body, str) else json.dumps(body)
    number = next(_sequence)
    attributes = {} if trace_id is None else {
        "trace_id": {"stringValue": trace_id, "stringListValues": [], "binaryListValues": [], "dataType": "String"}}
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": f"AQEB{uuid.uuid4().hex}{number:08d}",
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1764567000000",
            "SequenceNumber": f"{18870000000000000000 + number}",
            "MessageGroupId": group,
            "SenderId": "AROAEXAMPLE:tradai-backend-api",
            "MessageDeduplicationId": uuid.uuid5(uuid.NAMESPACE_OID, text).hex,
            "ApproximateFirstReceiveTimestamp": "1764567000123",
        },
        "messageAttributes": attributes,
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": REGION,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def emf_metrics(capsys) -> dict[str, float]:
    """Metric name -> summed value of every EMF document printed so far (namespace TradAI/Backtest)."""
    found: dict[str, float] = {}
    for name, value, _dimensions in emf_values(capsys, contract.METRICS_NAMESPACE):
        found[name] = found.get(name, 0) + value
    return found


@dataclass
class BacktestEnv(MotoEnv):
    """moto resources of the backtest pipeline and clients to inspect them."""

    subnet_ids: list[str]
    security_group_id: str
    cluster_arn: str
    state_machine_arn: str
    calls: dict[str, list[dict]] = field(default_factory=dict)
    packages = ("backtest",)

    @property
    def ecs(self) -> Any:
        return self.client("ecs")

    def runs(self, now: Optional[datetime] = None) -> Runs:
        return Runs(self.dynamodb, WORKFLOW_TABLE, ttl_days=30, now=(lambda: now) if now else None)

    def run(self, run_id: str) -> Optional[dict[str, Any]]:
        found = self.runs().get(run_id)
        return found.item if found else None

    def tasks(self, desired_status: str = "RUNNING", **filters: str) -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(cluster=self.cluster_arn, desiredStatus=desired_status, **filters)["taskArns"]
        return self.ecs.describe_tasks(cluster=self.cluster_arn, tasks=arns)["tasks"] if arns else []

    def run_task(self, run_id: str, started_by: Optional[str] = None, trading_mode: str = "backtest") -> str:
        """Start a strategy task outside the handlers, with the per-run overrides the launchers set.

        ``started_by`` defaults to the run id (the consumer's tag); the state machine's tasks have
        "AWS Step Functions".
        """
        environment = [{"name": "JOB_ID", "value": run_id}, {"name": "TRADING_MODE", "value": trading_mode}]
        return self.ecs.run_task(
            cluster=self.cluster_arn, taskDefinition=TASK_FAMILY, startedBy=started_by or run_id[:36],
            capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": self.subnet_ids,
                                                          "securityGroups": [self.security_group_id]}},
            overrides={"containerOverrides": [{"name": contract.CONTAINER_NAME, "environment": environment}]},
        )["tasks"][0]["taskArn"]

    def executions(self, state_machine_arn: Optional[str] = None) -> list[dict[str, Any]]:
        return super().executions(state_machine_arn or self.state_machine_arn)

    def record_calls(self, service_id: str, operation: str) -> list[dict]:
        """Record the API parameters of every call to the operation (the call still goes to moto)."""
        calls = self.calls.setdefault(f"{service_id}.{operation}", [])
        self.session.events.register(f"before-parameter-build.{service_id}.{operation}",
                                     lambda params, **_: calls.append(dict(params)))
        return calls


def create_tables(dynamodb: Any) -> None:
    create_table(
        dynamodb, WORKFLOW_TABLE, "run_id", "ttl", attributes=string_attributes("status", "created_at", "trace_id"),
        GlobalSecondaryIndexes=[
            {"IndexName": "status-created_at-index",
             "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                           {"AttributeName": "created_at", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}},
            {"IndexName": "trace_id-index", "KeySchema": [{"AttributeName": "trace_id", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "INCLUDE",
                            "NonKeyAttributes": ["job_id", "status", "created_at", "execution_arn"]}},
        ])
    create_table(dynamodb, IDEMPOTENCY_TABLE, "idempotency_key", "expiration")
    create_notifications_table(dynamodb)


@pytest.fixture
def ecs_tasks_stay_running():
    """moto advances a task's lastStatus on each DescribeTasks; keep it RUNNING until StopTask instead."""
    state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**9})
    yield
    state_manager.unset_transition("ecs::task")


CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER_NAME}"
PLACEHOLDER_SUBNET, PLACEHOLDER_SG = "subnet-0a1b2c3d4e5f60718", "sg-0a1b2c3d4e5f60718"


@pytest.fixture
def backtest_tables(aws, monkeypatch, cold_start) -> BacktestEnv:
    """The three tables, the state machine and the alerts topic in moto, and every function's environment.

    No network or ECS cluster (moto's EC2 costs ~0.3 s per test): use ``backtest_env`` for those.
    """
    create_tables(aws.client("dynamodb"))
    state_machine_arn = pass_state_machine(aws, STATE_MACHINE_NAME, "tradai-backtest-workflow")
    topic_arn, alerts_queue_url = alerts_topic(aws)
    for name, value in {
        "LAUNCH_MODE": "ecs", "ECS_CLUSTER": CLUSTER_ARN, "ECS_TASK_PREFIX": "strategy-", "TASK_FAMILY": TASK_FAMILY,
        "CAPACITY_PROVIDER": "FARGATE_SPOT", "TASK_SUBNETS": PLACEHOLDER_SUBNET, "TASK_SECURITY_GROUPS": PLACEHOLDER_SG,
        "STEP_FUNCTIONS_ARN": state_machine_arn, "WORKFLOW_STATE_TABLE": WORKFLOW_TABLE,
        "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE, "RUN_TTL_DAYS": "90", "NOTIFICATIONS_TABLE": NOTIFICATIONS_TABLE,
        "ALERTS_TOPIC_ARN": topic_arn, "DATA_COLLECTION_URL": f"http://data-collection.tradai-{ENV}.local:8002/api/v1/data/sync",
        "STUCK_AFTER_MINUTES": "15",
    }.items():
        monkeypatch.setenv(name, value)
    clear_caches()
    return BacktestEnv(aws, monkeypatch, topic_arn, alerts_queue_url, [PLACEHOLDER_SUBNET], PLACEHOLDER_SG,
                       CLUSTER_ARN, state_machine_arn)


@pytest.fixture
def backtest_env(backtest_tables, aws, ecs_tasks_stay_running) -> BacktestEnv:
    """``backtest_tables`` plus the private subnets, the tasks' security group, the ECS cluster (FARGATE,
    FARGATE_SPOT) and the strategy-container task definition (awsvpc, container "strategy")."""
    env = backtest_tables
    ec2 = aws.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # as the network stack does (Cloud Map names); moto's awsvpc tasks also need it for their ENI's DNS name
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    env.subnet_ids = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{i}.0/24",
                                        AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
                      for i, zone in enumerate("ab", start=10)]
    env.security_group_id = ec2.create_security_group(GroupName="tradai-strategy", Description="strategy tasks",
                                                      VpcId=vpc_id)["GroupId"]
    ecs = aws.client("ecs")
    assert ecs.create_cluster(clusterName=CLUSTER_NAME, capacityProviders=["FARGATE", "FARGATE_SPOT"])[
        "cluster"]["clusterArn"] == CLUSTER_ARN
    ecs.register_task_definition(
        family=TASK_FAMILY, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="1024", memory="2048",
        containerDefinitions=[{"name": contract.CONTAINER_NAME, "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/"
                               "tradai-strategy:latest", "essential": True, "cpu": 1024, "memory": 2048}])
    env.set_env(TASK_SUBNETS=",".join(env.subnet_ids), TASK_SECURITY_GROUPS=env.security_group_id)
    return env


@pytest.fixture
def backtest_logs(caplog):
    """caplog for the backtest functions' Powertools logger (named after the service)."""
    yield from service_logs(caplog, contract.SERVICE)


def error_logs(caplog) -> list[logging.LogRecord]:
    """ERROR records of the functions' own logger (Powertools' tracer logs exceptions separately)."""
    return service_errors(caplog, contract.SERVICE)


def minutes_ago(minutes: float) -> datetime:
    return ago(minutes=minutes)
