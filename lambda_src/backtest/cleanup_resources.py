"""Handler of `tradai-cleanup-resources` (Step Functions task; entry point ``backtest.cleanup_resources.handler``).

Input: {"run_id", optional "task" (the EcsRunTask result, e.g. {"TaskArn": ...}), optional "error"
(a Catch's {"Error", "Cause"})}. Stops the run's task: the one named in the input, else those ECS lists
with startedBy = run_id[:36] and desired status RUNNING, else the cluster's running tasks (up to 100)
whose JOB_ID override is the run (the state machine's EcsRunTask cannot set startedBy). Idempotent:
stopping a stopped task is accepted and a task ECS no longer knows is skipped.
Output: {"stopped": [task ARNs]}.
Env: ECS_CLUSTER.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aws import cached_client

from .aws_access import Ecs, started_by
from .observability import logger, metrics, tracer
from .settings import ecs_cluster

MAX_SCANNED_TASKS = 100


@functools.cache
def settings() -> str:
    """The ECS cluster; read and validated once per cold start."""
    return ecs_cluster(os.environ)


@functools.cache
def ecs() -> Ecs:
    return Ecs(cached_client("ecs"), settings())


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, list[str]]:
    if not isinstance(event, dict):
        raise ValueError(f"input must be a JSON object with run_id, got {type(event).__name__}")
    run_id = event.get("run_id")
    if not isinstance(run_id, str) or not run_id.strip():
        raise ValueError(f"run_id={run_id!r}: a non-empty run id is required")
    logger.append_keys(run_id=run_id)
    cluster = ecs()
    named = _task_arn(event.get("task"))
    arns = [named] if named else cluster.tasks_started_by(started_by(run_id))
    if not arns:  # a task the state machine started has startedBy "AWS Step Functions": match its JOB_ID
        running = cluster.describe(cluster.running_tasks(MAX_SCANNED_TASKS)).values()
        arns = [task.task_arn for task in running if task.run_id == run_id]
    reason = f"backtest {run_id} failed: {_error_name(event.get('error'))}"
    stopped = []
    for arn in arns:
        if cluster.stop(arn, reason):
            stopped.append(arn)
        else:
            logger.info("task no longer known to ECS; nothing to stop", extra={"task_arn": arn})
    logger.info("run's tasks stopped", extra={"stopped": stopped, "reason": reason})
    return {"stopped": stopped}


def _task_arn(task: Any) -> str | None:
    if isinstance(task, dict):
        arn = task.get("TaskArn") or task.get("taskArn")
        return arn if isinstance(arn, str) and arn.startswith("arn:") else None
    return None


def _error_name(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("Error") or "unknown error")
    return str(error) if error else "unknown error"
