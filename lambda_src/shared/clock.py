"""UTC timestamps as every TradAI table stores them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and Z, e.g. 2026-12-01T05:30:00.123Z (sorts as text)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """The inverse of ``iso`` (also accepts +00:00 offsets); ValueError on anything else."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone; expected UTC like 2026-12-01T05:30:00Z")
    return moment.astimezone(UTC)


def parse_iso_or_none(value: Any) -> datetime | None:
    """``parse_iso`` of a stored timestamp; None when it is missing or not an ISO-8601 UTC timestamp."""
    if not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None
