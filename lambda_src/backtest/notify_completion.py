"""Handler of `tradai-notify-completion` (Step Functions task outside the VPC; entry point
``backtest.notify_completion.handler``).

Input: {"run_id", "status", "trace_id", "strategy", optional "error"} (run_id and status required).
Records the notification in tradai-notifications (notification_id = "<run_id>#<status>", written once:
a replay is a no-op) and, for a FAILED run, publishes a short alert to ALERTS_TOPIC_ARN (once: the item
remembers when the alert went out, so a replay after a failed publish sends it, a later one does not).
Output: {"notified": true, "duplicate": bool}.
Env: NOTIFICATIONS_TABLE, ALERTS_TOPIC_ARN.
"""

from __future__ import annotations

import functools
import os
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aws import cached_client

from . import contract
from .aws_access import Notifications
from .observability import logger, metrics, tracer
from .runs import error_text, iso, run_and_status
from .settings import NotifySettings, notify_settings

RETENTION_DAYS = 30
MAX_ALERT_ERROR_CHARS = 1000


@functools.cache
def settings() -> NotifySettings:
    return notify_settings(os.environ)


@functools.cache
def notifications() -> Notifications:
    config = settings()
    return Notifications(cached_client("dynamodb"), cached_client("sns"), config.notifications_table,
                         config.alerts_topic_arn)


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    run_id, status = run_and_status(event)
    trace_id, strategy = _text(event.get("trace_id")), _text(event.get("strategy"))
    error = error_text(event.get("error"))
    logger.append_keys(run_id=run_id, trace_id=trace_id)
    now = datetime.now(timezone.utc)
    item = {"notification_id": f"{run_id}#{status}", "run_id": run_id, "status": status, "trace_id": trace_id,
            "strategy": strategy, "error": error, "created_at": iso(now),
            "expire_at": int((now + timedelta(days=RETENTION_DAYS)).timestamp())}
    store = notifications()
    existing = store.record({key: value for key, value in item.items() if value is not None})
    if existing is not None:
        logger.info("notification recorded already; not written again", extra={"status": status})
    if status == contract.FAILED and (existing is None or not existing.get("alert_sent_at")):
        message_id = store.alert(f"TradAI backtest {run_id} FAILED", _alert(run_id, strategy, trace_id, error))
        store.mark(item["notification_id"], alert_sent_at=iso(datetime.now(timezone.utc)), alert_message_id=message_id)
        logger.info("failure alert published", extra={"message_id": message_id})
    return {"notified": True, "duplicate": existing is not None}


def _alert(run_id: str, strategy: Optional[str], trace_id: Optional[str], error: Optional[str]) -> str:
    detail = (error or "no error details")
    if len(detail) > MAX_ALERT_ERROR_CHARS:
        detail = detail[:MAX_ALERT_ERROR_CHARS - 3] + "..."
    return "\n".join([f"Backtest run {run_id} FAILED.", f"strategy: {strategy or 'unknown'}",
                      f"trace_id: {trace_id or 'unknown'}", f"error: {detail}"])


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value.strip() else None
