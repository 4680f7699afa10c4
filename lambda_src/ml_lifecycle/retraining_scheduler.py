"""Handler of `tradai-retraining-scheduler-<env>` (EventBridge schedule, every 6 h; entry point
``ml_lifecycle.retraining_scheduler.handler``).

Input: the scheduled event; its "time" (else the current time) picks the window. For every registered MLflow
model it starts one retraining workflow execution per window: retraining_id = "<model slug>-<window start
%Y%m%dT%H>" (retraining.retraining_id) is the execution name. A model whose retraining-state item shows
another retraining that is neither terminal nor stale (RETRAINING_STALE_AFTER_HOURS) is skipped. Otherwise
the SCHEDULED item is written (conditional put), the execution started with {"retraining_id", "model_name"}
(ExecutionAlreadyExists with the same input counts as started) and its ARN recorded. A second invocation in
the same window writes and starts nothing and answers the same.

Output: {"scheduled": [{"model_name", "retraining_id", "execution_arn"}], "skipped": {model: reason},
"failed": {model: error}}. One model's failure does not stop the others; when any failure was transient the
invocation raises SchedulingIncomplete at the end (Lambda's async retry runs it again; done models are then
no-ops). Metrics: RetrainingsScheduled (executions started), RetrainingScheduleFailures.
Env: MLFLOW_TRACKING_URI, MLFLOW_CREDENTIALS_SECRET_ARN (optional), RETRAINING_STATE_TABLE,
RETRAINING_STATE_MACHINE_ARN, SCHEDULE_WINDOW_HOURS (default 6), RETRAINING_STALE_AFTER_HOURS (default 24),
STATE_TTL_DAYS.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from shared import aws
from shared.aws import cached_client, error_code
from shared.clock import iso, parse_iso

from . import mlflow
from .observability import logger, metrics, tracer
from .retraining import DONE, RESUME, SKIP, retraining_id, schedule_action
from .retraining_settings import SchedulerSettings, scheduler_settings
from .retraining_state import Retrainings

METRIC_SCHEDULED = "RetrainingsScheduled"
METRIC_FAILURES = "RetrainingScheduleFailures"
ATTEMPTS = 3  # decide again when a concurrent writer changed the item between our read and our put


class SchedulingIncomplete(Exception):
    """Some models failed transiently; the invocation is retried (models already scheduled are no-ops)."""


class ExecutionNameTaken(Exception):
    """An execution with the retraining_id as its name exists with another input (two models share a slug?)."""


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Scheduled:
    model_name: str
    retraining_id: str
    execution_arn: str
    started: bool  # this invocation started (or resumed) it

    def output(self) -> dict[str, str]:
        return {"model_name": self.model_name, "retraining_id": self.retraining_id, "execution_arn": self.execution_arn}


def execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


class Scheduler:
    """Schedules one model's retraining for a window (decision: retraining.schedule_action)."""

    def __init__(
        self,
        retrainings: Retrainings,
        stepfunctions: Any,
        config: SchedulerSettings,
        clock: Callable[[], datetime] | None = None,
    ):
        self.retrainings, self.stepfunctions, self.config = retrainings, stepfunctions, config
        self.clock = clock or (lambda: now())

    def schedule(self, model_name: str, at: datetime) -> Scheduled | str:
        """The Scheduled retraining of the model's window, or the reason it was skipped."""
        retraining = retraining_id(model_name, at, self.config.window_hours)
        stale_before = iso(self.clock() - timedelta(hours=self.config.stale_after_hours))
        arn = execution_arn(self.config.state_machine_arn, retraining)
        for _ in range(ATTEMPTS):
            action = schedule_action(self.retrainings.get(model_name), retraining, stale_before)
            if action.kind == SKIP:
                return action.reason
            if action.kind == DONE:
                return Scheduled(model_name, retraining, arn, started=False)
            if action.kind != RESUME and not self.retrainings.schedule(model_name, retraining, stale_before):
                continue  # another writer changed the item: read and decide again
            logger.info(
                "retraining scheduled",
                extra={"model_name": model_name, "retraining_id": retraining, "why": action.reason},
            )
            arn = self._start(model_name, retraining)
            if not self.retrainings.set_execution(model_name, retraining, arn):
                logger.warning(
                    "retraining-state item replaced before the execution ARN was recorded",
                    extra={"model_name": model_name, "retraining_id": retraining},
                )
            return Scheduled(model_name, retraining, arn, started=True)
        raise RuntimeError(f"model {model_name!r}: the retraining-state item kept changing; try again")

    def _start(self, model_name: str, retraining: str) -> str:
        payload = {"retraining_id": retraining, "model_name": model_name}
        try:
            return self.stepfunctions.start_execution(
                stateMachineArn=self.config.state_machine_arn,
                name=retraining,
                input=json.dumps(payload, separators=(",", ":")),
            )["executionArn"]
        except ClientError as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise
        arn = execution_arn(self.config.state_machine_arn, retraining)
        existing = self.stepfunctions.describe_execution(executionArn=arn)
        if json.loads(existing.get("input") or "null") != payload:
            raise ExecutionNameTaken(f"execution {retraining} exists with another input: {existing.get('input')}")
        logger.info(
            "execution already exists with the same input: counted as started",
            extra={"model_name": model_name, "retraining_id": retraining, "status": existing.get("status")},
        )
        return arn


