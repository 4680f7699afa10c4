"""Pure decisions of the retraining workflow: ids and windows, task inputs, "is retraining needed", "is the
challenger better". No AWS or MLflow calls; used by retraining_scheduler, check_retraining and compare_models.

Betterness (scores are contract.PERFORMANCE_METRIC values, higher is better): a challenger beats a champion
when ``challenger >= champion + min_improvement * |champion|``. The absolute value keeps the rule meaningful
for negative scores (champion -1.0, 2 % → the challenger needs -0.98 or more). A challenger without a finite
score never wins; with no champion score to beat (no champion, or it has no finite score) any finite score
wins.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, overload

from . import contract
from .mlflow import tags

EXECUTION_NAME_MAX = 80  # Step Functions execution names: at most 80 of [A-Za-z0-9_-] here
WINDOW_FORMAT = "%Y%m%dT%H"
SLUG_MAX = EXECUTION_NAME_MAX - len("-YYYYMMDDTHH")  # 68
HASH_LEN = 8
SHADOW_SUFFIX = "-shadow"
RETRAINING_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{EXECUTION_NAME_MAX}}}")
TEST_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{EXECUTION_NAME_MAX + len(SHADOW_SUFFIX)}}}")
MODEL_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,256}")  # MLflow names: any printable text (256: its column size)
VERSION = re.compile(r"[1-9][0-9]{0,17}")  # MLflow model versions are "1", "2", ...
REASON_MAX = 500
PHASES = (contract.PHASE_CANDIDATE, contract.PHASE_SHADOW)


class StaleRetraining(Exception):
    """The model's retraining-state item belongs to another retraining run (this one was superseded), or
    is gone. The class name is the error name the state machine sees."""

    def __init__(self, model_name: str, retraining_id: str, current: str | None):
        owner = f"retraining {current}" if current else "no retraining (the item does not exist)"
        super().__init__(
            f"model {model_name!r}: retraining {retraining_id} is stale; the retraining-state item belongs to {owner}"
        )
        self.model_name, self.retraining_id, self.current = model_name, retraining_id, current


class NoChallenger(LookupError):
    """Training registered no model version tagged job_id=<retraining_id>."""


class NoShadowRun(LookupError):
    """The shadow backtest logged no MLflow run tagged job_id=<test_id>."""


class ShadowTestNotFound(LookupError):
    """The shadow-test item of the test_id does not exist (the candidate phase did not create it)."""


# --- ids and windows -----------------------------------------------------------------------------------------


def model_slug(name: str, limit: int = SLUG_MAX) -> str:
    """``name`` as [A-Za-z0-9_-], at most ``limit`` characters. A name that had to change gets "-<8 hex of its
    SHA-256>", so two models never share a slug ("a.b" and "a b" differ; "a-b" stays "a-b")."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")
    if slug == name and len(slug) <= limit:
        return slug
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:HASH_LEN]
    base = slug[: limit - HASH_LEN - 1].rstrip("-_") or "model"
    return f"{base}-{digest}"


