"""Pure decisions of the trading heartbeat check (no AWS calls).

A live or dry-run strategy that is RUNNING goes STALE when its last_heartbeat is older than the threshold,
missing or unreadable; a STALE one whose heartbeat is fresh again goes back to RUNNING. Other statuses
(STOPPED, ...) are not judged; an item without a monitored mode is skipped (and logged by the caller).
Each stale incident alerts once (its notification_id names the heartbeat it went stale on); live trading
gets the urgent subject. The recovery is alerted too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.clock import iso, parse_iso_or_none
from shared.notify import Notice

from . import contract

STALE, RECOVER, KEEP, SKIP = "STALE", "RECOVER", "KEEP", "SKIP"
ID_VALUE_MAX = 64  # characters of an unreadable heartbeat value kept in a notification_id


@dataclass(frozen=True)
class Strategy:
    strategy_id: str
    mode: Any
    status: Any
    last_heartbeat: Any  # as stored: normally an ISO-8601 UTC string
    stale_since: Any = None
    stale_heartbeat: Any = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Strategy:
        return cls(
            str(item.get("strategy_id")),
            item.get(contract.ATTR_MODE),
            item.get(contract.ATTR_STATUS),
            item.get(contract.ATTR_LAST_HEARTBEAT),
            item.get(contract.ATTR_STALE_SINCE),
            item.get(contract.ATTR_STALE_HEARTBEAT),
        )


@dataclass(frozen=True)
class Verdict:
    action: str  # STALE, RECOVER, KEEP or SKIP
    reason: str


def assess(strategy: Strategy, now: datetime, stale_after: timedelta) -> Verdict:
    if strategy.mode not in contract.MONITORED_MODES:
        return Verdict(SKIP, f"mode {strategy.mode!r} is not one of {', '.join(contract.MONITORED_MODES)}")
    beat = parse_iso_or_none(strategy.last_heartbeat)
    if beat is None:
        problem = (
            "no last_heartbeat"
            if strategy.last_heartbeat is None
            else f"last_heartbeat {strategy.last_heartbeat!r} is not an ISO-8601 UTC timestamp"
        )
    elif now - beat > stale_after:
        problem = f"last heartbeat {strategy.last_heartbeat} is {_minutes(now - beat)} old"
    else:
        problem = None
    if strategy.status == contract.TRADING_RUNNING and problem:
        return Verdict(STALE, problem)
    if strategy.status == contract.TRADING_STALE and not problem:
        return Verdict(RECOVER, f"heartbeat {strategy.last_heartbeat} is fresh again")
    return Verdict(KEEP, problem or "heartbeat fresh")


def stale_notice(strategy: Strategy, verdict: Verdict, now: datetime, stale_after: timedelta, source: str) -> Notice:
    live = strategy.mode == "live"
    subject = (
        f"URGENT: TradAI LIVE strategy {strategy.strategy_id} stopped sending heartbeats"
        if live
        else f"TradAI dry-run strategy {strategy.strategy_id} stopped sending heartbeats"
    )
    message = "\n".join(
        [
            f"{strategy.mode} strategy {strategy.strategy_id} is STALE: {verdict.reason} "
            f"(threshold {_minutes(stale_after)}).",
            f"marked STALE at {iso(now)}.",
            "Live orders may be unmanaged: check the trading task now."
            if live
            else "Dry-run only: no real orders are affected.",
        ]
    )
    return Notice(
        notification_id=f"heartbeat#{strategy.strategy_id}#{_id_part(strategy.last_heartbeat)}",
        source=source,
        subject=subject,
        message=message,
        alert=True,
        attributes=_attributes(strategy, contract.TRADING_STALE),
    )


def recovery_notice(strategy: Strategy, now: datetime, source: str) -> Notice:
    return Notice(
        notification_id=f"heartbeat#{strategy.strategy_id}#{_id_part(strategy.stale_heartbeat)}#recovered",
        source=source,
        subject=f"TradAI {strategy.mode} strategy {strategy.strategy_id} recovered (heartbeats again)",
        message=(
            f"{strategy.mode} strategy {strategy.strategy_id} sends heartbeats again (last "
            f"{strategy.last_heartbeat}); STALE since {strategy.stale_since or 'unknown'}, RUNNING again at "
            f"{iso(now)}."
        ),
        alert=True,
        attributes=_attributes(strategy, contract.TRADING_RUNNING),
    )


def _attributes(strategy: Strategy, status: str) -> dict[str, Any]:
    return {
        "kind": "heartbeat",
        "strategy_id": strategy.strategy_id,
        "mode": strategy.mode,
        "status": status,
        "last_heartbeat": str(strategy.last_heartbeat) if strategy.last_heartbeat is not None else None,
    }


def _id_part(heartbeat: Any) -> str:
    return "missing" if heartbeat is None else str(heartbeat)[:ID_VALUE_MAX]


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"
