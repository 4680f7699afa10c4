"""Handler of `tradai-validate-strategy` (Step Functions task; entry point ``backtest.validate_strategy.handler``).

Input: the workflow input the consumer built ({"run_id", "job_id", "trace_id", "strategy", "strategy_id",
"trading_mode", "timeframe", "timerange", "pairs" (comma-joined), "experiment_name"}).
Output: {"valid": true}. An invalid input raises InvalidBacktestRequest (contract.INVALID_REQUEST_ERROR),
whose message names the field; the state machine does not retry it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .observability import METRIC_INVALID_REQUEST, logger, metrics, tracer
from .request import InvalidRequest, parse_workflow_input


class InvalidBacktestRequest(InvalidRequest):
    """The error the state machine sees (its class name is contract.INVALID_REQUEST_ERROR)."""


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict):
        logger.append_keys(run_id=event.get("run_id"), trace_id=event.get("trace_id"))
    try:
        request = parse_workflow_input(event)
    except InvalidRequest as exc:
        logger.error(f"rejected workflow input: {exc}", extra={"field": exc.field})
        metrics.add_metric(METRIC_INVALID_REQUEST, MetricUnit.Count, 1)
        raise InvalidBacktestRequest(exc.field, exc.value, exc.allowed) from None
    logger.info("workflow input valid", extra={"strategy": request.strategy, "pairs": len(request.pairs)})
    return {"valid": True}