def window_start(now: datetime, hours: int) -> datetime:
    """Start of the ``hours``-long UTC window holding ``now`` (windows counted from the epoch, so for a
    divisor of 24 they start at midnight: 00, 06, 12, 18 for 6 h)."""
    if hours < 1:
        raise ValueError(f"window hours must be >= 1, got {hours}")
    epoch_hours = int(now.astimezone(UTC).timestamp() // 3600)
    return datetime.fromtimestamp((epoch_hours - epoch_hours % hours) * 3600, UTC)


def retraining_id(model_name: str, now: datetime, window_hours: int) -> str:
    """Deterministic per model and window, e.g. "momentum-20261201T06"; a valid execution name."""
    return f"{model_slug(model_name)}-{window_start(now, window_hours):{WINDOW_FORMAT}}"


def shadow_test_id(retraining: str) -> str:
    return f"{retraining}{SHADOW_SUFFIX}"


def shadow_timerange(now: datetime, days: int) -> str:
    """The freqtrade TIMERANGE of the ``days`` whole UTC days ending yesterday: "<today-days>-<today>".

    freqtrade reads the end date as that day's 00:00 (exclusive), so the window is exactly ``days`` days and
    its last day is yesterday; e.g. 7 days on 2026-12-08 → "20261201-20261208" (Dec 1 … Dec 7).
    """
    if days < 1:
        raise ValueError(f"shadow window days must be >= 1, got {days}")
    today = now.astimezone(UTC).date()
    return f"{today - timedelta(days=days):%Y%m%d}-{today:%Y%m%d}"


# --- numbers -------------------------------------------------------------------------------------------------


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite number (not bool), else None (NaN, inf, None, text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _clip(text: str, limit: int = REASON_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Verdict:
    better: bool
    reason: str
    required: float | None = None  # the score the candidate needed (None: nothing to beat)


def judge(
    candidate: float | None,
    champion: float | None,
    min_improvement: float,
    metric: str,
    champion_version: str | None,
    candidate_label: str = "challenger",
) -> Verdict:
    """Betterness (module docstring). ``champion_version`` None means there is no champion at all."""
    candidate, champion = finite(candidate), finite(champion)
    if candidate is None:
        return Verdict(False, f"{candidate_label} has no finite {metric}; not better")
    if champion is None:
        why = "no champion" if champion_version is None else f"champion v{champion_version} has no finite {metric}"
        return Verdict(True, f"{why}; {candidate_label} {metric}={candidate:.6g}")
    required = champion + min_improvement * abs(champion)
    better = candidate >= required
    return Verdict(
        better,
        f"{candidate_label} {metric}={candidate:.6g} {'>=' if better else '<'} required "
        f"{required:.6g} (champion v{champion_version} {champion:.6g} + "
        f"{min_improvement:.4g} x |{champion:.6g}|)",
        required,
    )


# --- retraining needed ---------------------------------------------------------------------------------------


def champion_age_days(champion: Mapping[str, Any], now: datetime) -> float | None:
    """Age of a model version from its creation_timestamp (MLflow epoch milliseconds); None when unknown."""
    raw = champion.get("creation_timestamp")
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        return None
    created = datetime.fromtimestamp(raw / 1000, UTC)
    return (now - created).total_seconds() / 86400


def _drift_detail(reasons: Any) -> str:
    if isinstance(reasons, (list, tuple)):
        return "; ".join(str(reason) for reason in reasons)
    return "" if reasons in (None, "") else str(reasons)


def retraining_need(
    champion: Mapping[str, Any] | None, drift: Mapping[str, Any] | None, now: datetime, max_age_days: int
) -> tuple[bool, str]:
    """(needed, reason). Needed when there is no champion, the drift-state item says the champion version
    drifted, or the champion is older than ``max_age_days`` (several reasons are joined)."""
    if champion is None:
        return True, "no champion"
    version = str(champion.get("version"))
    reasons = []
    if drift and drift.get("drifted") is True and str(drift.get("model_version")) == version:
        detail = _drift_detail(drift.get("reasons"))
        reasons.append(f"champion v{version} drifted" + (f" ({detail})" if detail else ""))
    age = champion_age_days(champion, now)
    if age is not None and age > max_age_days:
        reasons.append(f"champion v{version} is {age:.1f} days old (max {max_age_days})")
    if reasons:
        return True, _clip("; ".join(reasons))
    age_text = "age unknown" if age is None else f"{age:.1f} days old"
    return False, f"champion v{version} is current: no drift, {age_text} (max {max_age_days})"


# --- scheduling ----------------------------------------------------------------------------------------------

START, RESUME, DONE, SKIP = "start", "resume", "done", "skip"


@dataclass(frozen=True)
class ScheduleAction:
    """What the scheduler does for one model: START a new retraining (write SCHEDULED, start the execution),
    RESUME this window's (written, execution not recorded), DONE (this window's is under way or over),
    SKIP (another retraining is in progress)."""

    kind: str
    reason: str


def schedule_action(item: Mapping[str, Any] | None, retraining: str, stale_before: str) -> ScheduleAction:
    """Decide from the model's retraining-state item; ``stale_before``: an ISO time, a non-terminal item of
    another retraining last updated before it is abandoned (replaced), as is one that was SCHEDULED but never
    started (no execution_arn: its StartExecution failed). The scheduler's conditional put
    (retraining_state.Retrainings.schedule) enforces the same rule."""
    if not item:
        return ScheduleAction(START, "no retraining yet")
    current, status, updated = item.get("retraining_id"), item.get("status"), item.get("updated_at")
    if current == retraining:
        if status == contract.SCHEDULED and not item.get("execution_arn"):
            return ScheduleAction(RESUME, "scheduled, execution not recorded yet")
        return ScheduleAction(DONE, f"already scheduled in this window ({status})")
    if status in contract.RETRAINING_TERMINAL:
        return ScheduleAction(START, f"previous retraining {current} ended {status}")
    if status == contract.SCHEDULED and not item.get("execution_arn"):
        return ScheduleAction(START, f"previous retraining {current} was never started")
    if not isinstance(updated, str) or updated < stale_before:
        return ScheduleAction(START, f"previous retraining {current} is stale ({status} since {updated})")
    return ScheduleAction(SKIP, f"retraining {current} in progress ({status} since {updated})")


# --- MLflow picks --------------------------------------------------------------------------------------------


def challenger_of(versions: Iterable[Mapping[str, Any]], retraining: str) -> Mapping[str, Any] | None:
    """The newest version tagged job_id=<retraining> (a retried training may have registered two)."""
    tagged = [
        v
        for v in versions
        if tags(v).get(contract.VERSION_TAG_JOB_ID) == retraining and VERSION.fullmatch(str(v.get("version", "")))
    ]
    return max(tagged, key=lambda v: int(v["version"]), default=None)


def latest_run_id(runs: Iterable[Mapping[str, Any]]) -> str | None:
    """The run_id of the newest run, FINISHED ones first (a retried backtest may have logged two)."""

    def key(run: Mapping[str, Any]) -> tuple[bool, float]:
        info = run.get("info") or {}
        start = info.get("start_time")
        return info.get("status") == "FINISHED", float(start) if isinstance(start, (int, float)) else 0.0

    best = max((run for run in runs if (run.get("info") or {}).get("run_id")), key=key, default=None)
    return best["info"]["run_id"] if best else None


# --- task input ----------------------------------------------------------------------------------------------


def _string(event: Mapping[str, Any], field: str, pattern: re.Pattern, allowed: str) -> str:
    value = event.get(field)
    if not isinstance(value, str) or not value.strip() or not pattern.fullmatch(value):
        raise ValueError(f"{field}={value!r}: {allowed} is required")
    return value


@overload
def version_field(event: Mapping[str, Any], field: str, nullable: Literal[False]) -> str: ...
@overload
def version_field(event: Mapping[str, Any], field: str, nullable: bool) -> str | None: ...
def version_field(event: Mapping[str, Any], field: str, nullable: bool) -> str | None:
    """``event[field]``, a model version string (or None when ``nullable``); ValueError naming the field."""
    if field not in event:
        raise ValueError(f"{field}: missing; a model version string{' or null' if nullable else ''} is required")
    value = event[field]
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not VERSION.fullmatch(value):
        raise ValueError(
            f'{field}={value!r}: a model version string like "3"'
            f"{' (or null: no champion)' if nullable else ''} is required"
        )
    return value


def _object(event: Any) -> Mapping[str, Any]:
    if not isinstance(event, dict):
        raise ValueError(f"input must be a JSON object, got {type(event).__name__}")
    return event


def retraining_input(event: Any) -> tuple[str, str]:
    """(retraining_id, model_name) of a task input; ValueError naming the bad field."""
    event = _object(event)
    return (
        _string(event, "retraining_id", RETRAINING_ID, "an id of 1-80 characters [A-Za-z0-9_-]"),
        _string(event, "model_name", MODEL_NAME, "a registered model name (1-256 printable characters)"),
    )


@dataclass(frozen=True)
class CompareRequest:
    phase: str
    retraining_id: str
    model_name: str
    champion_version: str | None
    challenger_version: str | None = None  # shadow phase
    test_id: str | None = None  # shadow phase


def compare_input(event: Any) -> CompareRequest:
    """The compare-models input of either phase; ValueError naming the bad field. ``champion_version`` must
    be present (null when there is no champion): a missing key is a wiring error, not "no champion"."""
    event = _object(event)
    phase = event.get("phase")
    if phase not in PHASES:
        raise ValueError(f"phase={phase!r}: one of {', '.join(PHASES)} is required")
    retraining, model_name = retraining_input(event)
    champion = version_field(event, "champion_version", nullable=True)
    if phase == contract.PHASE_CANDIDATE:
        return CompareRequest(phase, retraining, model_name, champion)
    challenger = version_field(event, "challenger_version", nullable=False)
    test_id = _string(event, "test_id", TEST_ID, "the shadow test id")
    if test_id != shadow_test_id(retraining):
        raise ValueError(
            f"test_id={test_id!r}: the shadow test of retraining {retraining} is {shadow_test_id(retraining)!r}"
        )
    return CompareRequest(phase, retraining, model_name, champion, challenger, test_id)
