"""check-retraining-needed against moto (DynamoDB) and the FakeMlflow."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from ml_lifecycle import check_retraining, contract
from ml_lifecycle.mlflow import MlflowUnavailable, is_transient
from ml_lifecycle.retraining import StaleRetraining
from shared.settings import SettingsError

from .ml_fixtures import DRIFT_TABLE, RETRAINING_TABLE, Context
from .ml_retraining_fixtures import (MAX_AGE_DAYS, check, clock, cold_start, days_from_now, emf_metrics,  # noqa: F401
                                     error_logs, fake_mlflow, ml_env, ml_logs, retraining_env)

RID = "momentum-20261201T06"


@pytest.fixture
def env(retraining_env):
    return retraining_env


def scheduled(env, model: str = "momentum", rid: str = RID) -> dict:
    return env.seed_retraining(model, rid)


def test_a_model_without_a_champion_needs_training(env, clock, capsys):
    moment = clock(days_from_now(0))
    env.version("momentum")  # versions but no champion alias
    scheduled(env)

    result = check(RID, "momentum")

    yesterday = (moment - timedelta(days=1)).date()
    assert result == {"needed": True, "reason": "no champion", "strategy": "PascalStrategy",
                      "champion_version": None,
                      "shadow_timerange": f"{yesterday - timedelta(days=6):%Y%m%d}-{moment.date():%Y%m%d}"}
    item = env.retraining("momentum")
    assert item["status"] == contract.TRAINING and item["needed"] is True and item["checked_at"]
    assert (item["check_reason"], item["strategy"], item["shadow_timerange"]) == (
        "no champion", "PascalStrategy", result["shadow_timerange"])
    assert "champion_version" not in item
    assert {m["name"]: m["value"] for m in emf_metrics(capsys)}["RetrainingsNeeded"] == 1


def test_a_current_champion_is_not_retrained(env):
    version = env.champion("momentum")
    scheduled(env)

    result = check(RID, "momentum")

    assert result["needed"] is False and result["champion_version"] == version
    assert result["reason"].startswith(f"champion v{version} is current: no drift, 0.0 days old (max {MAX_AGE_DAYS})")
    item = env.retraining("momentum")
    assert (item["status"], item["champion_version"], item["needed"]) == (contract.NOT_NEEDED, version, False)


def test_the_strategy_is_the_model_tag_or_the_model_name(env):
    env.mlflow.add_model("breakout", {})
    scheduled(env, "breakout", "breakout-20261201T06")
    assert check("breakout-20261201T06", "breakout")["strategy"] == "breakout"

    env.champion("momentum", model_tags={contract.MODEL_TAG_STRATEGY: "MomentumV3"})
    scheduled(env)
    assert check(RID, "momentum")["strategy"] == "MomentumV3"


def test_drift_of_the_champion_version_needs_training(env):
    version = env.champion("momentum")
    scheduled(env)
    env.put_item(DRIFT_TABLE, {"model_name": "momentum", "model_version": version, "drifted": True,
                               "reasons": ["psi rsi=0.41 > 0.2"], "checked_at": "2026-12-01T00:00:00.000Z"})

    result = check(RID, "momentum")

    assert (result["needed"], result["reason"]) == (True, f"champion v{version} drifted (psi rsi=0.41 > 0.2)")
    assert env.retraining("momentum")["status"] == contract.TRAINING


def test_drift_recorded_for_an_older_version_does_not_count(env):
    env.champion("momentum")
    newer = env.champion("momentum")
    scheduled(env)
    env.put_item(DRIFT_TABLE, {"model_name": "momentum", "model_version": str(int(newer) - 1), "drifted": True,
                               "reasons": [], "checked_at": "2026-12-01T00:00:00.000Z"})

    assert check(RID, "momentum")["needed"] is False


def test_an_old_champion_needs_training(env, clock):
    env.champion("momentum")
    scheduled(env)
    clock(days_from_now(MAX_AGE_DAYS + 1))

    result = check(RID, "momentum")

    assert result["needed"] is True and "days old (max 30)" in result["reason"]


def test_a_replay_returns_the_recorded_answer_and_writes_nothing(env, clock):
    env.champion("momentum")
    scheduled(env)
    writes = env.writes()
    first = check(RID, "momentum")
    assert [(w["operation"], w["TableName"]) for w in writes] == [("UpdateItem", RETRAINING_TABLE)]
    writes.clear()
    clock(days_from_now(MAX_AGE_DAYS + 1))  # the answer would be different now
    requests = len(env.mlflow.requests)

    assert check(RID, "momentum") == first
    assert writes == [] and len(env.mlflow.requests) == requests


def test_a_superseded_retraining_raises_stale_retraining(env, ml_logs):
    env.champion("momentum")
    seeded = env.seed_retraining("momentum", "momentum-20261201T12")
    writes = env.writes()

    with pytest.raises(StaleRetraining) as raised:
        check(RID, "momentum")

    assert type(raised.value).__name__ == contract.STALE_RETRAINING_ERROR
    assert "belongs to retraining momentum-20261201T12" in str(raised.value)
    assert env.retraining("momentum") == seeded and writes == []
    assert any("is stale" in record.getMessage() for record in error_logs(ml_logs))


def test_a_retraining_superseded_between_read_and_write_raises_stale_retraining(env):
    env.champion("momentum")
    scheduled(env)
    newer = {"model_name": {"S": "momentum"}, "retraining_id": {"S": "momentum-20261201T12"},
             "status": {"S": "SCHEDULED"}}
    env.session.events.register("before-call.dynamodb.UpdateItem", lambda **_: env.dynamodb.put_item(
        TableName=RETRAINING_TABLE, Item=newer) and None)

    with pytest.raises(StaleRetraining, match="momentum-20261201T12"):
        check(RID, "momentum")


def test_a_manual_start_without_a_scheduled_item_creates_it(env):
    env.champion("momentum")

    result = check("manual-1", "momentum")

    item = env.retraining("momentum")
    assert (item["retraining_id"], item["status"], item["needed"]) == ("manual-1", contract.NOT_NEEDED, False)
    assert check("manual-1", "momentum") == result


@pytest.mark.parametrize("event, field", [
    ({"model_name": "momentum"}, "retraining_id"),
    ({"retraining_id": "", "model_name": "momentum"}, "retraining_id"),
    ({"retraining_id": RID, "model_name": None}, "model_name"),
    ({"retraining_id": RID, "model_name": 42}, "model_name"),
    ({"retraining_id": ["x"], "model_name": "momentum"}, "retraining_id"),
])
def test_malformed_input_is_a_logged_value_error(env, ml_logs, event, field):
    with pytest.raises(ValueError, match=field):
        check_retraining.handler(event, Context())

    assert any(field in record.getMessage() for record in error_logs(ml_logs))
    assert env.items(RETRAINING_TABLE) == []


def test_an_unknown_model_is_a_value_error(env):
    scheduled(env, "ghost", "ghost-20261201T06")
    with pytest.raises(ValueError, match="model_name='ghost': no such registered model"):
        check("ghost-20261201T06", "ghost")
    assert env.retraining("ghost")["status"] == contract.SCHEDULED


def test_mlflow_unavailable_raises_a_transient_error_and_records_nothing(env):
    env.champion("momentum")
    seeded = scheduled(env)
    env.mlflow.fail_next(502)

    with pytest.raises(MlflowUnavailable) as raised:
        check(RID, "momentum")

    assert is_transient(raised.value) and env.retraining("momentum") == seeded
    assert check(RID, "momentum")["needed"] is False  # the retry succeeds


def test_mlflow_unreachable_is_transient(env):
    scheduled(env)
    env.set_env(MLFLOW_TRACKING_URI="http://127.0.0.1:9/mlflow")
    with pytest.raises(MlflowUnavailable) as raised:
        check(RID, "momentum")
    assert is_transient(raised.value) and raised.value.status is None


def test_dynamodb_throttling_propagates(env):
    env.champion("momentum")
    scheduled(env)
    env.fail("dynamodb", "UpdateItem", "ThrottlingException", status=500)
    with pytest.raises(ClientError, match="ThrottlingException"):
        check(RID, "momentum")
    assert env.retraining("momentum")["status"] == contract.SCHEDULED


def test_mlflow_basic_auth_from_the_credentials_secret(env, aws):
    env.mlflow.credentials = ("tradai", "s3cret")
    env.champion("momentum")
    scheduled(env)
    arn = aws.client("secretsmanager").create_secret(
        Name="tradai/mlflow-credentials", SecretString=json.dumps({"username": "tradai", "password": "s3cret"}))["ARN"]
    env.set_env(MLFLOW_CREDENTIALS_SECRET_ARN=arn)

    assert check(RID, "momentum")["needed"] is False
    assert env.mlflow.authorizations[-1].startswith("Basic ")


@pytest.mark.parametrize("name, value", [
    (contract.ENV_MAX_MODEL_AGE_DAYS, None),
    (contract.ENV_MAX_MODEL_AGE_DAYS, "-1"),
    (contract.ENV_SHADOW_WINDOW_DAYS, "0"),
    (contract.ENV_DRIFT_TABLE, None),
    (contract.ENV_CHAMPION_ALIAS, "latest"),
    (contract.ENV_STATE_TTL_DAYS, "forever"),
])
def test_configuration_errors_name_the_variable(env, name, value):
    env.set_env(**{name: value})
    with pytest.raises(SettingsError, match=name):
        check(RID, "momentum")
