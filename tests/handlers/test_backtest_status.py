"""update-status and validate-strategy (Step Functions tasks) and the run repository, against moto."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from backtest import contract, update_status, validate_strategy
from backtest.request import parse_request
from backtest.runs import RunNotFound, StatusRegression
from shared.settings import SettingsError

from .backtest_fixtures import (Context, backtest_logs, backtest_tables, cold_start,  # noqa: F401
                                error_logs, minutes_ago, request_body)

TASK_ARN = "arn:aws:ecs:eu-central-1:123456789012:task/tradai-dev/0d9c2a4b7e5f4a1b8c3d2e1f0a9b8c7d"
EXECUTION_ARN = "arn:aws:states:eu-central-1:123456789012:execution:tradai-backtest-workflow-dev:x"


def submitted(env, **overrides) -> str:
    request = parse_request(json.dumps(request_body(**overrides)), message_id="m-1", attributes={})
    assert env.runs().create_submitted(request)
    return request.run_id


def update(**event):
    return update_status.handler(event, Context(function_name="tradai-update-status-dev"))


# --- update-status ------------------------------------------------------------------------------------------

def test_forward_moves_succeed_and_record_the_fields(backtest_tables):
    run_id = submitted(backtest_tables)

    assert update(run_id=run_id, status="RUNNING", task_arn=TASK_ARN, execution_arn=EXECUTION_ARN) == {
        "run_id": run_id, "status": "RUNNING", "changed": True}
    assert update(run_id=run_id, status="COMPLETED") == {"run_id": run_id, "status": "COMPLETED", "changed": True}

    run = backtest_tables.run(run_id)
    assert run["status"] == "COMPLETED"
    assert (run["task_arn"], run["execution_arn"]) == (TASK_ARN, EXECUTION_ARN)
    assert run["updated_at"] >= run["created_at"]


def test_the_same_status_twice_is_an_unchanged_no_op(backtest_tables):
    run_id = submitted(backtest_tables)
    update(run_id=run_id, status="RUNNING", task_arn=TASK_ARN)

    assert update(run_id=run_id, status="RUNNING", task_arn=TASK_ARN + "0") == {
        "run_id": run_id, "status": "RUNNING", "changed": False}
    assert backtest_tables.run(run_id)["task_arn"] == TASK_ARN


def test_failed_from_a_catch_records_the_error_object(backtest_tables):
    run_id = submitted(backtest_tables)
    update(run_id=run_id, status="RUNNING")

    result = update(run_id=run_id, status="FAILED",
                    error={"Error": "States.TaskFailed", "Cause": '{"StopCode":"EssentialContainerExited"}'})

    assert result["changed"] is True
    assert backtest_tables.run(run_id)["error"] == 'States.TaskFailed: {"StopCode":"EssentialContainerExited"}'


@pytest.mark.parametrize("path, requested", [
    (["RUNNING", "COMPLETED"], "RUNNING"),
    (["FAILED"], "COMPLETED"),
    (["RUNNING", "CANCELLED"], "FAILED"),
    (["RUNNING"], "SUBMITTED"),
    ([], "COMPLETED"),  # COMPLETED only from RUNNING
])
def test_refused_moves_raise_status_regression(backtest_tables, backtest_logs, path, requested):
    run_id = submitted(backtest_tables)
    for status in path:
        update(run_id=run_id, status=status)
    current = path[-1] if path else "SUBMITTED"

    with pytest.raises(StatusRegression) as raised:
        update(run_id=run_id, status=requested)

    assert type(raised.value).__name__ == contract.STATUS_REGRESSION_ERROR
    assert f"run {run_id}: status {current} cannot move to {requested}" in str(raised.value)
    assert backtest_tables.run(run_id)["status"] == current
    assert error_logs(backtest_logs)


@pytest.mark.parametrize("event, field", [
    ({"status": "RUNNING"}, "run_id"),
    ({"run_id": "", "status": "RUNNING"}, "run_id"),
    ({"run_id": "r-1", "status": "DONE"}, "status"),
    ({"run_id": "r-1"}, "status"),
    ({"run_id": "r-1", "status": "RUNNING", "task_arn": "task-1"}, "task_arn"),
])
def test_malformed_input_raises_value_error_naming_the_field(backtest_tables, event, field):
    with pytest.raises(ValueError, match=f"^{field}="):
        update(**event)


def test_unknown_run_raises_run_not_found(backtest_tables):
    with pytest.raises(RunNotFound, match="does-not-exist"):
        update(run_id="does-not-exist", status="RUNNING")
    assert backtest_tables.run("does-not-exist") is None  # no item was created by the update


def test_update_status_needs_the_workflow_table(backtest_tables):
    backtest_tables.set_env(WORKFLOW_STATE_TABLE=None)

    with pytest.raises(SettingsError, match="^configuration error: WORKFLOW_STATE_TABLE=None; allowed"):
        update(run_id="r-1", status="RUNNING")


# --- the run repository ---------------------------------------------------------------------------------------

def test_create_submitted_is_conditional_on_the_run_not_existing(backtest_tables):
    request = parse_request(json.dumps(request_body()), message_id="m-1", attributes={})
    runs = backtest_tables.runs()

    assert runs.create_submitted(request) is True
    runs.transition(request.run_id, "RUNNING")
    assert runs.create_submitted(request) is False
    assert backtest_tables.run(request.run_id)["status"] == "RUNNING"


def test_set_fields_only_while_the_run_is_not_terminal(backtest_tables):
    run_id = submitted(backtest_tables)
    runs = backtest_tables.runs()

    assert runs.set_fields(run_id, execution_arn=EXECUTION_ARN) is True
    runs.transition(run_id, "CANCELLED")
    assert runs.set_fields(run_id, task_arn=TASK_ARN) is False
    assert runs.set_fields("no-such-run", task_arn=TASK_ARN) is False
    assert "task_arn" not in backtest_tables.run(run_id)
    with pytest.raises(TypeError, match="cannot set strategy"):
        runs.set_fields(run_id, strategy="Other")


def test_ttl_is_creation_plus_the_retention_days(backtest_tables):
    created = minutes_ago(0)
    request = parse_request(json.dumps(request_body()), message_id="m-1", attributes={})
    backtest_tables.runs(now=created).create_submitted(request)

    assert backtest_tables.run(request.run_id)["ttl"] == int((created + timedelta(days=30)).timestamp())


def test_stuck_returns_old_runs_of_a_status_oldest_first_up_to_the_limit(backtest_tables):
    old = [submitted_at(backtest_tables, minutes) for minutes in (50, 40, 30)]
    submitted_at(backtest_tables, 5)

    found = backtest_tables.runs().stuck("SUBMITTED", minutes_ago(15), limit=2)

    assert [run.run_id for run in found] == old[:2]
    assert backtest_tables.runs().stuck("RUNNING", minutes_ago(15), limit=10) == []


def submitted_at(env, minutes: float) -> str:
    request = parse_request(json.dumps(request_body()), message_id="m", attributes={})
    env.runs(now=minutes_ago(minutes)).create_submitted(request)
    return request.run_id


# --- validate-strategy -------------------------------------------------------------------------------------------

def workflow_input(**overrides):
    body = request_body(trace_id="trace-1")
    request = parse_request(json.dumps(body), message_id="m-1", attributes={})
    data = request.workflow_input()
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def validate(event):
    return validate_strategy.handler(event, Context(function_name="tradai-validate-strategy-dev"))


def test_validate_strategy_accepts_the_workflow_input():
    assert validate(workflow_input()) == {"valid": True}


@pytest.mark.parametrize("overrides, field", [
    ({"strategy": "pascal_strategy"}, "strategy"),
    ({"strategy": None}, "strategy"),
    ({"strategy_id": "Pascal BTC"}, "strategy_id"),
    ({"timeframe": "2h"}, "timeframe"),
    ({"timerange": "20240230-20240301"}, "timerange"),
    ({"pairs": "BTC/USDT,,ETH/USDT"}, "pairs"),
    ({"pairs": ["BTC/USDT"]}, "pairs"),
    ({"trading_mode": "live"}, "trading_mode"),
    ({"run_id": "another-id"}, "run_id"),
    ({"job_id": "1234"}, "job_id"),
    ({"trace_id": None}, "trace_id"),
])
def test_validate_strategy_rejects_bad_input_with_invalid_backtest_request(overrides, field):
    with pytest.raises(validate_strategy.InvalidBacktestRequest) as raised:
        validate(workflow_input(**overrides))

    assert type(raised.value).__name__ == contract.INVALID_REQUEST_ERROR
    assert raised.value.field == field
    assert f"invalid backtest request: {field}=" in str(raised.value)


def test_validate_strategy_rejects_a_non_object():
    with pytest.raises(validate_strategy.InvalidBacktestRequest, match="input="):
        validate(["not", "an", "object"])
