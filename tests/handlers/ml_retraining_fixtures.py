"""Fixtures for the retraining handler tests (scheduler, check-retraining-needed, compare-models).

Built on ``ml_fixtures.ml_env`` (moto tables + FakeMlflow + the family's environment); ``retraining_env`` adds
the retraining state machine (a Pass machine in moto), the retraining functions' variables and helpers.
Test modules import what they use from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import pytest

from ml_lifecycle import check_retraining, compare_models, contract, retraining_scheduler
from shared.clock import iso

from .ml_fixtures import (ACCOUNT, METRIC, RETRAINING_TABLE, SHADOW_TABLE, Context, MlEnv, clear_caches,  # noqa: F401
                          cold_start, emf_metrics, error_logs, fake_mlflow, ml_env, ml_logs, scheduled_event)
from .moto_fixtures import pass_state_machine

STATE_MACHINE_NAME = "tradai-retraining-workflow-dev"
MAX_AGE_DAYS = 30
SHADOW_DAYS = 7


@dataclass
class RetrainingEnv:
    """``ml_env`` plus the retraining state machine and helpers to seed and read the workflow's state."""

    ml: MlEnv
    state_machine_arn: str

    def __getattr__(self, name: str) -> Any:  # ml_env's helpers (item, put_item, champion, version, ...)
        if name == "ml":
            raise AttributeError(name)
        return getattr(self.ml, name)

    @property
    def sfn(self) -> Any:
        return self.ml.client("stepfunctions")

    def retraining(self, model_name: str) -> Optional[dict[str, Any]]:
        return self.ml.item(RETRAINING_TABLE, model_name)

    def shadow(self, test_id: str) -> Optional[dict[str, Any]]:
        return self.ml.item(SHADOW_TABLE, test_id)

    def seed_retraining(self, model_name: str, retraining_id: str, status: str = contract.SCHEDULED,
                        updated_at: Optional[datetime] = None, **fields: Any) -> dict[str, Any]:
        at = iso(updated_at or datetime.now(timezone.utc))
        item = {"model_name": model_name, "retraining_id": retraining_id, "status": status, "scheduled_at": at,
                "updated_at": at, "expires_at": 2_000_000_000, **fields}
        self.ml.put_item(RETRAINING_TABLE, item)
        return item

    def executions(self) -> list[dict[str, Any]]:
        return self.ml.executions(self.state_machine_arn)

    def writes(self) -> list[dict]:
        """Record every DynamoDB and Step Functions write from now on (the calls still go to moto).

        Starts the functions cold: a client copies the session's hooks when it is created.
        """
        calls: list[dict] = []
        for service, operation in (("dynamodb", "PutItem"), ("dynamodb", "UpdateItem"),
                                   ("dynamodb", "DeleteItem"), ("sfn", "StartExecution")):
            self.ml.session.events.register(
                f"before-parameter-build.{service}.{operation}",
                lambda params, _op=operation, **_: calls.append({"operation": _op, **params}))
        clear_caches()
        return calls

    def fail(self, service_id: str, operation: str, code: str, times: int = 1, status: int = 400) -> list[int]:
        """``ml_env.fail``, then a cold start so the functions' new clients see the hook."""
        answered = self.ml.fail(service_id, operation, code, times, status=status)
        clear_caches()
        return answered

    def trained(self, model_name: str, retraining_id: str, metric: Optional[float] = 1.8) -> str:
        """What the Train step does: a new version tagged job_id=<retraining_id> (its run scoring ``metric``)."""
        return self.ml.version(model_name, metric, {contract.VERSION_TAG_JOB_ID: retraining_id})

    def shadow_run(self, model_name: str, test_id: str, metric: Optional[float] = 1.9) -> str:
        """What the ShadowTest step does: a run in the model's experiment tagged job_id=<test_id>."""
        return self.ml.mlflow.add_run(model_name, {} if metric is None else {METRIC: metric},
                                      tags={contract.RUN_TAG_JOB_ID: test_id})


@pytest.fixture
def retraining_env(ml_env, aws) -> RetrainingEnv:
    arn = pass_state_machine(aws, STATE_MACHINE_NAME, "tradai-retraining-workflow")
    ml_env.set_env(**{contract.ENV_RETRAINING_STATE_MACHINE_ARN: arn, contract.ENV_SCHEDULE_WINDOW_HOURS: "6",
                      contract.ENV_MAX_MODEL_AGE_DAYS: str(MAX_AGE_DAYS),
                      contract.ENV_SHADOW_WINDOW_DAYS: str(SHADOW_DAYS), contract.ENV_MIN_IMPROVEMENT: "0.02"})
    return RetrainingEnv(ml_env, arn)


@pytest.fixture
def clock(monkeypatch):
    """``clock(moment)`` makes check-retraining-needed and the scheduler see ``moment`` as now."""

    def set_now(moment: datetime) -> datetime:
        monkeypatch.setattr(check_retraining, "now", lambda: moment)
        monkeypatch.setattr(retraining_scheduler, "now", lambda: moment)
        return moment

    return set_now


def days_from_now(days: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(days=days)


def schedule(event: Optional[dict] = None) -> dict[str, Any]:
    return retraining_scheduler.handler(scheduled_event() if event is None else event,
                                        Context(function_name="tradai-retraining-scheduler-dev"))


def check(retraining_id: str, model_name: str, **extra: Any) -> dict[str, Any]:
    return check_retraining.handler({"retraining_id": retraining_id, "model_name": model_name, **extra},
                                    Context(function_name="tradai-check-retraining-needed-dev"))


def compare(event: Any) -> dict[str, Any]:
    return compare_models.handler(event, Context(function_name="tradai-compare-models-dev"))


def candidate(retraining_id: str, model_name: str, champion_version: Optional[str]) -> dict[str, Any]:
    return compare({"phase": "candidate", "retraining_id": retraining_id, "model_name": model_name,
                    "champion_version": champion_version})


def shadow(retraining_id: str, model_name: str, champion_version: Optional[str], challenger_version: str,
           test_id: Optional[str] = None) -> dict[str, Any]:
    return compare({"phase": "shadow", "retraining_id": retraining_id, "model_name": model_name,
                    "champion_version": champion_version, "challenger_version": challenger_version,
                    "test_id": test_id or f"{retraining_id}-shadow"})
