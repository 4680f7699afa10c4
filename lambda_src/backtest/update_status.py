"""Handler of `tradai-update-status` (Step Functions task; entry point ``backtest.update_status.handler``).

Input: {"run_id", "status", optional "execution_arn", "task_arn", "error" (a Catch's {"Error", "Cause"}
object, or a string)}. Output: {"run_id", "status", "changed"}; changed is false when the run already
had the status (a replayed state). A refused move (backwards, out of a terminal status) raises
StatusRegression (contract.STATUS_REGRESSION_ERROR); a run that does not exist raises RunNotFound; a
missing run_id or unknown status raises ValueError naming the field.
Env: WORKFLOW_STATE_TABLE.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aws import cached_client

from .observability import logger, metrics, tracer
from .runs import Runs, StatusRegression, run_and_status
from .settings import workflow_table

ARN_FIELDS = ("execution_arn", "task_arn")


@functools.cache
def settings() -> str:
    """The workflow-state table name; read and validated once per cold start."""
    return workflow_table(os.environ)


@functools.cache
def runs() -> Runs:
    return Runs(cached_client("dynamodb"), settings())


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    run_id, status = run_and_status(event)
    fields = {key: event[key] for key in (*ARN_FIELDS, "error") if event.get(key) not in (None, "")}
    for key in ARN_FIELDS:
        if key in fields and not (isinstance(fields[key], str) and fields[key].startswith("arn:")):
            raise ValueError(f"{key}={fields[key]!r}: an ARN is required")
    logger.append_keys(run_id=run_id)
    try:
        changed = runs().transition(run_id, status, **fields)
    except StatusRegression as exc:
        logger.error(str(exc), extra={"current": exc.current, "requested": exc.requested})
        raise
    logger.info("run status " + ("updated" if changed else "unchanged (already set)"), extra={"status": status})
    return {"run_id": run_id, "status": status, "changed": changed}
