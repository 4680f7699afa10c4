"""Pure decisions of the retraining workflow (ml_lifecycle.retraining): no AWS, no MLflow."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ml_lifecycle import contract
from ml_lifecycle.retraining import (DONE, RESUME, SKIP, START, CompareRequest, challenger_of, compare_input,
                                     finite, judge, latest_run_id, model_slug, retraining_id, retraining_input,
                                     retraining_need, schedule_action, shadow_test_id, shadow_timerange,
                                     window_start)

UTC = timezone.utc
EXECUTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
NOW = datetime(2026, 12, 8, 13, 30, tzinfo=UTC)


# --- slugs and ids -------------------------------------------------------------------------------------------

def test_a_valid_model_name_is_its_own_slug():
    assert model_slug("momentum_btc-v2") == "momentum_btc-v2"


@pytest.mark.parametrize("name", ["BTC momentum/v2", "a.b", "ünïcode model", "--edge--", "$$$", " x "])
def test_a_changed_name_gets_a_hash_and_a_valid_slug(name):
    slug = model_slug(name)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,68}", slug)
    assert re.search(r"-[0-9a-f]{8}$", slug)
    assert model_slug(name) == slug  # deterministic


def test_slugs_of_names_that_differ_only_in_invalid_characters_differ():
    slugs = {model_slug(name) for name in ("a.b", "a b", "a/b", "a-b")}
    assert len(slugs) == 4
    assert model_slug("a-b") == "a-b"


def test_long_names_are_cut_to_fit_an_execution_name_and_stay_unique():
    first, second = "m" * 200 + "1", "m" * 200 + "2"
    assert len(model_slug(first)) == 68 and model_slug(first) != model_slug(second)
    assert EXECUTION_NAME.fullmatch(retraining_id(first, NOW, 6))
    assert model_slug("m" * 68) == "m" * 68 and model_slug("m" * 69) != "m" * 69


@pytest.mark.parametrize("moment, hours, expected", [
    (datetime(2026, 12, 8, 5, 59, 59, tzinfo=UTC), 6, "20261208T00"),
    (datetime(2026, 12, 8, 6, 0, tzinfo=UTC), 6, "20261208T06"),
    (datetime(2026, 12, 8, 23, 59, tzinfo=UTC), 6, "20261208T18"),
    (datetime(2026, 12, 8, 13, 30, tzinfo=UTC), 1, "20261208T13"),
    (datetime(2026, 12, 8, 13, 30, tzinfo=UTC), 24, "20261208T00"),
    # a non-UTC time is converted first: 01:30 at +02:00 is 23:30 UTC the day before
    (datetime(2026, 12, 9, 1, 30, tzinfo=timezone(timedelta(hours=2))), 6, "20261208T18"),
])
def test_retraining_ids_are_per_model_and_window(moment, hours, expected):
    assert retraining_id("momentum", moment, hours) == f"momentum-{expected}"


def test_every_moment_of_a_window_gives_the_same_id_and_the_next_window_another():
    start = window_start(NOW, 6)
    ids = {retraining_id("m", start + timedelta(minutes=minutes), 6) for minutes in range(0, 360, 17)}
    assert ids == {"m-20261208T12"}
    assert retraining_id("m", start + timedelta(hours=6), 6) == "m-20261208T18"


def test_shadow_test_id_and_window_validation():
    assert shadow_test_id("m-20261208T12") == "m-20261208T12-shadow"
    with pytest.raises(ValueError):
        window_start(NOW, 0)


@pytest.mark.parametrize("moment, days, expected", [
    (NOW, 7, "20261201-20261208"),  # Dec 1 .. Dec 7 (freqtrade's end date is exclusive)
    (NOW, 1, "20261207-20261208"),  # yesterday only
    (datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC), 30, "20260130-20260301"),
    (datetime(2026, 12, 9, 0, 30, tzinfo=timezone(timedelta(hours=2))), 7, "20261201-20261208"),
])
def test_the_shadow_timerange_is_the_whole_days_ending_yesterday(moment, days, expected):
    assert shadow_timerange(moment, days) == expected


# --- betterness ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("challenger, champion, better", [
    (1.53, 1.5, True),    # 1.5 + 0.02 * 1.5 = 1.53: equal passes
    (1.5299, 1.5, False),
    (2.0, 1.5, True),
    (-0.98, -1.0, True),  # negative champion: -1 + 0.02 * 1 = -0.98
    (-0.99, -1.0, False),
    (-1.0, -1.0, False),
    (0.0, 0.0, True),     # zero champion: nothing to add
    (-0.01, 0.0, False),
])
def test_betterness_needs_the_minimum_relative_improvement(challenger, champion, better):
    verdict = judge(challenger, champion, 0.02, "sharpe", "3")
    assert verdict.better is better
    assert "champion v3" in verdict.reason and ("sharpe" in verdict.reason)


def test_without_a_champion_any_finite_score_wins():
    assert judge(-5.0, None, 0.02, "sharpe", None).better
    assert judge(-5.0, None, 0.02, "sharpe", None).reason.startswith("no champion")
    unscored = judge(0.1, float("nan"), 0.02, "sharpe", "4")
    assert unscored.better and "champion v4 has no finite sharpe" in unscored.reason


@pytest.mark.parametrize("challenger", [None, float("nan"), float("inf"), float("-inf"), "1.7", True])
def test_a_challenger_without_a_finite_score_never_wins(challenger):
    verdict = judge(challenger, 1.0, 0.02, "sharpe", "3")
    assert not verdict.better and "no finite sharpe" in verdict.reason
    assert not judge(challenger, None, 0.02, "sharpe", None).better


def test_zero_minimum_improvement_means_not_worse():
    assert judge(1.5, 1.5, 0.0, "sharpe", "1").better
    assert not judge(1.4999, 1.5, 0.0, "sharpe", "1").better


def test_finite_accepts_numbers_and_decimals_only():
    assert finite(Decimal("1.25")) == 1.25 and finite(3) == 3.0
    assert finite(Decimal("NaN")) is None and finite(False) is None and finite("2") is None


# --- retraining needed ---------------------------------------------------------------------------------------

def version(number: str = "3", age_days: float = 10) -> dict:
    return {"version": number, "creation_timestamp": int((NOW - timedelta(days=age_days)).timestamp() * 1000)}


def test_no_champion_needs_retraining():
    assert retraining_need(None, None, NOW, 30) == (True, "no champion")


def test_a_current_champion_does_not():
    needed, reason = retraining_need(version(), None, NOW, 30)
    assert not needed and reason == "champion v3 is current: no drift, 10.0 days old (max 30)"


def test_drift_of_the_champion_version_needs_retraining():
    drift = {"model_version": "3", "drifted": True, "reasons": ["psi close=0.31 > 0.2", "sharpe dropped 35%"]}
    needed, reason = retraining_need(version(), drift, NOW, 30)
    assert needed and reason == "champion v3 drifted (psi close=0.31 > 0.2; sharpe dropped 35%)"


@pytest.mark.parametrize("drift", [
    {"model_version": "2", "drifted": True, "reasons": ["old version"]},  # about another version
    {"model_version": "3", "drifted": False, "reasons": []},
    {"model_version": 3, "drifted": "true"},  # only a real boolean counts
])
def test_drift_of_another_version_or_no_drift_does_not(drift):
    assert retraining_need(version(), drift, NOW, 30)[0] is False


def test_a_numeric_drift_version_matches():
    assert retraining_need(version(), {"model_version": 3, "drifted": True}, NOW, 30) == (
        True, "champion v3 drifted")


def test_an_old_champion_needs_retraining_and_reasons_add_up():
    assert retraining_need(version(age_days=30.5), None, NOW, 30) == (
        True, "champion v3 is 30.5 days old (max 30)")
    assert retraining_need(version(age_days=29.9), None, NOW, 30)[0] is False
    both = retraining_need(version(age_days=45), {"model_version": "3", "drifted": True, "reasons": "psi"}, NOW, 30)
    assert both == (True, "champion v3 drifted (psi); champion v3 is 45.0 days old (max 30)")


def test_the_creation_timestamp_may_be_text_or_missing():
    text = {"version": "3", "creation_timestamp": str(version(age_days=40)["creation_timestamp"])}
    assert retraining_need(text, None, NOW, 30)[0] is True
    needed, reason = retraining_need({"version": "3"}, None, NOW, 30)
    assert not needed and "age unknown" in reason


# --- scheduling decision -------------------------------------------------------------------------------------

STALE_BEFORE = "2026-12-07T13:30:00.000Z"
FRESH, OLD = "2026-12-08T10:00:00.000Z", "2026-12-07T10:00:00.000Z"


@pytest.mark.parametrize("item, kind", [
    (None, START),
    ({"retraining_id": "m-1", "status": "SCHEDULED", "updated_at": FRESH}, RESUME),
    ({"retraining_id": "m-1", "status": "SCHEDULED", "updated_at": FRESH, "execution_arn": "arn:x"}, DONE),
    ({"retraining_id": "m-1", "status": "TRAINING", "updated_at": FRESH}, DONE),
    ({"retraining_id": "m-1", "status": "FAILED", "updated_at": OLD}, DONE),  # one run per window
    ({"retraining_id": "m-0", "status": "PROMOTED", "updated_at": FRESH}, START),
    ({"retraining_id": "m-0", "status": "NOT_NEEDED", "updated_at": FRESH}, START),
    ({"retraining_id": "m-0", "status": "SHADOW_TESTING", "updated_at": FRESH}, SKIP),
    ({"retraining_id": "m-0", "status": "SCHEDULED", "updated_at": FRESH, "execution_arn": "arn:x"}, SKIP),
    ({"retraining_id": "m-0", "status": "SCHEDULED", "updated_at": FRESH}, START),  # never started
    ({"retraining_id": "m-0", "status": "TRAINING", "updated_at": OLD}, START),  # stale
    ({"retraining_id": "m-0", "status": "TRAINING"}, START),
])
def test_schedule_action(item, kind):
    action = schedule_action(item, "m-1", STALE_BEFORE)
    assert action.kind == kind
    if kind == SKIP:
        assert action.reason == f"retraining m-0 in progress ({item['status']} since {FRESH})"


# --- MLflow picks --------------------------------------------------------------------------------------------

def test_the_challenger_is_the_newest_version_tagged_with_the_retraining_id():
    tagged = [{"key": contract.VERSION_TAG_JOB_ID, "value": "r-1"}]
    versions = [{"version": "9", "tags": [{"key": "job_id", "value": "r-2"}]}, {"version": "4", "tags": tagged},
                {"version": "10", "tags": tagged}, {"version": "11"}]
    assert challenger_of(versions, "r-1")["version"] == "10"
    assert challenger_of(versions, "r-3") is None


def test_the_shadow_run_is_the_newest_finished_one():
    runs = [{"info": {"run_id": "a", "status": "FINISHED", "start_time": 1}},
            {"info": {"run_id": "b", "status": "FAILED", "start_time": 9}},
            {"info": {"run_id": "c", "status": "FINISHED", "start_time": 5}}]
    assert latest_run_id(runs) == "c"
    assert latest_run_id([{"info": {"run_id": "b", "status": "FAILED", "start_time": 9}}]) == "b"
    assert latest_run_id([]) is None


# --- task input ----------------------------------------------------------------------------------------------

def test_valid_inputs_parse():
    assert retraining_input({"retraining_id": "m-20261208T12", "model_name": "BTC momentum/v2"}) == (
        "m-20261208T12", "BTC momentum/v2")
    assert compare_input({"phase": "candidate", "retraining_id": "r", "model_name": "m",
                          "champion_version": None}) == CompareRequest("candidate", "r", "m", None)
    assert compare_input({"phase": "shadow", "retraining_id": "r", "model_name": "m", "champion_version": "2",
                          "challenger_version": "3", "test_id": "r-shadow"}) == CompareRequest(
        "shadow", "r", "m", "2", "3", "r-shadow")


@pytest.mark.parametrize("event, field", [
    ([], "input"),
    ({"model_name": "m"}, "retraining_id"),
    ({"retraining_id": "  ", "model_name": "m"}, "retraining_id"),
    ({"retraining_id": "r/1", "model_name": "m"}, "retraining_id"),
    ({"retraining_id": "r" * 81, "model_name": "m"}, "retraining_id"),
    ({"retraining_id": 7, "model_name": "m"}, "retraining_id"),
    ({"retraining_id": "r"}, "model_name"),
    ({"retraining_id": "r", "model_name": ""}, "model_name"),
    ({"retraining_id": "r", "model_name": "a\nb"}, "model_name"),
    ({"retraining_id": "r", "model_name": ["m"]}, "model_name"),
])
def test_malformed_retraining_input_names_the_field(event, field):
    with pytest.raises(ValueError, match=field):
        retraining_input(event)


SHADOW = {"phase": "shadow", "retraining_id": "r", "model_name": "m", "champion_version": "2",
          "challenger_version": "3", "test_id": "r-shadow"}


@pytest.mark.parametrize("changes, field", [
    ({"phase": "final"}, "phase"),
    ({"phase": None}, "phase"),
    ({"champion_version": 2}, "champion_version"),
    ({"champion_version": "v2"}, "champion_version"),
    ({"champion_version": "0"}, "champion_version"),
    ({"challenger_version": None}, "challenger_version"),
    ({"challenger_version": ""}, "challenger_version"),
    ({"test_id": "other-shadow"}, "test_id"),
    ({"test_id": 5}, "test_id"),
])
def test_malformed_compare_input_names_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        compare_input({**SHADOW, **changes})


@pytest.mark.parametrize("missing", ["champion_version", "challenger_version", "test_id", "model_name"])
def test_missing_compare_fields_are_named(missing):
    with pytest.raises(ValueError, match=missing):
        compare_input({key: value for key, value in SHADOW.items() if key != missing})


def test_a_missing_champion_version_is_not_taken_for_no_champion():
    with pytest.raises(ValueError, match="champion_version: missing"):
        compare_input({"phase": "candidate", "retraining_id": "r", "model_name": "m"})


def test_nan_is_not_finite():
    assert finite(math.nan) is None