@functools.cache
def settings() -> SchedulerSettings:
    """Read and validated once per cold start."""
    return scheduler_settings(os.environ)


@functools.cache
def scheduler() -> Scheduler:
    config = settings()
    return Scheduler(
        Retrainings(cached_client("dynamodb"), config.retraining_table, config.ttl_days),
        cached_client("stepfunctions"),
        config,
    )


def window_time(event: Any) -> datetime:
    """The scheduled event's "time" (so a retried invocation keeps its window), else now."""
    raw = event.get("time") if isinstance(event, dict) else None
    if raw in (None, ""):
        return now()
    try:
        if isinstance(raw, str):
            return parse_iso(raw)
    except ValueError:
        pass
    raise ValueError(f"time={raw!r}: an ISO-8601 UTC time like 2026-12-01T06:00:00Z is required")


def _transient(exc: Exception) -> bool:
    return aws.is_transient(exc) or mlflow.is_transient(exc)


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings()
    at = window_time(event)
    models = mlflow.client().registered_models()  # failing here fails the invocation (retried if async)
    scheduled: list[dict[str, str]] = []
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    transient: list[Exception] = []
    started = 0
    for model in models:
        name = model.get("name")
        if not isinstance(name, str) or not name.strip():
            logger.warning("registered model without a name ignored", extra={"model": model})
            continue
        try:
            outcome = scheduler().schedule(name, at)
        except Exception as exc:  # noqa: BLE001 (one model's failure does not stop the others)
            failed[name] = f"{error_code(exc)}: {exc}"
            is_transient = _transient(exc)
            if is_transient:
                transient.append(exc)
            logger.exception("retraining not scheduled", extra={"model_name": name, "transient": is_transient})
            continue
        if isinstance(outcome, str):
            skipped[name] = outcome
            logger.info("retraining skipped", extra={"model_name": name, "reason": outcome})
        else:
            scheduled.append(outcome.output())
            started += outcome.started
    metrics.add_metric(METRIC_SCHEDULED, MetricUnit.Count, started)
    metrics.add_metric(METRIC_FAILURES, MetricUnit.Count, len(failed))
    result = {"scheduled": scheduled, "skipped": skipped, "failed": failed}
    logger.info("retraining schedule done", extra={"window_time": iso(at), "started": started, **result})
    if transient:
        raise SchedulingIncomplete(
            f"{len(transient)} model(s) failed transiently and will be retried: {', '.join(sorted(failed))}"
        ) from transient[0]
    return result
