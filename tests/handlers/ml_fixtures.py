"""Fixtures and helpers for the ML lifecycle handler tests: moto (conftest's ``aws``) plus a FakeMlflow.

Test modules import what they use from here (``from .ml_fixtures import ...``). ``ml_env`` creates the ML
tables, the results bucket, the alerts topic (subscribed by a queue) and the functions' environment, with
MLFLOW_TRACKING_URI pointing at the ``fake_mlflow`` server.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

import pytest

from local_emulator.fake_mlflow import FakeMlflow
from ml_lifecycle import contract
from shared.ddb import marshal, unmarshal

from .conftest import REGION
from .moto_fixtures import (ACCOUNT, ENV, NOTIFICATIONS_TABLE, LambdaContext, MotoEnv,  # noqa: F401
                            alerts_topic, clear_package_caches, cold_start_fixture, create_notifications_table,
                            create_table, emf_values, service_errors, service_logs, string_attributes)
from .moto_fixtures import scheduled_event as _scheduled_event

DRIFT_TABLE = f"tradai-drift-state-{ENV}"
RETRAINING_TABLE = f"tradai-retraining-state-{ENV}"
DEPLOYMENTS_TABLE = f"tradai-deployments-{ENV}"
ROLLBACK_TABLE = f"tradai-rollback-state-{ENV}"
SHADOW_TABLE = f"tradai-shadow-test-state-{ENV}"
RESULTS_BUCKET = f"tradai-results-{ENV}-{ACCOUNT}"
METRIC = "sharpe_ratio"
KEYS = {DEPLOYMENTS_TABLE: "strategy_name", DRIFT_TABLE: "model_name", RETRAINING_TABLE: "model_name",
        ROLLBACK_TABLE: "model_name", SHADOW_TABLE: "test_id", NOTIFICATIONS_TABLE: "notification_id"}


@dataclass
class Context(LambdaContext):
    function_name: str = f"tradai-ml-{ENV}"
    aws_request_id: str = "8d7e0d5a-0000-4000-8000-000000000002"


def clear_caches() -> None:
    """A new cold start of the ML functions: settings, secrets, the MLflow client and AWS clients."""
    clear_package_caches("ml_lifecycle")


cold_start = cold_start_fixture(clear_caches)


@pytest.fixture
def fake_mlflow():
    """A started FakeMlflow (stopped after the test)."""
    fake = FakeMlflow()
    fake.start()
    yield fake
    fake.stop()


@dataclass
class MlEnv(MotoEnv):
    """moto resources of the ML lifecycle functions, the fake MLflow and clients to inspect them."""

    mlflow: FakeMlflow
    packages = ("ml_lifecycle",)

    def item(self, table: str, key: str, sort: Optional[tuple[str, str]] = None) -> Optional[dict[str, Any]]:
        full_key = {KEYS.get(table, "model_name"): key, **(dict([sort]) if sort else {})}
        found = self.dynamodb.get_item(TableName=table, Key=marshal(full_key), ConsistentRead=True).get("Item")
        return unmarshal(found) if found else None

    def put_item(self, table: str, item: dict[str, Any]) -> None:
        self.dynamodb.put_item(TableName=table, Item=marshal(item))

    def put_json(self, key: str, body: Any) -> None:
        text = body if isinstance(body, (str, bytes)) else json.dumps(body)
        self.client("s3").put_object(Bucket=RESULTS_BUCKET, Key=key, Body=text)

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
    for table in (DRIFT_TABLE, RETRAINING_TABLE, ROLLBACK_TABLE):
        create_table(dynamodb, table, "model_name")
    create_notifications_table(dynamodb)
    create_table(
        dynamodb, DEPLOYMENTS_TABLE, "strategy_name", sort="deployment_id",
        attributes=string_attributes("environment", "created_at"),
        GlobalSecondaryIndexes=[{"IndexName": "environment-created_at-index",
                                 "KeySchema": [{"AttributeName": "environment", "KeyType": "HASH"},
                                               {"AttributeName": "created_at", "KeyType": "RANGE"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    create_table(
        dynamodb, SHADOW_TABLE, "test_id", attributes=string_attributes("model_name", "status_created_at"),
        GlobalSecondaryIndexes=[{"IndexName": "model_name-status_created_at-index",
                                 "KeySchema": [{"AttributeName": "model_name", "KeyType": "HASH"},
                                               {"AttributeName": "status_created_at", "KeyType": "RANGE"}],
                                 "Projection": {"ProjectionType": "ALL"}}])


@pytest.fixture
def ml_env(aws, monkeypatch, fake_mlflow, cold_start) -> MlEnv:
    """The ML tables, results bucket and alerts topic in moto, a FakeMlflow, and every function's environment."""
    create_tables(aws.client("dynamodb"))
    aws.client("s3").create_bucket(Bucket=RESULTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    topic_arn, queue_url = alerts_topic(aws)
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
    return MlEnv(aws, monkeypatch, topic_arn, queue_url, fake_mlflow)


@pytest.fixture
def ml_logs(caplog):
    """caplog for the ML functions' Powertools logger (named after the service)."""
    yield from service_logs(caplog, contract.SERVICE)


def error_logs(caplog) -> list[logging.LogRecord]:
    return service_errors(caplog, contract.SERVICE)


def emf_metrics(capsys) -> list[dict[str, Any]]:
    """Every EMF document printed so far: [{"name", "value", "dimensions"}] per metric (namespace checked)."""
    return [{"name": name, "value": value, "dimensions": dimensions}
            for name, value, dimensions in emf_values(capsys, contract.METRICS_NAMESPACE)]


def scheduled_event(time: str = "2026-12-01T00:00:00Z") -> dict[str, Any]:
    """An EventBridge scheduled event as the rule delivers it."""
    return _scheduled_event(f"tradai-drift-monitor-{ENV}", time, "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
