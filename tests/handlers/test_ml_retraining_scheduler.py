"""retraining-scheduler against moto (DynamoDB, Step Functions) and the FakeMlflow."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from ml_lifecycle import contract, mlflow, retraining_scheduler
from ml_lifecycle.mlflow import MlflowUnavailable, is_transient
from ml_lifecycle.retraining import model_slug
from ml_lifecycle.retraining_scheduler import SchedulingIncomplete
from shared.settings import SettingsError

from .ml_fixtures import RETRAINING_TABLE
from .ml_retraining_fixtures import (clock, cold_start, emf_metrics, error_logs, fake_mlflow, ml_env,  # noqa: F401
                                     ml_logs, retraining_env, schedule, scheduled_event)

WINDOW_TIME = "2026-12-01T06:00:00Z"
WINDOW = "20261201T06"
NOW = datetime(2026, 12, 1, 6, 0, 5, tzinfo=timezone.utc)


@pytest.fixture
def env(retraining_env, clock):
    clock(NOW)
    return retraining_env


def run(time: str = WINDOW_TIME) -> dict:
    return schedule(scheduled_event(time))


def arn_of(env, name: str) -> str:
    return env.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name


def test_each_registered_model_gets_one_execution_per_window(env, capsys):
    env.champion("momentum")
    env.version("mean-reversion")

    result = run()

    ids = {"momentum": f"momentum-{WINDOW}", "mean-reversion": f"mean-reversion-{WINDOW}"}
    assert result == {"scheduled": [
        {"model_name": "mean-reversion", "retraining_id": ids["mean-reversion"],
         "execution_arn": arn_of(env, ids["mean-reversion"])},
        {"model_name": "momentum", "retraining_id": ids["momentum"], "execution_arn": arn_of(env, ids["momentum"])},
    ], "skipped": {}, "failed": {}}
    executions = {e["name"]: e for e in env.executions()}
    assert set(executions) == set(ids.values())
    assert json.loads(executions[ids["momentum"]]["input"]) == {"retraining_id": ids["momentum"],
                                                                "model_name": "momentum"}
    item = env.retraining("momentum")
    assert {key: item[key] for key in ("retraining_id", "status", "execution_arn")} == {
        "retraining_id": ids["momentum"], "status": contract.SCHEDULED, "execution_arn": arn_of(env, ids["momentum"])}
    assert item["scheduled_at"] <= item["updated_at"]
    assert item["expires_at"] > int(datetime.now(timezone.utc).timestamp()) + 29 * 86400
    metrics = {m["name"]: m["value"] for m in emf_metrics(capsys)}
    assert metrics["RetrainingsScheduled"] == 2 and metrics["RetrainingScheduleFailures"] == 0


def test_a_second_invocation_in_the_same_window_changes_nothing_and_answers_the_same(env, capsys):
    env.champion("momentum")
    writes = env.writes()
    first = run()
    assert [w["operation"] for w in writes] == ["PutItem", "StartExecution", "UpdateItem"]
    writes.clear()

    assert run("2026-12-01T11:59:59Z") == first
    assert writes == []
    assert len(env.executions()) == 1
    assert [m["value"] for m in emf_metrics(capsys) if m["name"] == "RetrainingsScheduled"] == [1, 0]


def test_the_next_window_starts_a_new_retraining_once_the_previous_ended(env):
    env.champion("momentum")
    run()
    env.seed_retraining("momentum", f"momentum-{WINDOW}", contract.NOT_NEEDED,
                        execution_arn=arn_of(env, f"momentum-{WINDOW}"))

    result = run("2026-12-01T12:00:00Z")

    assert [s["retraining_id"] for s in result["scheduled"]] == ["momentum-20261201T12"]
    item = env.retraining("momentum")
    assert (item["retraining_id"], item["status"]) == ("momentum-20261201T12", contract.SCHEDULED)
    assert "check_reason" not in item  # the new window's item replaces the old one
    assert len(env.executions()) == 2


def test_a_model_with_a_retraining_in_progress_is_skipped(env):
    env.champion("momentum")
    seeded = env.seed_retraining("momentum", "momentum-20261201T00", contract.SHADOW_TESTING,
                                 updated_at=NOW - timedelta(hours=3))
    writes = env.writes()

    result = run()

    assert result["scheduled"] == [] and result["failed"] == {}
    assert result["skipped"] == {
        "momentum": f"retraining momentum-20261201T00 in progress (SHADOW_TESTING since {seeded['updated_at']})"}
    assert env.retraining("momentum") == seeded and writes == [] and env.executions() == []


def test_a_stale_retraining_of_another_window_is_replaced(env, ml_logs):
    env.champion("momentum")
    env.seed_retraining("momentum", "momentum-20261130T00", contract.TRAINING, updated_at=NOW - timedelta(hours=25))

    result = run()

    assert [s["retraining_id"] for s in result["scheduled"]] == [f"momentum-{WINDOW}"]
    assert env.retraining("momentum")["retraining_id"] == f"momentum-{WINDOW}"
    assert any("is stale (TRAINING since" in str(getattr(r, "why", r.getMessage())) for r in ml_logs.records)


def test_a_retraining_of_another_window_that_never_started_is_replaced(env):
    """Its StartExecution failed for good (e.g. AccessDenied) and the window passed."""
    env.champion("momentum")
    env.seed_retraining("momentum", "momentum-20261201T00", contract.SCHEDULED, updated_at=NOW - timedelta(hours=5))

    assert [s["retraining_id"] for s in run()["scheduled"]] == [f"momentum-{WINDOW}"]


def test_a_concurrent_writer_between_read_and_put_is_respected(env):
    """Another scheduler (or a duplicate invocation) wins the conditional put: decide again from its item."""
    env.champion("momentum")
    rival = {"model_name": {"S": "momentum"}, "retraining_id": {"S": "momentum-20261201T00"},
             "status": {"S": "TRAINING"}, "updated_at": {"S": "2026-12-01T06:00:00.000Z"}}
    raced = []

    def rival_writes_first(**_kwargs):
        if not raced:
            raced.append(True)  # before the put: the test's client sees this hook too
            env.dynamodb.put_item(TableName=RETRAINING_TABLE, Item=rival)

    env.session.events.register("before-call.dynamodb.PutItem", rival_writes_first)
    writes = env.writes()

    result = run()

    assert result["skipped"] == {"momentum": "retraining momentum-20261201T00 in progress "
                                             "(TRAINING since 2026-12-01T06:00:00.000Z)"}
    assert env.retraining("momentum")["retraining_id"] == "momentum-20261201T00"
    assert [w["operation"] for w in writes] == ["PutItem", "PutItem"]  # the rival's, then ours (refused)
    assert env.executions() == []


def test_the_staleness_bound_is_configurable(env):
    env.champion("momentum")
    env.seed_retraining("momentum", "momentum-20261201T00", contract.TRAINING, updated_at=NOW - timedelta(hours=3))
    env.set_env(RETRAINING_STALE_AFTER_HOURS="2")

    assert [s["retraining_id"] for s in run()["scheduled"]] == [f"momentum-{WINDOW}"]


def test_a_scheduled_item_without_an_execution_is_resumed(env):
    """The previous invocation wrote the item and stopped before StartExecution."""
    env.champion("momentum")
    env.seed_retraining("momentum", f"momentum-{WINDOW}")

    result = run()

    assert result["scheduled"][0]["execution_arn"] == arn_of(env, f"momentum-{WINDOW}")
    assert len(env.executions()) == 1
    assert env.retraining("momentum")["execution_arn"] == arn_of(env, f"momentum-{WINDOW}")


def test_an_execution_that_exists_with_the_same_input_counts_as_started(env):
    """The previous invocation started the execution (which has ended since) but did not record it."""
    env.champion("momentum")
    name = f"momentum-{WINDOW}"
    arn = env.sfn.start_execution(stateMachineArn=env.state_machine_arn, name=name,
                                  input=json.dumps({"model_name": "momentum", "retraining_id": name}))["executionArn"]
    env.sfn.stop_execution(executionArn=arn)  # a closed execution: StartExecution now raises ExecutionAlreadyExists
    env.seed_retraining("momentum", name)

    result = run()

    assert result["scheduled"] == [{"model_name": "momentum", "retraining_id": name, "execution_arn": arn}]
    assert env.retraining("momentum")["execution_arn"] == arn and len(env.executions()) == 1


def test_an_execution_name_taken_by_another_input_fails_that_model_only(env, ml_logs):
    env.champion("momentum")
    env.champion("breakout")
    name = f"momentum-{WINDOW}"
    env.sfn.start_execution(stateMachineArn=env.state_machine_arn, name=name, input=json.dumps({"other": 1}))

    result = run()

    assert [s["model_name"] for s in result["scheduled"]] == ["breakout"]
    assert result["failed"]["momentum"].startswith("ExecutionNameTaken: execution momentum-20261201T06 exists")
    assert error_logs(ml_logs)


def test_model_names_are_slugged_into_valid_execution_names(env):
    env.version("BTC momentum/v2")

    scheduled = run()["scheduled"]

    assert scheduled[0]["retraining_id"] == f"{model_slug('BTC momentum/v2')}-{WINDOW}"
    assert scheduled[0]["retraining_id"].startswith("BTC-momentum-v2-")
    assert env.executions()[0]["name"] == scheduled[0]["retraining_id"]


def test_every_page_of_registered_models_is_scheduled(env):
    names = [f"model-{i:02d}" for i in range(7)]
    for name in names:
        env.version(name)
    mlflow.client().page_size = 3

    result = run()

    assert sorted(s["model_name"] for s in result["scheduled"]) == names
    searches = [path for method, path in env.mlflow.requests if path.endswith("registered-models/search")]
    assert len(searches) == 3


def test_one_models_transient_failure_does_not_stop_the_others_and_raises_at_the_end(env, capsys):
    for name in ("alpha", "beta", "gamma"):
        env.version(name)
    env.fail("dynamodb", "PutItem", "ProvisionedThroughputExceededException", status=500)

    with pytest.raises(SchedulingIncomplete, match="alpha"):
        run()

    assert env.retraining("alpha") is None
    assert {e["name"] for e in env.executions()} == {f"beta-{WINDOW}", f"gamma-{WINDOW}"}
    assert {m["name"]: m["value"] for m in emf_metrics(capsys)}["RetrainingScheduleFailures"] == 1
    # Lambda's retry completes the window; the models done before are no-ops
    result = run()
    assert [s["model_name"] for s in result["scheduled"]] == ["alpha", "beta", "gamma"]
    assert len(env.executions()) == 3


def test_a_permanent_failure_is_reported_without_raising(env):
    env.version("alpha")
    env.version("beta")
    env.fail("sfn", "StartExecution", "AccessDeniedException")

    result = run()

    assert result["failed"] == {"alpha": "AccessDeniedException: An error occurred (AccessDeniedException) when "
                                         "calling the StartExecution operation: injected StartExecution failure"}
    assert [s["model_name"] for s in result["scheduled"]] == ["beta"]
    # the item is written: the next invocation in the window resumes it
    assert run()["scheduled"][0] == {"model_name": "alpha", "retraining_id": f"alpha-{WINDOW}",
                                     "execution_arn": arn_of(env, f"alpha-{WINDOW}")}


def test_mlflow_unavailable_fails_the_invocation_as_transient(env):
    env.version("alpha")
    env.mlflow.fail_next(503)

    with pytest.raises(MlflowUnavailable) as raised:
        run()

    assert is_transient(raised.value) and env.retraining("alpha") is None and env.executions() == []


def test_no_registered_models_schedules_nothing(env):
    assert run() == {"scheduled": [], "skipped": {}, "failed": {}}


def test_without_an_event_time_the_current_window_is_used(env):
    env.version("alpha")
    assert schedule({})["scheduled"][0]["retraining_id"] == f"alpha-{WINDOW}"


@pytest.mark.parametrize("time", ["yesterday", "2026-12-01T06:00:00", 1764568800])
def test_a_malformed_event_time_is_a_value_error(env, time):
    with pytest.raises(ValueError, match="time="):
        run(time)


@pytest.mark.parametrize("name, value", [
    (contract.ENV_RETRAINING_STATE_MACHINE_ARN, None),
    (contract.ENV_RETRAINING_STATE_MACHINE_ARN, "tradai-retraining"),
    (contract.ENV_RETRAINING_TABLE, None),
    (contract.ENV_SCHEDULE_WINDOW_HOURS, "0"),
    (contract.ENV_SCHEDULE_WINDOW_HOURS, "6h"),
    (contract.ENV_STATE_TTL_DAYS, None),
    (contract.ENV_MLFLOW_TRACKING_URI, "mlflow.local"),
])
def test_configuration_errors_name_the_variable(env, name, value):
    env.set_env(**{name: value})
    with pytest.raises(SettingsError, match=name):
        run()
