"""Handler of `tradai-orphan-scanner` (EventBridge schedule, every 5 minutes; entry point
``backtest.orphan_scanner.handler``).

(a) Runs still SUBMITTED or RUNNING STUCK_AFTER_MINUTES after creation (status-created_at-index) whose
execution and task are gone are marked FAILED with error "orphaned: <why>"; (b) backtest tasks
(TASK_FAMILY, desired status RUNNING, TRADING_MODE backtest) whose run (JOB_ID override, else startedBy)
does not exist or is terminal are stopped ("orphan: no live run"). Bounded per scan (orphans.MAX_RUNS
runs, orphans.MAX_TASKS tasks); idempotent, so the next scan picks up what one leaves. A run whose
evidence cannot be read is skipped (warning) until the next scan.
Output: {"runs_checked", "orphaned_runs", "tasks_checked", "orphaned_tasks"} (counts).
Env: WORKFLOW_STATE_TABLE, ECS_CLUSTER, TASK_FAMILY, STUCK_AFTER_MINUTES.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import cached_client, error_code

from . import contract
from .aws_access import MISSING, Ecs, StepFunctions
from .observability import METRIC_ORPHANED_RUNS, METRIC_ORPHANED_TASKS, logger, metrics, tracer
from .orphans import MAX_RUNS, MAX_TASKS, TASK_STOP_REASON, assess_run, assess_task
from .runs import Run, Runs, StatusRegression
from .settings import OrphanScannerSettings, orphan_scanner_settings

STUCK_STATUSES = (contract.RUNNING, contract.SUBMITTED)


@functools.cache
def settings() -> OrphanScannerSettings:
    return orphan_scanner_settings(os.environ)


@functools.cache
def scanner() -> Scanner:
    config = settings()
    return Scanner(
        config,
        Runs(cached_client("dynamodb"), config.workflow_table),
        Ecs(cached_client("ecs"), config.cluster),
        StepFunctions(cached_client("stepfunctions")),
    )


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, int]:
    return scanner().scan()


@dataclass
class Scanner:
    settings: OrphanScannerSettings
    runs: Runs
    ecs: Ecs
    stepfunctions: StepFunctions
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def scan(self) -> dict[str, int]:
        runs_checked, orphaned_runs = self._stuck_runs()
        tasks_checked, orphaned_tasks = self._stray_tasks()
        metrics.add_metric(METRIC_ORPHANED_RUNS, MetricUnit.Count, orphaned_runs)
        metrics.add_metric(METRIC_ORPHANED_TASKS, MetricUnit.Count, orphaned_tasks)
        result = {
            "runs_checked": runs_checked,
            "orphaned_runs": orphaned_runs,
            "tasks_checked": tasks_checked,
            "orphaned_tasks": orphaned_tasks,
        }
        logger.info("orphan scan finished", extra=result)
        return result

    def _stuck_runs(self) -> tuple[int, int]:
        cutoff = self.now() - timedelta(minutes=self.settings.stuck_after_minutes)
        stuck: list[Run] = []
        for status in STUCK_STATUSES:
            stuck += self.runs.stuck(status, cutoff, MAX_RUNS - len(stuck))
        tasks = self._task_statuses([run.task_arn for run in stuck if run.task_arn])
        orphaned = 0
        for run in stuck:
            try:
                execution = self.stepfunctions.status(run.execution_arn) if run.execution_arn else None
            except (ClientError, BotoCoreError) as exc:
                logger.warning(
                    "execution status unreadable; run skipped until the next scan",
                    extra={"run_id": run.run_id, "error_code": error_code(exc), "error": str(exc)},
                )
                continue
            task = tasks.get(run.task_arn) if run.task_arn else None
            if run.task_arn and task is None:  # DescribeTasks failed for it; no verdict without evidence
                continue
            verdict = assess_run(run, execution, task)
            if verdict.orphaned and self._fail(run, verdict.reason):
                orphaned += 1
        return len(stuck), orphaned

    def _task_statuses(self, arns: list[str]) -> dict[str, str]:
        """lastStatus per task ARN (MISSING when ECS does not know it); {} when ECS cannot be read now."""
        if not arns:
            return {}
        try:
            found = self.ecs.describe(arns)
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "tasks unreadable; their runs are skipped until the next scan",
                extra={"error_code": error_code(exc), "error": str(exc)},
            )
            return {}
        return {arn: found[arn].last_status if arn in found else MISSING for arn in arns}

    def _fail(self, run: Run, why: str) -> bool:
        try:
            changed = self.runs.transition(run.run_id, contract.FAILED, only_from=run.status, error=f"orphaned: {why}")
        except StatusRegression as exc:  # finished meanwhile
            logger.info(
                "run finished while being scanned; left alone", extra={"run_id": run.run_id, "status": exc.current}
            )
            return False
        if changed:
            logger.warning(
                "orphaned run marked FAILED",
                extra={
                    "run_id": run.run_id,
                    "previous_status": run.status,
                    "reason": why,
                    "created_at": run.created_at,
                },
            )
        return changed

    def _stray_tasks(self) -> tuple[int, int]:
        arns = self.ecs.running_tasks(MAX_TASKS, family=self.settings.task_family)
        tasks = self.ecs.describe(arns) if arns else {}
        runs: dict[str, Run | None] = {}
        orphaned = 0
        for task in tasks.values():
            if task.desired_status == "STOPPED" or task.last_status == "STOPPED":
                continue
            if task.run_id and task.run_id not in runs:
                runs[task.run_id] = self.runs.get(task.run_id)
            verdict = assess_task(task, runs.get(task.run_id))
            if verdict.orphaned and self.ecs.stop(task.task_arn, TASK_STOP_REASON):
                orphaned += 1
                logger.warning(
                    "orphaned task stopped",
                    extra={
                        "task_arn": task.task_arn,
                        "reason": verdict.reason,
                        "run_id": task.run_id,
                        "started_by": task.started_by,
                    },
                )
        return len(tasks), orphaned
