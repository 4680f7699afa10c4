"""Fixtures and helpers for the ML lifecycle handler tests: moto (conftest's ``aws``) plus a FakeMlflow.

Test modules import what they use from here (``from .ml_fixtures import ...``). ``ml_env`` creates the ML
tables, the results bucket, the alerts topic (subscribed by a queue) and the functions' environment, with
MLFLOW_TRACKING_URI pointing at the ``fake_mlflow`` server.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional

import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from local_emulator.fake_mlflow import FakeMlflow
from ml_lifecycle import contract
from shared import aws as shared_aws
from shared.ddb import marshal, unmarshal

from .conftest import REGION, client_response, error_response

ACCOUNT = DEFAULT_ACCOUNT_ID
ENV = "dev"
DRIFT_TABLE = f"tradai-drift-state-{ENV}"
RETRAINING_TABLE = f"tradai-retraining-state-{ENV}"
DEPLOYMENTS_TABLE = f"tradai-deployments-{ENV}"
ROLLBACK_TABLE = f"tradai-rollback-state-{ENV}"
SHADOW_TABLE = f"tradai-shadow-test-state-{ENV}"
NOTIFICATIONS_TABLE = f"tradai-notifications-{ENV}"
RESULTS_BUCKET = f"tradai-results-{ENV}-{ACCOUNT}"
METRIC = "sharpe_ratio"
KEYS = {DEPLOYMENTS_TABLE: "strategy_name", DRIFT_TABLE: "model_name", RETRAINING_TABLE: "model_name",
        ROLLBACK_TABLE: "model_name", SHADOW_TABLE: "test_id", NOTIFICATIONS_TABLE: "notification_id"}


@dataclass
class Context:
    """The Lambda context attributes the handlers and Powertools read."""

    function_name: str = f"tradai-ml-{ENV}"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tradai-ml-{ENV}"
    aws_request_id: str = "8d7e0d5a-0000-4000-8000-000000000002"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def all_caches() -> list[Callable]:
    """Every functools cache of the loaded ml_lifecycle modules (settings, clients, secrets) and the clients."""
    caches: list[Callable] = [shared_aws.cached_client]
    for name, module in list(sys.modules.items()):
        if name.startswith("ml_lifecycle.") and module is not None:
            caches.extend(value for value in vars(module).values()
                          if callable(value) and hasattr(value, "cache_clear")
                          and getattr(value, "__module__", None) == name)
    return caches


def clear_caches() -> None:
    """A new cold start: settings, secrets and clients are read/created again."""
    for cache in all_caches():
        cache.cache_clear()


@pytest.fixture
def cold_start():
    clear_caches()
    yield clear_caches
    clear_caches()


@pytest.fixture
def fake_mlflow():
    """A started FakeMlflow (stopped after the test)."""
    fake = FakeMlflow()
    fake.start()
    yield fake
    fake.stop()


@dataclass
class MlEnv:
    """moto resources of the ML lifecycle functions, the fake MLflow and clients to inspect them."""

    session: Any
    monkeypatch: Any
    mlflow: FakeMlflow
    topic_arn: str
    alerts_queue_url: str
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = self.session.client(service)
        return self.clients[service]

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

    def item(self, table: str, key: str, sort: Optional[tuple[str, str]] = None) -> Optional[dict[str, Any]]:
        full_key = {KEYS.get(table, "model_name"): key, **(dict([sort]) if sort else {})}
        found = self.dynamodb.get_item(TableName=table, Key=marshal(full_key), ConsistentRead=True).get("Item")
        return unmarshal(found) if found else None

    def put_item(self, table: str, item: dict[str, Any]) -> None:
        self.dynamodb.put_item(TableName=table, Item=marshal(item))

    def items(self, table: str) -> list[dict[str, Any]]:
        return [unmarshal(item) for item in self.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]]

    def put_json(self, key: str, body: Any) -> None:
        text = body if isinstance(body, (str, bytes)) else json.dumps(body)
        self.client("s3").put_object(Bucket=RESULTS_BUCKET, Key=key, Body=text)

    def alerts(self) -> list[dict[str, Any]]:
        """SNS notifications delivered to the queue subscribed to the alerts topic (consumed)."""
        messages = self.client("sqs").receive_message(QueueUrl=self.alerts_queue_url, MaxNumberOfMessages=10,
                                                      WaitTimeSeconds=0).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def fail(self, service_id: str, operation: str, code: str, times: int = 1,
             status: int = 400) -> list[int]:
        """The next ``times`` calls fail with ``code``; returns a one-item list counting them."""
        answered = [0]

        def hook(**_kwargs):
            if answered[0] >= times:
                return None
            answered[0] += 1
            if status >= 500:
                return client_response(status, {"Error": {"Code": code, "Message": f"injected {operation}"}})
            return error_response(code, f"injected {operation} failure")

        self.session.events.register(f"before-call.{service_id}.{operation}", hook)
        return answered

    def champion(self, name: str, metric: float = 1.5, model_tags: Optional[dict[str, str]] = None,
                 version_tags: Optional[dict[str, str]] = None, experiment: str = "training") -> str:
        """A registered model with one new version (its run scoring ``metric``) carrying the champion alias."""
        version = self.version(name, metric, version_tags, experiment, model_tags)
        self.mlflow.set_alias(name, "champion", version)
        return version

    def version(self, name: str, metric: Optional[float] = 1.5, version_tags: Optional[dict[str, str]] = None,
                experiment: str = "training", model_tags: Optional[dict[str, str]] = None) -> str:
        self.mlflow.add_model(name, model_tags or {contract.MODEL_TAG_STRATEGY: "PascalStrategy"})
        run_id = self.mlflow.add_run(experiment, {} if metric is None else {METRIC: metric})
        return self.mlflow.add_version(name, run_id, version_tags)


def create_tables(dynamodb: Any) -> None:
    for table, key in ((DRIFT_TABLE, "model_name"), (RETRAINING_TABLE, "model_name"),
                       (ROLLBACK_TABLE, "model_name"), (NOTIFICATIONS_TABLE, "notification_id")):
        dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": key, "KeyType": "HASH"}])
    dynamodb.create_table(
        TableName=DEPLOYMENTS_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"}
                              for name in ("strategy_name", "deployment_id", "environment", "created_at")],
        KeySchema=[{"AttributeName": "strategy_name", "KeyType": "HASH"},
                   {"AttributeName": "deployment_id", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "environment-created_at-index",
                                 "KeySchema": [{"AttributeName": "environment", "KeyType": "HASH"},
                                               {"AttributeName": "created_at", "KeyType": "RANGE"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    dynamodb.create_table(
        TableName=SHADOW_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"}
                              for name in ("test_id", "model_name", "status_created_at")],
        KeySchema=[{"AttributeName": "test_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "model_name-status_created_at-index",
                                 "KeySchema": [{"AttributeName": "model_name", "KeyType": "HASH"},
                                               {"AttributeName": "status_created_at", "KeyType": "RANGE"}],
                                 "Projection": {"ProjectionType": "ALL"}}])


@pytest.fixture
def ml_env(aws, monkeypatch, fake_mlflow, cold_start) -> MlEnv:
    """The ML tables, results bucket and alerts topic in moto, a FakeMlflow, and every function's environment."""
    create_tables(aws.client("dynamodb"))
    aws.client("s3").create_bucket(Bucket=RESULTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic_arn = sns.create_topic(Name=f"tradai-alerts-{ENV}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    for name, value in {
        contract.ENV_MLFLOW_TRACKING_URI: fake_mlflow.base_url, contract.ENV_CHAMPION_ALIAS: "champion",
        contract.ENV_PERFORMANCE_METRIC: METRIC, contract.ENV_ENVIRONMENT: ENV, contract.ENV_STATE_TTL_DAYS: "30",
        contract.ENV_DRIFT_TABLE: DRIFT_TABLE, contract.ENV_RETRAINING_TABLE: RETRAINING_TABLE,
        contract.ENV_SHADOW_TABLE: SHADOW_TABLE, contract.ENV_DEPLOYMENTS_TABLE: DEPLOYMENTS_TABLE,
        contract.ENV_ROLLBACK_TABLE: ROLLBACK_TABLE, contract.ENV_RESULTS_BUCKET: RESULTS_BUCKET,
        contract.ENV_PSI_THRESHOLD: "0.2", contract.ENV_PERFORMANCE_DROP_THRESHOLD: "0.2",
        contract.ENV_DEPLOYMENT_TTL_DAYS: "365", "NOTIFICATIONS_TABLE": NOTIFICATIONS_TABLE,
        "ALERTS_TOPIC_ARN": topic_arn,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN, raising=False)
    clear_caches()
    return MlEnv(aws, monkeypatch, fake_mlflow, topic_arn, queue_url)


@pytest.fixture
def ml_logs(caplog):
    """caplog for the ML functions' Powertools logger (named after the service)."""
    logger = logging.getLogger(contract.SERVICE)
    attach = not logger.propagate
    if attach:
        logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger=contract.SERVICE)
    yield caplog
    if attach:
        logger.removeHandler(caplog.handler)


def error_logs(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR and record.name == contract.SERVICE]


def emf_metrics(capsys) -> list[dict[str, Any]]:
    """Every EMF document printed so far: [{"name", "value", "dimensions"}] per metric (namespace checked)."""
    found: list[dict[str, Any]] = []
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        for definition in document.get("_aws", {}).get("CloudWatchMetrics", []):
            assert definition["Namespace"] == contract.METRICS_NAMESPACE
            dimensions = {name: document[name] for group in definition["Dimensions"] for name in group}
            for metric in definition["Metrics"]:
                value = document[metric["Name"]]
                for single in value if isinstance(value, list) else [value]:
                    found.append({"name": metric["Name"], "value": single, "dimensions": dimensions})
    return found


def scheduled_event(time: str = "2026-12-01T00:00:00Z") -> dict[str, Any]:
    """An EventBridge scheduled event as the rule delivers it."""
    return {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": ACCOUNT, "time": time, "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/tradai-drift-monitor-{ENV}"], "detail": {}}


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
