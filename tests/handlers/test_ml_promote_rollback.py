"""promote-model (Step Functions task) and model-rollback (backend-api) against moto and the FakeMlflow."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ml_lifecycle import contract, mlflow, model_rollback, promote_model
from ml_lifecycle.mlflow import MlflowUnavailable
from ml_lifecycle.retraining import StaleRetraining
from shared.settings import SettingsError

from .ml_fixtures import (DEPLOYMENTS_TABLE, ENV, NOTIFICATIONS_TABLE, RETRAINING_TABLE, ROLLBACK_TABLE,  # noqa: F401
                          Context, cold_start, error_logs, fake_mlflow, ml_env, ml_logs)

RID = "momentum-20261201T06"
PREVIOUS = contract.VERSION_TAG_PREVIOUS_CHAMPION


# --- promote-model -----------------------------------------------------------------------------------------------

def retraining(env, retraining_id: str = RID, status: str = contract.SHADOW_TESTING, model: str = "momentum") -> None:
    env.put_item(RETRAINING_TABLE, {"model_name": model, "retraining_id": retraining_id, "status": status,
                                    "scheduled_at": "2026-12-01T06:00:00.000Z",
                                    "updated_at": "2026-12-01T07:00:00.000Z", "expires_at": 1798675200})


def challenger(env, model: str = "momentum", retraining_id: str = RID) -> str:
    return env.version(model, 1.8, {contract.VERSION_TAG_JOB_ID: retraining_id})


def promote(**overrides):
    event = {"retraining_id": RID, "model_name": "momentum", "strategy": "PascalStrategy",
             "challenger_version": "2", "champion_version": "1"}
    event.update(overrides)
    event = {key: value for key, value in event.items() if value != "<absent>"}
    return promote_model.handler(event, Context(function_name="tradai-promote-model-dev"))


@pytest.fixture
def promotion(ml_env):
    """Champion v1, challenger v2 trained by RID, the retraining in SHADOW_TESTING."""
    assert ml_env.champion("momentum", 1.5) == "1"
    assert challenger(ml_env) == "2"
    retraining(ml_env)
    return ml_env


def test_promotion_moves_the_alias_and_records_it(promotion):
    env = promotion

    result = promote()

    deployment_id = f"model#momentum#{RID}"
    assert result == {"promoted": True, "version": "2", "previous_version": "1", "deployment_id": deployment_id,
                      "already_champion": False}
    assert env.mlflow.alias("momentum", "champion") == "2"
    assert env.mlflow.version_tags("momentum", "2")[PREVIOUS] == "1"
    record = env.item(DEPLOYMENTS_TABLE, "PascalStrategy", ("deployment_id", deployment_id))
    assert {key: record[key] for key in ("environment", "kind", "model_name", "version", "previous_version",
                                         "retraining_id")} == {
        "environment": ENV, "kind": "model-promotion", "model_name": "momentum", "version": "2",
        "previous_version": "1", "retraining_id": RID}
    created = datetime.fromisoformat(record["created_at"].replace("Z", "+00:00"))
    assert record["ttl"] == pytest.approx((created + timedelta(days=365)).timestamp(), abs=1)
    state = env.item(RETRAINING_TABLE, "momentum")
    assert state["status"] == contract.PROMOTED and state["retraining_id"] == RID
    assert (state["promoted_version"], state["previous_version"], state["deployment_id"]) == ("2", "1", deployment_id)
    assert state["promoted_at"] and state["expires_at"] > 1798675200


def test_a_replay_changes_nothing_and_answers_the_same(promotion):
    env = promotion
    first = promote()
    record = env.items(DEPLOYMENTS_TABLE)
    state = env.item(RETRAINING_TABLE, "momentum")
    posts = [request for request in env.mlflow.requests if request[0] == "POST"]

    again = promote()

    assert again == {**first, "already_champion": True}
    assert env.items(DEPLOYMENTS_TABLE) == record
    assert env.item(RETRAINING_TABLE, "momentum") == state
    assert [request for request in env.mlflow.requests if request[0] == "POST"] == posts  # no MLflow writes


def test_first_model_without_a_champion(ml_env):
    assert challenger(ml_env) == "1"
    retraining(ml_env)

    result = promote(challenger_version="1", champion_version=None)

    assert result["previous_version"] is None and result["already_champion"] is False
    assert ml_env.mlflow.alias("momentum", "champion") == "1"
    assert PREVIOUS not in ml_env.mlflow.version_tags("momentum", "1")
    [record] = ml_env.items(DEPLOYMENTS_TABLE)
    assert "previous_version" not in record


def test_alias_already_on_the_challenger(promotion):
    env = promotion
    env.mlflow.set_alias("momentum", "champion", "2")  # e.g. moved by hand

    result = promote()

    assert result["already_champion"] is True and result["previous_version"] == "1"  # the compared champion
    assert PREVIOUS not in env.mlflow.version_tags("momentum", "2")
    assert env.item(RETRAINING_TABLE, "momentum")["status"] == contract.PROMOTED


def test_a_champion_changed_since_the_comparison_is_the_one_replaced(promotion, ml_logs):
    env = promotion
    v3 = env.version("momentum", 1.6)
    env.mlflow.set_alias("momentum", "champion", v3)

    result = promote()

    assert result["previous_version"] == v3
    assert env.mlflow.version_tags("momentum", "2")[PREVIOUS] == v3
    assert any("champion changed" in record.getMessage() for record in ml_logs.records)


@pytest.mark.parametrize("state", [None, "other-20261201T00"])
def test_a_stale_retraining_changes_nothing(promotion, ml_logs, state):
    env = promotion
    if state is None:
        env.dynamodb.delete_item(TableName=RETRAINING_TABLE, Key={"model_name": {"S": "momentum"}})
    else:
        retraining(env, state)

    with pytest.raises(StaleRetraining) as raised:
        promote()

    assert type(raised.value).__name__ == contract.STALE_RETRAINING_ERROR
    assert env.mlflow.alias("momentum", "champion") == "1"
    assert env.items(DEPLOYMENTS_TABLE) == []
    assert error_logs(ml_logs)


@pytest.mark.parametrize("overrides, field", [
    ({"retraining_id": ""}, "retraining_id"),
    ({"retraining_id": "<absent>"}, "retraining_id"),
    ({"model_name": None}, "model_name"),
    ({"strategy": ""}, "strategy"),
    ({"strategy": 7}, "strategy"),
    ({"challenger_version": 2}, "challenger_version"),
    ({"challenger_version": "v2"}, "challenger_version"),
    ({"challenger_version": None}, "challenger_version"),
    ({"champion_version": "<absent>"}, "champion_version"),
    ({"champion_version": "0"}, "champion_version"),
])
def test_malformed_promotion_input_names_the_field(promotion, ml_logs, overrides, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        promote(**overrides)
    assert error_logs(ml_logs)
    assert promotion.mlflow.alias("momentum", "champion") == "1"


def test_promotion_input_must_be_an_object(promotion):
    with pytest.raises(ValueError, match="JSON object"):
        promote_model.handler(["momentum"], Context())


def test_an_unknown_challenger_is_a_value_error(promotion):
    with pytest.raises(ValueError, match="^challenger_version='9': model 'momentum' has no such version"):
        promote(challenger_version="9")


def test_a_challenger_of_another_retraining_is_refused(promotion):
    other = challenger(promotion, retraining_id="momentum-20261130T06")

    with pytest.raises(ValueError, match=f"^challenger_version='{other}': trained by job_id="):
        promote(challenger_version=other)
    assert promotion.mlflow.alias("momentum", "champion") == "1"


def test_mlflow_down_raises_and_the_retry_promotes(promotion):
    env = promotion
    env.mlflow.fail_next(503, endpoint="POST registered-models/alias")  # the alias move

    with pytest.raises(MlflowUnavailable):
        promote()
    assert env.mlflow.alias("momentum", "champion") == "1"
    assert env.mlflow.version_tags("momentum", "2")[PREVIOUS] == "1"  # tagged before the move
    assert env.items(DEPLOYMENTS_TABLE) == []

    assert promote()["already_champion"] is False
    assert env.mlflow.alias("momentum", "champion") == "2"


def test_a_dynamodb_failure_after_the_alias_moved_is_finished_by_the_retry(promotion):
    env = promotion
    env.fail("dynamodb", "UpdateItem", "InternalServerError", status=500)  # the PROMOTED update

    with pytest.raises(Exception, match="InternalServerError"):
        promote()
    assert env.mlflow.alias("momentum", "champion") == "2" and len(env.items(DEPLOYMENTS_TABLE)) == 1

    result = promote()

    assert (result["already_champion"], result["previous_version"]) == (True, "1")
    assert len(env.items(DEPLOYMENTS_TABLE)) == 1
    assert env.item(RETRAINING_TABLE, "momentum")["status"] == contract.PROMOTED


def test_promote_needs_its_settings(promotion):
    promotion.set_env(TRADAI_ENV="qa")

    with pytest.raises(SettingsError, match="^configuration error: TRADAI_ENV='qa'"):
        promote()


# --- model-rollback ------------------------------------------------------------------------------------------------

def roll_back(**fields):
    event = {"model_name": "momentum", "reason": "live PnL collapsed", "requested_by": "alice@tradai.io"}
    event.update(fields)
    event = {key: value for key, value in event.items() if value != "<absent>"}
    return model_rollback.handler(event, Context(function_name="tradai-model-rollback-dev"))


@pytest.fixture
def history(ml_env):
    """v1 promoted first, then v2 (previous 1), then v3 (previous 2): the champion is v3."""
    for version in ("1", "2", "3"):
        tags = {PREVIOUS: str(int(version) - 1)} if version != "1" else None
        assert ml_env.version("momentum", 1.0 + int(version) / 10, tags) == version
        ml_env.mlflow.set_alias("momentum", "champion", version)
    return ml_env


def test_rollback_to_the_previous_champion(history):
    env = history

    result = roll_back()

    assert result == {"model_name": "momentum", "from_version": "3", "to_version": "2", "rolled_back": True}
    assert env.mlflow.alias("momentum", "champion") == "2"
    item = env.item(ROLLBACK_TABLE, "momentum")
    assert (item["current_version"], item["previous_version"], item["rollback_count"]) == ("2", "3", 1)
    assert (item["last_reason"], item["last_requested_by"]) == ("live PnL collapsed", "alice@tradai.io")
    [entry] = item["history"]
    assert {key: entry[key] for key in ("from_version", "to_version", "reason", "requested_by")} == {
        "from_version": "3", "to_version": "2", "reason": "live PnL collapsed", "requested_by": "alice@tradai.io"}
    assert entry["at"] == item["last_rollback_at"]
    assert "expires_at" not in item and "ttl" not in item  # the audit trail does not expire
    [note] = env.items(NOTIFICATIONS_TABLE)
    assert note["notification_id"] == f"rollback#momentum#{entry['request_key']}"
    assert note["alert"] is True and note["subject"] == "TradAI model rollback: momentum v3 -> v2"
    assert "requested by: alice@tradai.io" in note["message"]
    [alert] = env.alerts()
    assert alert["Subject"] == note["subject"]


def test_repeated_rollbacks_walk_back_instead_of_ping_ponging(history):
    env = history

    assert roll_back(reason="first")["to_version"] == "2"
    assert roll_back(reason="second")["to_version"] == "1"

    assert env.mlflow.alias("momentum", "champion") == "1"
    assert env.mlflow.version_tags("momentum", "2") == {PREVIOUS: "1"}  # targets are not re-tagged
    item = env.item(ROLLBACK_TABLE, "momentum")
    assert item["rollback_count"] == 2
    assert [(h["from_version"], h["to_version"]) for h in item["history"]] == [("3", "2"), ("2", "1")]

    with pytest.raises(ValueError, match="^model_name='momentum': champion v1 has no tradai.previous_champion tag"):
        roll_back(reason="third")


def test_rollback_to_a_named_version(history):
    result = roll_back(version="1")

    assert (result["from_version"], result["to_version"], result["rolled_back"]) == ("3", "1", True)
    assert history.mlflow.alias("momentum", "champion") == "1"


def test_a_duplicate_request_does_not_append_twice(history):
    env = history
    first = roll_back()

    assert roll_back() == first  # a retry within the minute: the same answer, nothing new

    item = env.item(ROLLBACK_TABLE, "momentum")
    assert item["rollback_count"] == 1 and len(item["history"]) == 1
    assert env.mlflow.alias("momentum", "champion") == "2"  # not rolled back a second time to v1
    assert len(env.items(NOTIFICATIONS_TABLE)) == 1


def test_a_retry_in_the_next_minute_is_still_the_same_request(history):
    env = history
    request = model_rollback.parse_request({"model_name": "momentum", "reason": "r", "requested_by": "alice"})
    config, client = model_rollback.settings(), mlflow.client()
    moment = datetime(2026, 12, 1, 10, 0, 59, tzinfo=timezone.utc)

    first = model_rollback.roll_back(request, config, client, "test", moment)
    again = model_rollback.roll_back(request, config, client, "test", moment + timedelta(seconds=2))
    later = model_rollback.roll_back(request, config, client, "test", moment + timedelta(minutes=2))

    assert again == first and first["to_version"] == "2"
    assert later["to_version"] == "1"  # two minutes on it is a new request
    assert env.item(ROLLBACK_TABLE, "momentum")["rollback_count"] == 2


def test_request_id_makes_retries_idempotent_at_any_time(history):
    env = history
    request = model_rollback.parse_request({"model_name": "momentum", "reason": "r", "requested_by": "alice",
                                            "request_id": "req-42"})
    config, client = model_rollback.settings(), mlflow.client()
    moment = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)

    first = model_rollback.roll_back(request, config, client, "test", moment)
    again = model_rollback.roll_back(request, config, client, "test", moment + timedelta(hours=3))

    assert again == first
    assert env.item(ROLLBACK_TABLE, "momentum")["history"][0]["request_key"] == "request#req-42"
    assert env.item(ROLLBACK_TABLE, "momentum")["rollback_count"] == 1


def test_a_different_reason_is_a_new_rollback(history):
    roll_back(reason="one")
    roll_back(reason="two")

    assert history.item(ROLLBACK_TABLE, "momentum")["rollback_count"] == 2


def test_rolling_back_to_the_champion_is_a_no_op(history):
    result = roll_back(version="3")

    assert result == {"model_name": "momentum", "from_version": "3", "to_version": "3", "rolled_back": False}
    assert history.item(ROLLBACK_TABLE, "momentum") is None
    assert history.items(NOTIFICATIONS_TABLE) == []


def test_an_interrupted_rollback_is_finished_by_the_retry(history):
    env = history
    env.mlflow.fail_next(503, endpoint="registered-models/alias")  # the first GET of the alias
    with pytest.raises(MlflowUnavailable):
        roll_back()
    assert env.item(ROLLBACK_TABLE, "momentum") is None  # nothing recorded before the champion was known

    env.mlflow.fail_next(503, endpoint="POST registered-models/alias")  # the alias move
    with pytest.raises(MlflowUnavailable):
        roll_back()
    assert env.item(ROLLBACK_TABLE, "momentum")["rollback_count"] == 1  # recorded first
    assert env.mlflow.alias("momentum", "champion") == "3"

    result = roll_back()  # the retry: the recorded target, not the previous champion's previous

    assert result == {"model_name": "momentum", "from_version": "3", "to_version": "2", "rolled_back": True}
    assert env.mlflow.alias("momentum", "champion") == "2"
    assert env.item(ROLLBACK_TABLE, "momentum")["rollback_count"] == 1


def test_a_replay_leaves_a_champion_moved_since_alone(history):
    env = history
    first = roll_back()
    env.mlflow.set_alias("momentum", "champion", "1")  # a later promotion or rollback

    assert roll_back() == first
    assert env.mlflow.alias("momentum", "champion") == "1"


def test_unknown_model(ml_env):
    with pytest.raises(ValueError, match="^model_name='nope': no such registered model"):
        roll_back(model_name="nope")


def test_unknown_version(history):
    with pytest.raises(ValueError, match="^version='9': model 'momentum' has no such version"):
        roll_back(version="9")


def test_no_champion_and_no_version(ml_env):
    ml_env.version("momentum")

    with pytest.raises(ValueError, match="^model_name='momentum': no version has the alias champion"):
        roll_back()


def test_a_champion_without_a_previous_champion(ml_env):
    ml_env.champion("momentum")

    with pytest.raises(ValueError, match="has no tradai.previous_champion tag"):
        roll_back()


@pytest.mark.parametrize("fields, field", [
    ({"model_name": "<absent>"}, "model_name"),
    ({"model_name": ""}, "model_name"),
    ({"model_name": 12}, "model_name"),
    ({"version": 2}, "version"),
    ({"version": "two"}, "version"),
    ({"version": "0"}, "version"),
    ({"reason": "<absent>"}, "reason"),
    ({"reason": "   "}, "reason"),
    ({"reason": "x" * 501}, "reason"),
    ({"requested_by": "<absent>"}, "requested_by"),
    ({"requested_by": ""}, "requested_by"),
    ({"request_id": "has spaces"}, "request_id"),
])
def test_malformed_rollback_input_names_the_field(history, ml_logs, fields, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        roll_back(**fields)
    assert error_logs(ml_logs)
    assert history.mlflow.alias("momentum", "champion") == "3"


def test_a_500_character_reason_is_accepted(history):
    assert roll_back(reason="x" * 500)["rolled_back"] is True


def test_mlflow_down_is_transient_and_changes_nothing(history):
    history.mlflow.fail_next(503)

    with pytest.raises(MlflowUnavailable):
        roll_back()
    assert history.item(ROLLBACK_TABLE, "momentum") is None


def test_rollback_needs_its_table(history):
    history.set_env(ROLLBACK_STATE_TABLE=None)

    with pytest.raises(SettingsError, match="^configuration error: ROLLBACK_STATE_TABLE=None"):
        roll_back()
