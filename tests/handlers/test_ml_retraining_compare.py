"""compare-models (candidate and shadow phases) against moto (DynamoDB) and the FakeMlflow, and the whole
retraining chain scheduler → check → candidate → shadow through the handlers."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from ml_lifecycle import contract
from ml_lifecycle.mlflow import MlflowUnavailable, is_transient
from ml_lifecycle.retraining import NoChallenger, NoShadowRun, ShadowTestNotFound, StaleRetraining
from shared.settings import SettingsError

from .conftest import client_response
from .ml_fixtures import METRIC, RETRAINING_TABLE, SHADOW_TABLE, clear_caches
from .ml_retraining_fixtures import (candidate, check, clock, cold_start, compare, emf_metrics,  # noqa: F401
                                     error_logs, fake_mlflow, ml_env, ml_logs, retraining_env, schedule,
                                     scheduled_event, shadow)

RID = "momentum-20261201T06"
TEST_ID = f"{RID}-shadow"


@pytest.fixture
def env(retraining_env):
    return retraining_env


def training_done(env, champion_metric=1.5, challenger_metric=1.8, champion=True):
    """A champion (optional), the retraining at TRAINING and the version its training registered."""
    champion_version = env.champion("momentum", champion_metric) if champion else None
    env.seed_retraining("momentum", RID, contract.TRAINING, checked_at="2026-12-01T06:01:00.000Z",
                        champion_version=champion_version)
    return champion_version, env.trained("momentum", RID, challenger_metric)


# --- candidate -----------------------------------------------------------------------------------------------

def test_a_better_challenger_goes_to_a_shadow_test(env, capsys):
    champion, challenger = training_done(env)

    result = candidate(RID, "momentum", champion)

    assert result == {"better": True, "challenger_version": challenger, "champion_version": champion,
                      "metric": METRIC, "challenger_score": 1.8, "champion_score": 1.5, "test_id": TEST_ID,
                      "reason": f"challenger {METRIC}=1.8 >= required 1.53 (champion v{champion} 1.5 + "
                                "0.02 x |1.5|)"}
    test = env.shadow(TEST_ID)
    assert {key: test[key] for key in ("model_name", "status", "challenger_version", "champion_version",
                                       "champion_score", "challenger_score")} == {
        "model_name": "momentum", "status": "RUNNING", "challenger_version": challenger,
        "champion_version": champion, "champion_score": 1.5, "challenger_score": 1.8}
    assert test["status_created_at"] == f"RUNNING#{test['created_at']}" and test["expires_at"] > 0
    item = env.retraining("momentum")
    assert (item["status"], item["test_id"], item["candidate_better"]) == (contract.SHADOW_TESTING, TEST_ID, True)
    assert {m["name"] for m in emf_metrics(capsys)} >= {"ChallengersBetter"}


def test_a_challenger_without_enough_improvement_is_rejected(env, capsys):
    champion, challenger = training_done(env, champion_metric=1.5, challenger_metric=1.52)

    result = candidate(RID, "momentum", champion)

    assert result["better"] is False and "test_id" not in result
    assert result["reason"].startswith(f"challenger {METRIC}=1.52 < required 1.53")
    assert env.shadow(TEST_ID) is None
    item = env.retraining("momentum")
    assert (item["status"], item["candidate_better"], item["challenger_score"]) == (contract.REJECTED, False, 1.52)
    assert item["reason"] == result["reason"]
    assert {m["name"] for m in emf_metrics(capsys)} >= {"ChallengersRejected"}


def test_negative_scores_use_the_absolute_champion_score(env):
    champion, _ = training_done(env, champion_metric=-1.0, challenger_metric=-0.98)
    assert candidate(RID, "momentum", champion)["better"] is True


def test_without_a_champion_the_challenger_is_better(env):
    _, challenger = training_done(env, champion=False)

    result = candidate(RID, "momentum", None)

    assert (result["better"], result["champion_version"], result["champion_score"]) == (True, None, None)
    assert result["reason"] == f"no champion; challenger {METRIC}=1.8"
    assert "champion_version" not in env.shadow(TEST_ID)


def test_a_challenger_with_a_nan_metric_is_not_better_and_nan_is_never_written(env):
    champion, _ = training_done(env, challenger_metric=math.nan)

    result = candidate(RID, "momentum", champion)

    assert (result["better"], result["challenger_score"]) == (False, None)
    assert result["reason"] == f"challenger has no finite {METRIC}; not better"
    assert "challenger_score" not in env.retraining("momentum")


def test_a_challenger_without_the_metric_is_not_better(env):
    champion, _ = training_done(env, challenger_metric=None)
    assert candidate(RID, "momentum", champion)["better"] is False


def test_a_champion_without_the_metric_is_beaten_by_any_finite_score(env):
    champion, _ = training_done(env, champion_metric=None)

    result = candidate(RID, "momentum", champion)

    assert result["better"] is True and result["champion_score"] is None
    assert result["reason"].startswith(f"champion v{champion} has no finite {METRIC}")


def test_the_newest_tagged_version_is_the_challenger(env):
    champion, first = training_done(env)
    second = env.trained("momentum", RID, 1.6)
    env.trained("momentum", "momentum-20261130T00", 9.9)  # another retraining's version

    result = candidate(RID, "momentum", champion)

    assert result["challenger_version"] == second and second != first and result["challenger_score"] == 1.6


def test_no_tagged_version_raises_no_challenger(env, ml_logs):
    champion = env.champion("momentum")
    seeded = env.seed_retraining("momentum", RID, contract.TRAINING)

    with pytest.raises(NoChallenger, match=f"job_id={RID}; training registered nothing"):
        candidate(RID, "momentum", champion)

    assert env.retraining("momentum") == seeded
    assert [record.error for record in error_logs(ml_logs)] == [contract.NO_CHALLENGER_ERROR]


def test_a_candidate_writes_the_shadow_item_and_the_retraining_state_once(env):
    champion, _ = training_done(env)
    writes = env.writes()

    candidate(RID, "momentum", champion)

    assert [(w["operation"], w["TableName"]) for w in writes] == [("PutItem", SHADOW_TABLE),
                                                                   ("UpdateItem", RETRAINING_TABLE)]


def test_a_candidate_replay_returns_the_same_answer_without_writing(env):
    champion, _ = training_done(env)
    first = candidate(RID, "momentum", champion)
    env.trained("momentum", RID, 0.1)  # a newer tagged version would change the answer
    writes = env.writes()

    assert candidate(RID, "momentum", champion) == first
    assert writes == []


def test_a_rejection_replay_returns_the_same_answer_without_writing(env):
    champion, _ = training_done(env, challenger_metric=1.0)
    first = candidate(RID, "momentum", champion)
    env.trained("momentum", RID, 5.0)
    writes = env.writes()

    assert candidate(RID, "momentum", champion) == first and first["better"] is False
    assert writes == []


def test_a_retry_after_the_shadow_item_was_written_keeps_the_first_verdict(env):
    champion, challenger = training_done(env)
    env.fail("dynamodb", "UpdateItem", "ThrottlingException", status=500)
    with pytest.raises(ClientError):
        candidate(RID, "momentum", champion)
    assert env.shadow(TEST_ID)["status"] == "RUNNING"
    assert env.retraining("momentum")["status"] == contract.TRAINING
    env.trained("momentum", RID, 0.5)  # would be a worse challenger now

    result = candidate(RID, "momentum", champion)

    assert (result["better"], result["challenger_version"], result["challenger_score"]) == (True, challenger, 1.8)
    assert env.retraining("momentum")["status"] == contract.SHADOW_TESTING


def test_a_stale_candidate_raises_and_writes_nothing(env):
    champion, _ = training_done(env)
    env.seed_retraining("momentum", "momentum-20261201T12", contract.SCHEDULED)
    writes = env.writes()

    with pytest.raises(StaleRetraining):
        candidate(RID, "momentum", champion)

    assert writes == [] and env.shadow(TEST_ID) is None


def test_a_candidate_without_a_retraining_item_is_stale(env):
    env.champion("momentum")
    with pytest.raises(StaleRetraining, match="no retraining"):
        candidate(RID, "momentum", "1")


def test_mlflow_unavailable_in_the_candidate_phase_is_transient(env):
    champion, _ = training_done(env)
    env.mlflow.fail_next(500)

    with pytest.raises(MlflowUnavailable) as raised:
        candidate(RID, "momentum", champion)

    assert is_transient(raised.value)
    assert env.shadow(TEST_ID) is None and env.retraining("momentum")["status"] == contract.TRAINING


# --- shadow --------------------------------------------------------------------------------------------------

def shadow_testing(env, champion_metric=1.5, challenger_metric=1.8, champion=True):
    champion_version, challenger = training_done(env, champion_metric, challenger_metric, champion)
    assert candidate(RID, "momentum", champion_version)["better"] is True
    return champion_version, challenger


def test_a_shadow_run_beating_the_champion_passes(env, capsys):
    champion, challenger = shadow_testing(env)
    env.shadow_run("momentum", TEST_ID, 1.6)

    result = shadow(RID, "momentum", champion, challenger)

    assert result == {"better": True, "challenger_version": challenger, "champion_version": champion,
                      "shadow_score": 1.6, "champion_score": 1.5, "test_id": TEST_ID,
                      "reason": f"shadow run {METRIC}=1.6 >= required 1.53 (champion v{champion} 1.5 + "
                                "0.02 x |1.5|)"}
    test = env.shadow(TEST_ID)
    assert (test["status"], test["shadow_score"]) == ("PASSED", 1.6)
    assert test["status_created_at"] == f"PASSED#{test['created_at']}" and test["finished_at"] >= test["created_at"]
    item = env.retraining("momentum")
    assert (item["status"], item["shadow_better"], item["shadow_score"]) == (contract.SHADOW_TESTING, True, 1.6)
    assert {m["name"] for m in emf_metrics(capsys)} >= {"ShadowTestsPassed"}


def test_a_shadow_run_below_the_champion_fails_and_rejects_the_retraining(env, capsys):
    champion, challenger = shadow_testing(env)
    env.shadow_run("momentum", TEST_ID, 1.4)

    result = shadow(RID, "momentum", champion, challenger)

    assert result["better"] is False and result["reason"].startswith(f"shadow run {METRIC}=1.4 < required 1.53")
    test = env.shadow(TEST_ID)
    assert test["status"] == "FAILED" and test["status_created_at"] == f"FAILED#{test['created_at']}"
    item = env.retraining("momentum")
    assert (item["status"], item["shadow_better"], item["reason"]) == (contract.REJECTED, False, result["reason"])
    assert {m["name"] for m in emf_metrics(capsys)} >= {"ShadowTestsFailed"}


def test_the_newest_shadow_run_counts(env):
    """A retried ShadowTest step may have logged two runs."""
    champion, challenger = shadow_testing(env)
    env.shadow_run("momentum", TEST_ID, 0.1)
    time.sleep(0.005)  # FakeMlflow stamps runs in milliseconds
    env.shadow_run("momentum", TEST_ID, 2.5)
    env.shadow_run("momentum", "momentum-20261130T00-shadow", 0.0)  # another test's run

    assert shadow(RID, "momentum", champion, challenger)["shadow_score"] == 2.5


def test_without_a_champion_the_shadow_run_passes_when_it_has_the_metric(env):
    _, challenger = shadow_testing(env, champion=False)
    env.shadow_run("momentum", TEST_ID, -3.0)

    result = shadow(RID, "momentum", None, challenger)

    assert (result["better"], result["champion_score"], result["reason"]) == (
        True, None, f"no champion; shadow run {METRIC}=-3")


def test_a_shadow_run_without_a_finite_metric_fails(env):
    _, challenger = shadow_testing(env, champion=False)
    env.shadow_run("momentum", TEST_ID, math.nan)

    result = shadow(RID, "momentum", None, challenger)

    assert (result["better"], result["shadow_score"]) == (False, None)
    assert "shadow_score" not in env.shadow(TEST_ID)


def test_no_shadow_run_raises_no_shadow_run(env):
    champion, challenger = shadow_testing(env)
    with pytest.raises(NoShadowRun, match=f"job_id={TEST_ID}"):
        shadow(RID, "momentum", champion, challenger)
    assert env.shadow(TEST_ID)["status"] == "RUNNING"


def test_a_shadow_replay_returns_the_same_answer_without_writing(env):
    champion, challenger = shadow_testing(env)
    env.shadow_run("momentum", TEST_ID, 1.4)
    first = shadow(RID, "momentum", champion, challenger)
    env.shadow_run("momentum", TEST_ID, 9.0)
    writes = env.writes()

    assert shadow(RID, "momentum", champion, challenger) == first
    assert writes == []


def fail_nth(env, operation: str, n: int) -> None:
    """The ``n``-th DynamoDB ``operation`` call from now on fails with InternalServerError (HTTP 500)."""
    seen = [0]

    def hook(**_kwargs):
        seen[0] += 1
        return error_500(operation) if seen[0] == n else None

    env.session.events.register(f"before-call.dynamodb.{operation}", hook)
    clear_caches()


def error_500(operation: str):
    return client_response(500, {"Error": {"Code": "InternalServerError", "Message": f"injected {operation}"}})


def test_a_failed_shadow_verdict_write_is_computed_again_on_retry(env):
    champion, challenger = shadow_testing(env)
    env.shadow_run("momentum", TEST_ID, 1.4)
    fail_nth(env, "UpdateItem", 1)  # the shadow item's RUNNING -> FAILED

    with pytest.raises(ClientError, match="InternalServerError"):
        shadow(RID, "momentum", champion, challenger)
    assert env.shadow(TEST_ID)["status"] == "RUNNING" and "shadow_at" not in env.retraining("momentum")

    assert shadow(RID, "momentum", champion, challenger)["better"] is False
    assert env.retraining("momentum")["status"] == contract.REJECTED


def test_a_retry_after_the_shadow_item_finished_answers_from_it(env):
    champion, challenger = shadow_testing(env)
    env.shadow_run("momentum", TEST_ID, 1.4)
    fail_nth(env, "UpdateItem", 2)  # the retraining-state record, after the shadow item finished

    with pytest.raises(ClientError, match="InternalServerError"):
        shadow(RID, "momentum", champion, challenger)
    assert env.shadow(TEST_ID)["status"] == "FAILED"
    assert env.retraining("momentum")["status"] == contract.SHADOW_TESTING
    env.shadow_run("momentum", TEST_ID, 9.0)  # a later run would pass: the stored verdict stands

    result = shadow(RID, "momentum", champion, challenger)

    assert (result["better"], result["shadow_score"]) == (False, 1.4)
    item = env.retraining("momentum")
    assert (item["status"], item["shadow_score"]) == (contract.REJECTED, 1.4)


def test_a_stale_shadow_comparison_raises(env):
    champion, challenger = shadow_testing(env)
    env.shadow_run("momentum", TEST_ID, 1.6)
    env.seed_retraining("momentum", "momentum-20261202T00", contract.SCHEDULED)

    with pytest.raises(StaleRetraining):
        shadow(RID, "momentum", champion, challenger)

    assert env.shadow(TEST_ID)["status"] == "RUNNING"


def test_a_shadow_phase_without_its_test_item_raises(env):
    champion, challenger = training_done(env)
    with pytest.raises(ShadowTestNotFound):
        shadow(RID, "momentum", champion, challenger)


@pytest.mark.parametrize("field", ["challenger_version", "champion_version"])
def test_a_shadow_input_that_does_not_match_its_test_is_a_value_error(env, field):
    champion, challenger = shadow_testing(env)
    versions = {"champion_version": champion, "challenger_version": challenger}
    versions[field] = "99"
    with pytest.raises(ValueError, match=f"{field}='99': shadow test {TEST_ID} is for"):
        shadow(RID, "momentum", versions["champion_version"], versions["challenger_version"])


def test_mlflow_unavailable_in_the_shadow_phase_is_transient(env):
    champion, challenger = shadow_testing(env)
    env.shadow_run("momentum", TEST_ID, 1.6)
    env.mlflow.fail_next(429)

    with pytest.raises(MlflowUnavailable) as raised:
        shadow(RID, "momentum", champion, challenger)

    assert is_transient(raised.value) and env.shadow(TEST_ID)["status"] == "RUNNING"


# --- input and configuration ---------------------------------------------------------------------------------

@pytest.mark.parametrize("event, field", [
    ("candidate", "input"),
    ({"retraining_id": RID, "model_name": "momentum", "champion_version": None}, "phase"),
    ({"phase": "promote", "retraining_id": RID, "model_name": "momentum", "champion_version": None}, "phase"),
    ({"phase": "candidate", "model_name": "momentum", "champion_version": None}, "retraining_id"),
    ({"phase": "candidate", "retraining_id": RID, "model_name": " ", "champion_version": None}, "model_name"),
    ({"phase": "candidate", "retraining_id": RID, "model_name": "momentum"}, "champion_version"),
    ({"phase": "candidate", "retraining_id": RID, "model_name": "momentum", "champion_version": 1},
     "champion_version"),
    ({"phase": "shadow", "retraining_id": RID, "model_name": "momentum", "champion_version": "1",
      "test_id": TEST_ID}, "challenger_version"),
    ({"phase": "shadow", "retraining_id": RID, "model_name": "momentum", "champion_version": "1",
      "challenger_version": "2", "test_id": "other-shadow"}, "test_id"),
])
def test_malformed_input_is_a_logged_value_error(env, ml_logs, event, field):
    writes = env.writes()
    with pytest.raises(ValueError, match=field):
        compare(event)
    assert any(field in record.getMessage() for record in error_logs(ml_logs))
    assert writes == []


@pytest.mark.parametrize("name, value", [
    (contract.ENV_PERFORMANCE_METRIC, None),
    (contract.ENV_MIN_IMPROVEMENT, "-0.1"),
    (contract.ENV_MIN_IMPROVEMENT, "nan"),
    (contract.ENV_SHADOW_TABLE, None),
    (contract.ENV_RETRAINING_TABLE, "x"),
])
def test_configuration_errors_name_the_variable(env, name, value):
    env.set_env(**{name: value})
    with pytest.raises(SettingsError, match=name):
        candidate(RID, "momentum", None)


def test_min_improvement_is_configurable(env):
    champion, _ = training_done(env, champion_metric=1.5, challenger_metric=1.6)
    env.set_env(MIN_IMPROVEMENT="0.1")
    assert candidate(RID, "momentum", champion)["better"] is False


def test_scores_are_stored_as_decimal_numbers(env):
    champion, _ = training_done(env, champion_metric=0.1, challenger_metric=0.30000000000000004)
    candidate(RID, "momentum", champion)
    raw = env.dynamodb.get_item(TableName=SHADOW_TABLE, Key={"test_id": {"S": TEST_ID}})["Item"]
    assert Decimal(raw["challenger_score"]["N"]) == Decimal("0.30000000000000004")
    raw = env.dynamodb.get_item(TableName=RETRAINING_TABLE, Key={"model_name": {"S": "momentum"}})["Item"]
    assert raw["champion_score"] == {"N": "0.1"}


# --- the whole chain -----------------------------------------------------------------------------------------

def test_the_retraining_chain_from_schedule_to_a_passed_shadow_test(env, clock):
    """What the state machine does, step by step, with the container steps done by hand."""
    clock(datetime(2026, 12, 1, 6, 0, 5, tzinfo=timezone.utc))
    old = env.champion("momentum", 1.5)
    scheduled = schedule(scheduled_event("2026-12-01T06:00:00Z"))["scheduled"][0]
    rid = scheduled["retraining_id"]
    clock(datetime.now(timezone.utc) + timedelta(days=40))  # the champion is now old

    checked = check(rid, "momentum")
    assert checked["needed"] is True and checked["champion_version"] == old
    challenger = env.trained("momentum", rid, 2.0)                            # Train
    better = candidate(rid, "momentum", checked["champion_version"])          # CompareCandidate
    assert better["better"] is True
    env.shadow_run("momentum", better["test_id"], 1.7)                        # ShadowTest
    passed = shadow(rid, "momentum", checked["champion_version"], challenger, better["test_id"])  # CompareShadow

    assert passed["better"] is True
    item = env.retraining("momentum")
    assert (item["status"], item["retraining_id"], item["execution_arn"]) == (
        contract.SHADOW_TESTING, rid, scheduled["execution_arn"])
    assert env.shadow(better["test_id"])["status"] == "PASSED"
