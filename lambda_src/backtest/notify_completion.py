"""Handler of `tradai-notify-completion` (Step Functions task outside the VPC; entry point
``backtest.notify_completion.handler``), the last step of the backtest and the retraining workflows.

Input: {"run_id", "status", optional "kind" ("backtest" (default) | "retraining"), "trace_id", "strategy",
"outcome", "error"} (run_id and status required). Sends one notice through shared.notify: recorded in
tradai-notifications once per run and status (a replay is a no-op) and, for a FAILED run, alerted on
ALERTS_TOPIC_ARN once. Output: {"notified": true, "duplicate": bool}.
Env: NOTIFICATIONS_TABLE, ALERTS_TOPIC_ARN.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.notify import Notice, notifier_from_env

from . import contract
from .observability import logger, metrics, tracer
from .runs import error_text, run_and_status

KINDS = ("backtest", "retraining")


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    run_id, status = run_and_status(event)
    kind = event.get("kind") or KINDS[0]
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: allowed: {', '.join(KINDS)}")
    trace_id, strategy, outcome = (
        _text(event.get("trace_id")),
        _text(event.get("strategy")),
        _text(event.get("outcome")),
    )
    error = error_text(event.get("error"))
    logger.append_keys(run_id=run_id, trace_id=trace_id, kind=kind)
    prefix = "" if kind == "backtest" else f"{kind}#"
    delivery = notifier_from_env().send(
        Notice(
            notification_id=f"{prefix}{run_id}#{status}",
            source=context.function_name,
            subject=f"TradAI {kind} {run_id} {status}",
            message=_message(kind, run_id, status, strategy, trace_id, outcome, error),
            alert=status == contract.FAILED,
            attributes={
                "run_id": run_id,
                "status": status,
                "kind": kind,
                "trace_id": trace_id,
                "strategy": strategy,
                "outcome": outcome,
                "error": error,
            },
        )
    )
    if delivery.duplicate:
        logger.info("notification recorded already; not written again", extra={"status": status})
    if delivery.published:
        logger.info("failure alert published", extra={"message_id": delivery.message_id})
    return {"notified": True, "duplicate": delivery.duplicate}


def _message(
    kind: str,
    run_id: str,
    status: str,
    strategy: str | None,
    trace_id: str | None,
    outcome: str | None,
    error: str | None,
) -> str:
    lines = [
        f"{kind.capitalize()} run {run_id} {status}.",
        f"strategy: {strategy or 'unknown'}",
        f"trace_id: {trace_id or 'unknown'}",
    ]
    if outcome:
        lines.append(f"outcome: {outcome}")
    if status == contract.FAILED:
        lines.append(f"error: {error or 'no error details'}")
    return "\n".join(lines)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
