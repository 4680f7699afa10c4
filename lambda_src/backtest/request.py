"""A backtest request: parsing and validation of the SQS message body and of the workflow input (pure).

The consumer parses the message body (``parse_request``); the state machine's validate-strategy task
re-validates the workflow input the consumer built from it (``parse_workflow_input``) with the same
field rules, so both reject exactly the same values.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from . import contract

TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "4h", "1d")
MAX_PAIRS = 50
DEFAULT_EXPERIMENT = "default"
TRACE_ATTRIBUTE = "trace_id"  # SQS message attribute (stringValue) carrying the caller's trace id

STRATEGY = re.compile(r"[A-Z][A-Za-z0-9_]{0,63}")
STRATEGY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
PAIR = re.compile(r"[A-Z0-9]{1,20}/[A-Z0-9]{1,20}")
TIMERANGE = re.compile(r"(\d{8})-(\d{8})")
EXPERIMENT_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,128}")
TRACE_ID = re.compile(r"[\x21-\x7e]{1,256}")  # printable ASCII, no blanks: safe as an HTTP header value

ALLOWED = {
    "job_id": "a UUID string, e.g. 0b6c1f3e-3d7a-4c51-9a07-2f0d4e8b9c11",
    "strategy": f"a Python class name matching ^{STRATEGY.pattern}$",
    "strategy_id": f"an id matching ^{STRATEGY_ID.pattern}$ (default: strategy lowercased)",
    "timeframe": f"one of {', '.join(TIMEFRAMES)}",
    "timerange": "YYYYMMDD-YYYYMMDD with valid dates and start < end",
    "pairs": f"a non-empty list of at most {MAX_PAIRS} distinct BASE/QUOTE uppercase pairs, e.g. BTC/USDT",
    "experiment_name": "1 to 128 printable characters, not only blanks",
    "trace_id": "1 to 256 printable ASCII characters without blanks",
}


class InvalidRequest(ValueError):
    """A request field is missing or invalid; the message names the field, its value and what is allowed."""

    def __init__(self, field: str, value: Any, allowed: str):
        super().__init__(f"invalid backtest request: {field}={_show(value)}; allowed: {allowed}")
        self.field, self.value, self.allowed = field, value, allowed


@dataclass(frozen=True)
class BacktestRequest:
    job_id: str
    strategy: str
    strategy_id: str
    timeframe: str
    timerange: str
    pairs: tuple[str, ...]
    experiment_name: str
    trace_id: str

    @property
    def run_id(self) -> str:
        return self.job_id

    def with_trace_id(self, trace_id: str) -> BacktestRequest:
        return replace(self, trace_id=trace_id)

    def workflow_input(self) -> dict[str, str]:
        """The state machine's input (also what the strategy container's environment is built from)."""
        return {
            "run_id": self.run_id,
            "job_id": self.job_id,
            "trace_id": self.trace_id,
            "strategy": self.strategy,
            "strategy_id": self.strategy_id,
            "trading_mode": contract.TRADING_MODE,
            "timeframe": self.timeframe,
            "timerange": self.timerange,
            "pairs": ",".join(self.pairs),
            "experiment_name": self.experiment_name,
        }

    def container_environment(self) -> list[dict[str, str]]:
        """The per-run container overrides (spec 2.5) as ECS ``environment`` entries."""
        values = self.workflow_input()
        return [{"name": env, "value": values[field]} for field, env in contract.RUN_OVERRIDES.items()]


def parse_request(body: Any, *, message_id: str, attributes: Mapping[str, Any] | None = None) -> BacktestRequest:
    """Validate an SQS message body (a JSON object); trace_id falls back to the message attribute, then the id.

    ``attributes`` are the record's ``messageAttributes`` as Lambda delivers them
    (``{"trace_id": {"stringValue": "...", "dataType": "String"}}``).
    """
    if not isinstance(body, str):
        raise InvalidRequest("body", body, "a JSON object (string)")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidRequest("body", body, f"a JSON object (not valid JSON: {exc})") from None
    if not isinstance(data, dict):
        raise InvalidRequest("body", body, "a JSON object")
    trace_id = data.get("trace_id")
    if trace_id is None:
        attribute = (attributes or {}).get(TRACE_ATTRIBUTE)
        trace_id = attribute.get("stringValue") if isinstance(attribute, Mapping) else None
    if trace_id is None:
        trace_id = message_id
    pairs = data.get("pairs")
    if not isinstance(pairs, list):
        raise InvalidRequest("pairs", pairs, ALLOWED["pairs"])
    return _validated(data, pairs=pairs, trace_id=trace_id)


def parse_workflow_input(data: Any) -> BacktestRequest:
    """Re-validate the state machine input built by ``BacktestRequest.workflow_input`` (pairs comma-joined)."""
    if not isinstance(data, Mapping):
        raise InvalidRequest("input", data, "a JSON object with the workflow input fields")
    pairs = data.get("pairs")
    if not isinstance(pairs, str):
        raise InvalidRequest("pairs", pairs, "a comma-joined string of BASE/QUOTE pairs, e.g. BTC/USDT,ETH/USDT")
    if data.get("trading_mode") != contract.TRADING_MODE:
        raise InvalidRequest("trading_mode", data.get("trading_mode"), repr(contract.TRADING_MODE))
    if data.get("trace_id") is None:
        raise InvalidRequest("trace_id", None, ALLOWED["trace_id"])
    request = _validated(data, pairs=pairs.split(","), trace_id=data["trace_id"])
    if data.get("run_id") != request.job_id:
        raise InvalidRequest("run_id", data.get("run_id"), f"the job_id ({request.job_id})")
    return request


def _validated(data: Mapping[str, Any], *, pairs: list, trace_id: Any) -> BacktestRequest:
    job_id = _job_id(data.get("job_id"))
    strategy = _matching(data, "strategy", STRATEGY)
    strategy_id = (
        strategy.lower().replace("_", "-")
        if data.get("strategy_id") is None
        else _matching(data, "strategy_id", STRATEGY_ID)
    )
    timeframe = data.get("timeframe")
    if timeframe not in TIMEFRAMES:
        raise InvalidRequest("timeframe", timeframe, ALLOWED["timeframe"])
    experiment = (
        DEFAULT_EXPERIMENT
        if data.get("experiment_name") is None
        else _matching(data, "experiment_name", EXPERIMENT_NAME)
    )
    if not experiment.strip():
        raise InvalidRequest("experiment_name", experiment, ALLOWED["experiment_name"])
    if not (isinstance(trace_id, str) and TRACE_ID.fullmatch(trace_id)):
        raise InvalidRequest("trace_id", trace_id, ALLOWED["trace_id"])
    return BacktestRequest(
        job_id=job_id,
        strategy=strategy,
        strategy_id=strategy_id,
        timeframe=timeframe,
        timerange=_timerange(data.get("timerange")),
        pairs=_pairs(pairs),
        experiment_name=experiment,
        trace_id=trace_id,
    )


def _job_id(value: Any) -> str:
    try:
        parsed = uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or str(parsed) != value.lower():  # only the canonical 8-4-4-4-12 form
        raise InvalidRequest("job_id", value, ALLOWED["job_id"])
    return str(parsed)


def _matching(data: Mapping[str, Any], field: str, pattern: re.Pattern) -> str:
    value = data.get(field)
    if not (isinstance(value, str) and pattern.fullmatch(value)):
        raise InvalidRequest(field, value, ALLOWED[field])
    return value


def _timerange(value: Any) -> str:
    match = TIMERANGE.fullmatch(value) if isinstance(value, str) else None
    try:
        start, end = (datetime.strptime(part, "%Y%m%d") for part in match.groups()) if match else (None, None)
    except ValueError:
        start = end = None
    if start is None or end is None or start >= end:
        raise InvalidRequest("timerange", value, ALLOWED["timerange"])
    return value


def _pairs(value: list) -> tuple[str, ...]:
    if (
        not value
        or len(value) > MAX_PAIRS
        or len(set(map(str, value))) != len(value)
        or not all(isinstance(pair, str) and PAIR.fullmatch(pair) for pair in value)
    ):
        raise InvalidRequest("pairs", value, ALLOWED["pairs"])
    return tuple(value)


def _show(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"
