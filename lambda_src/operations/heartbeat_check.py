"""Handler of `tradai-trading-heartbeat-check` (EventBridge schedule, every 5 minutes, in the VPC; entry point
``operations.heartbeat_check.handler``).

Scans tradai-trading-state (every page) for live and dry-run strategies and applies ``heartbeats``: a RUNNING
strategy with a stale, missing or unreadable heartbeat is marked STALE (stale_since, stale_heartbeat) and
alerted once; a STALE one with a fresh heartbeat is marked RUNNING again with a recovery notice. Both
updates are conditional on status and last_heartbeat being what was judged, so a heartbeat arriving
meanwhile wins. Publishes StaleStrategies (strategies STALE after the run) per mode.
Input: the scheduled event (only logged). Output: {"stale": [ids marked STALE], "recovered": [ids],
"skipped": [ids without a monitored mode]}.
Env: TRADING_STATE_TABLE, HEARTBEAT_STALE_MINUTES, NOTIFICATIONS_TABLE, ALERTS_TOPIC_ARN.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aws import cached_client
from shared.clock import iso
from shared.notify import Notifier

from . import contract
from .aws_access import TradingStates
from .common import Failures, log_trigger
from .heartbeats import RECOVER, SKIP, STALE, Strategy, assess, recovery_notice, stale_notice
from .observability import emit, logger, metrics, tracer
from .outbox import Outbox, pending
from .settings import HeartbeatSettings, heartbeat_settings


@functools.cache
def settings() -> HeartbeatSettings:
    return heartbeat_settings(os.environ)


@functools.cache
def checker() -> HeartbeatChecker:
    config, dynamodb = settings(), cached_client("dynamodb")
    return HeartbeatChecker(
        config,
        TradingStates(dynamodb, config.trading_table),
        Outbox(Notifier(dynamodb, cached_client("sns"), config.notifier), dynamodb),
    )


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, list[str]]:
    log_trigger(event)
    return checker().run(context.function_name)


@dataclass
class HeartbeatChecker:
    settings: HeartbeatSettings
    trading: TradingStates
    outbox: Outbox
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def run(self, source: str) -> dict[str, list[str]]:
        now, failures = self.now(), Failures("strategies")
        result: dict[str, list[str]] = {"stale": [], "recovered": [], "skipped": []}
        seen: list[Strategy] = []
        scanned = False
        with failures.guard("scan of the trading-state table"):
            for item in self.trading.candidates():
                seen.append(strategy := Strategy.from_item(item))
                with failures.guard(strategy.strategy_id, strategy_id=strategy.strategy_id):
                    self._check(strategy, item, now, source, result)
            scanned = True
        stale_now = Counter(
            s.mode
            for s in seen
            if s.strategy_id in result["stale"]
            or (s.status == contract.TRADING_STALE and s.strategy_id not in result["recovered"])
        )
        if scanned:  # a partial count would be misleading; the failed run alarms instead
            for mode in contract.MONITORED_MODES:
                emit(contract.METRIC_STALE_STRATEGIES, MetricUnit.Count, stale_now[mode], contract.DIMENSION_MODE, mode)
        logger.info("heartbeat check finished", extra={**result, "stale_now": dict(stale_now)})
        failures.raise_if_any()
        return result

    def _check(
        self, strategy: Strategy, item: dict[str, Any], now: datetime, source: str, result: dict[str, list[str]]
    ) -> None:
        """Judge one strategy and act on it; what it did goes into ``result``."""
        key = {"strategy_id": strategy.strategy_id}
        self.outbox.flush(self.trading.table, key, item)
        if strategy.status not in (contract.TRADING_RUNNING, contract.TRADING_STALE):
            return  # listed only for the pending notice it carried
        stale_after = timedelta(minutes=self.settings.stale_minutes)
        verdict = assess(strategy, now, stale_after)
        extra = {
            "strategy_id": strategy.strategy_id,
            "mode": strategy.mode,
            "reason": verdict.reason,
            "last_heartbeat": repr(strategy.last_heartbeat),
        }
        if verdict.action == SKIP:
            logger.warning("trading-state item without a monitored mode; not judged", extra=extra)
            result["skipped"].append(strategy.strategy_id)
        elif verdict.action == STALE:
            notice = stale_notice(strategy, verdict, now, stale_after, source)
            if self.trading.mark_stale(strategy.strategy_id, strategy.last_heartbeat, iso(now), pending(notice)):
                logger.warning("strategy marked STALE", extra=extra)
                result["stale"].append(strategy.strategy_id)
                self.outbox.send(self.trading.table, key, notice)
            else:
                logger.info("strategy changed while judged (a heartbeat arrived); not marked STALE", extra=extra)
        elif verdict.action == RECOVER:
            notice = recovery_notice(strategy, now, source)
            if self.trading.mark_running(strategy.strategy_id, strategy.last_heartbeat, iso(now), pending(notice)):
                logger.info("strategy RUNNING again", extra=extra)
                result["recovered"].append(strategy.strategy_id)
                self.outbox.send(self.trading.table, key, notice)
            else:
                logger.info("strategy changed while judged; its recovery is left to the next run", extra=extra)
