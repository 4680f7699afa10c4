"""Fixtures and helpers for the backtest handler tests (moto in-process; see conftest's `aws`).

Test modules import the fixtures they use from here (`from .backtest_fixtures import ...`).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager

from backtest import (cleanup_resources, consumer, contract, data_collection_proxy, notify_completion,
                      orphan_scanner, update_status, validate_strategy)  # noqa: F401
from backtest.runs import Runs
from shared import aws as shared_aws

from .conftest import REGION, client_response, error_response

ACCOUNT = DEFAULT_ACCOUNT_ID
ENV = "dev"
WORKFLOW_TABLE = f"tradai-workflow-state-{ENV}"
IDEMPOTENCY_TABLE = f"tradai-idempotency-{ENV}"
NOTIFICATIONS_TABLE = f"tradai-notifications-{ENV}"
CLUSTER_NAME = f"tradai-{ENV}"
TASK_FAMILY = f"strategy-container-{ENV}"
STATE_MACHINE_NAME = f"tradai-backtest-workflow-{ENV}"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:tradai-backtest-queue.fifo"


@dataclass
class Context:
    """The Lambda context attributes the handlers and Powertools read; ``remaining_ms`` is settable."""

    remaining_ms: int = 30_000
    function_name: str = f"tradai-backtest-consumer-{ENV}"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tradai-backtest-consumer-{ENV}"
    aws_request_id: str = "8d7e0d5a-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def all_caches() -> list[Callable]:
    """Every per-cold-start cache of the backtest handlers (settings, clients, repositories)."""
    return [shared_aws.cached_client, consumer.settings, consumer.submission, consumer.idempotency,
            update_status.settings, update_status.runs, notify_completion.notifier,
            cleanup_resources.settings, cleanup_resources.ecs, data_collection_proxy.settings,
            orphan_scanner.settings, orphan_scanner.scanner]


def clear_caches() -> None:
    """A new cold start: settings are read again and clients are created again (with the current hooks)."""
    for cache in all_caches():
        cache.cache_clear()


@pytest.fixture
def cold_start():
    clear_caches()
    yield clear_caches
    clear_caches()


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
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        for definition in document.get("_aws", {}).get("CloudWatchMetrics", []):
            assert definition["Namespace"] == contract.METRICS_NAMESPACE
            for metric in definition["Metrics"]:
                value = document[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                found[metric["Name"]] = found.get(metric["Name"], 0) + sum(values)
    return found


@dataclass
class BacktestEnv:
    """moto resources of the backtest pipeline and clients to inspect them."""

    session: Any
    monkeypatch: Any
    subnet_ids: list[str]
    security_group_id: str
    cluster_arn: str
    state_machine_arn: str
    topic_arn: str
    alerts_queue_url: str
    calls: dict[str, list[dict]] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """The test's own client (created once: client creation is the slowest part of a moto test)."""
        if service not in self.clients:
            self.clients[service] = self.session.client(service)
        return self.clients[service]

    @property
    def ecs(self) -> Any:
        return self.client("ecs")

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    def set_env(self, **values: Optional[str]) -> None:
        """Change the functions' environment (None removes a variable) and start them cold."""
        for name, value in values.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)
        clear_caches()

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

    def executions(self) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        return [sfn.describe_execution(executionArn=e["executionArn"])
                for e in sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]]

    def alerts(self) -> list[dict[str, Any]]:
        """SNS notifications delivered to the queue subscribed to the alerts topic."""
        messages = self.client("sqs").receive_message(QueueUrl=self.alerts_queue_url, MaxNumberOfMessages=10,
                                                      WaitTimeSeconds=0).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def record_calls(self, service_id: str, operation: str) -> list[dict]:
        """Record the API parameters of every call to the operation (the call still goes to moto)."""
        calls = self.calls.setdefault(f"{service_id}.{operation}", [])
        self.session.events.register(f"before-parameter-build.{service_id}.{operation}",
                                     lambda params, **_: calls.append(dict(params)))
        return calls

    def fail(self, service_id: str, operation: str, code: str, times: int = 1,
             response: Optional[dict] = None, message: Optional[str] = None) -> list[int]:
        """The next ``times`` calls fail with ``code`` (or return ``response``); register before the call.

        Returns a one-item list counting the calls answered this way.
        """
        answered = [0]

        def hook(**_kwargs):
            if answered[0] >= times:
                return None
            answered[0] += 1
            if response is not None:
                return client_response(200, json.loads(json.dumps(response)))
            return error_response(code, message or f"injected {operation} failure")

        self.session.events.register(f"before-call.{service_id}.{operation}", hook)
        return answered


def create_tables(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName=WORKFLOW_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"}
                              for name in ("run_id", "status", "created_at", "trace_id")],
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "status-created_at-index",
             "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                           {"AttributeName": "created_at", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}},
            {"IndexName": "trace_id-index", "KeySchema": [{"AttributeName": "trace_id", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "INCLUDE",
                            "NonKeyAttributes": ["job_id", "status", "created_at", "execution_arn"]}},
        ])
    dynamodb.update_time_to_live(TableName=WORKFLOW_TABLE,
                                 TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "idempotency_key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "idempotency_key", "KeyType": "HASH"}])
    dynamodb.update_time_to_live(TableName=IDEMPOTENCY_TABLE,
                                 TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"})
    dynamodb.create_table(
        TableName=NOTIFICATIONS_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "notification_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "notification_id", "KeyType": "HASH"}])
    dynamodb.update_time_to_live(TableName=NOTIFICATIONS_TABLE,
                                 TimeToLiveSpecification={"Enabled": True, "AttributeName": "expire_at"})


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
    state_machine_arn = aws.client("stepfunctions").create_state_machine(
        name=STATE_MACHINE_NAME, roleArn=f"arn:aws:iam::{ACCOUNT}:role/tradai-backtest-workflow",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic_arn = sns.create_topic(Name=f"tradai-alerts-{ENV}")["TopicArn"]
    alerts_queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    alerts_queue_arn = sqs.get_queue_attributes(QueueUrl=alerts_queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=alerts_queue_arn)
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
    return BacktestEnv(aws, monkeypatch, [PLACEHOLDER_SUBNET], PLACEHOLDER_SG, CLUSTER_ARN, state_machine_arn,
                       topic_arn, alerts_queue_url)


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
    logger = logging.getLogger(contract.SERVICE)
    attach = not logger.propagate  # Powertools may or may not let records propagate to the root logger
    if attach:
        logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger=contract.SERVICE)
    yield caplog
    if attach:
        logger.removeHandler(caplog.handler)


def error_logs(caplog) -> list[logging.LogRecord]:
    """ERROR records of the functions' own logger (Powertools' tracer logs exceptions separately)."""
    return [record for record in caplog.records if record.levelno >= logging.ERROR and record.name == contract.SERVICE]


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=minutes)
