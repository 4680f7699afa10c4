"""Submitting one validated backtest request: record the SUBMITTED run, then launch it once.

Failure policy (per SQS record):
- the run already exists past SUBMITTED, or with an execution/task: a duplicate, acknowledged without launching;
- it exists, still SUBMITTED without either: a previous attempt stopped before launching (e.g. throttled),
  so the launch is resumed, reusing the stored trace_id; in ecs mode a task already started for the run
  (ListTasks by startedBy) is adopted instead of starting a second one;
- a transient AWS error (throttling, 5xx, connection): raised, so the record is retried (then DLQ);
- ECS cannot place the task (RunTask ``failures``) or AWS refuses the call for good: the run is FAILED
  with the reason and the record succeeds — retrying would not help, the run shows why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import error_code, is_transient

from . import contract
from .aws_access import Ecs, StepFunctions, started_by
from .observability import METRIC_LAUNCH_FAILED, METRIC_SUBMITTED, logger, metrics
from .request import BacktestRequest
from .runs import Runs, StatusRegression
from .settings import ConsumerSettings


@dataclass
class Submission:
    settings: ConsumerSettings
    runs: Runs
    ecs: Ecs | None = None
    stepfunctions: StepFunctions | None = None

    def submit(self, request: BacktestRequest) -> dict[str, Any]:
        resumed = False
        if not self.runs.create_submitted(request):
            run = self.runs.get(request.run_id)
            if run is None:  # deleted between the two calls; let the retry create it again
                raise RuntimeError(f"run {request.run_id} vanished while being submitted")
            if run.status != contract.SUBMITTED or run.execution_arn or run.task_arn:
                logger.info(
                    "duplicate backtest request: the run exists already; not launched again",
                    extra={"status": run.status, "execution_arn": run.execution_arn, "task_arn": run.task_arn},
                )
                return self._result(
                    request, run.status, duplicate=True, execution_arn=run.execution_arn, task_arn=run.task_arn
                )
            if run.trace_id:
                request = request.with_trace_id(run.trace_id)
            resumed = True
            logger.info("run exists but was never launched; resuming its launch")
        if self.settings.launch_mode == contract.LAUNCH_STEPFUNCTIONS:
            return self._start_execution(request)
        return self._run_task(request, resumed)

    def _start_execution(self, request: BacktestRequest) -> dict[str, Any]:
        assert self.stepfunctions is not None and self.settings.state_machine_arn
        try:
            arn, existed = self.stepfunctions.start(
                self.settings.state_machine_arn, request.run_id, request.workflow_input()
            )
        except (ClientError, BotoCoreError) as exc:
            return self._refused("StartExecution", request, exc)
        self.runs.set_fields(request.run_id, execution_arn=arn)
        if existed:
            logger.info(
                "duplicate backtest request: an execution named after the run exists already",
                extra={"execution_arn": arn},
            )
            return self._result(request, contract.SUBMITTED, duplicate=True, execution_arn=arn)
        metrics.add_metric(METRIC_SUBMITTED, MetricUnit.Count, 1)
        logger.info("backtest execution started", extra={"execution_arn": arn})
        return self._result(request, contract.SUBMITTED, execution_arn=arn)

    def _run_task(self, request: BacktestRequest, resumed: bool) -> dict[str, Any]:
        assert self.ecs is not None and self.settings.ecs is not None
        if resumed:
            existing = self._started_tasks(request)
            if existing:
                logger.info(
                    "a task of this run is running already; adopted, not launched again",
                    extra={"task_arn": existing[0]},
                )
                return self._running(request, existing[0], duplicate=True)
        try:
            outcome = self.ecs.run_task(self.settings.ecs, request)
        except (ClientError, BotoCoreError) as exc:
            return self._refused("RunTask", request, exc)
        if outcome.failure:
            return self._failed(request, f"RunTask failure: {outcome.failure}")
        assert outcome.task_arn is not None  # RunTaskOutcome holds a task or a failure
        metrics.add_metric(METRIC_SUBMITTED, MetricUnit.Count, 1)
        logger.info("backtest task started", extra={"task_arn": outcome.task_arn})
        return self._running(request, outcome.task_arn)

    def _started_tasks(self, request: BacktestRequest) -> list[str]:
        """Tasks a previous attempt started for the run; [] (with a warning) when ECS refuses to list them."""
        assert self.ecs is not None  # called by the ECS launch only
        try:
            return self.ecs.tasks_started_by(started_by(request.run_id))
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise
            logger.warning(
                "cannot look for a task of a previous attempt (needs ecs:ListTasks); launching",
                extra={"error_code": error_code(exc), "error": str(exc)},
            )
            return []

    def _running(self, request: BacktestRequest, task_arn: str, duplicate: bool = False) -> dict[str, Any]:
        try:
            self.runs.transition(request.run_id, contract.RUNNING, task_arn=task_arn)
        except StatusRegression as exc:  # moved on meanwhile; the orphan scanner stops a task of a terminal run
            logger.error(
                "run could not be marked RUNNING after its task started",
                extra={"task_arn": task_arn, "error": str(exc)},
            )
            return self._result(request, exc.current, task_arn=task_arn, duplicate=duplicate)
        return self._result(request, contract.RUNNING, task_arn=task_arn, duplicate=duplicate)

    def _refused(self, call: str, request: BacktestRequest, exc: Exception) -> dict[str, Any]:
        if is_transient(exc):
            logger.warning(
                f"{call}: transient AWS error; the record will be retried",
                extra={"error_code": error_code(exc), "error": str(exc)},
            )
            raise exc
        return self._failed(request, f"{call} refused: {error_code(exc)}: {exc}")

    def _failed(self, request: BacktestRequest, reason: str) -> dict[str, Any]:
        metrics.add_metric(METRIC_LAUNCH_FAILED, MetricUnit.Count, 1)
        logger.error("backtest launch failed; run marked FAILED", extra={"reason": reason})
        try:
            self.runs.transition(request.run_id, contract.FAILED, error=reason)
        except StatusRegression as exc:
            logger.warning("run could not be marked FAILED", extra={"error": str(exc)})
        return self._result(request, contract.FAILED, error=reason)

    @staticmethod
    def _result(request: BacktestRequest, status: str, duplicate: bool = False, **fields: Any) -> dict[str, Any]:
        return {
            "run_id": request.run_id,
            "status": status,
            "duplicate": duplicate,
            **{key: value for key, value in fields.items() if value is not None},
        }
