"""orphan-scanner against moto: stuck runs (status-created_at-index) and stray strategy tasks."""

from __future__ import annotations

import json
import uuid

import pytest

from backtest import contract, orphan_scanner
from backtest.request import parse_request
from shared.settings import SettingsError

from .backtest_fixtures import (Context, backtest_env, backtest_logs, backtest_tables, cold_start,  # noqa: F401
                                ecs_tasks_stay_running, emf_metrics, minutes_ago, request_body)


def scan():
    return orphan_scanner.handler({"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                                   "source": "aws.events", "detail": {}},
                                  Context(function_name="tradai-orphan-scanner-dev"))


def run_created(env, minutes: float, status: str = contract.SUBMITTED, job_id: str | None = None,
                **fields) -> str:
    """A run created ``minutes`` ago, moved to ``status`` with ``fields`` (task_arn, execution_arn)."""
    body = json.dumps(request_body(job_id=job_id or str(uuid.uuid4())))
    request = parse_request(body, message_id=str(uuid.uuid4()), attributes={})
    runs = env.runs(now=minutes_ago(minutes))
    runs.create_submitted(request)
    if status != contract.SUBMITTED:
        if status == contract.COMPLETED:
            runs.transition(request.run_id, contract.RUNNING)
        runs.transition(request.run_id, status, **fields)
    elif fields:
        runs.set_fields(request.run_id, **fields)
    return request.run_id


def stopped_reason(env, task_arn: str) -> str:
    return env.ecs.describe_tasks(cluster=env.cluster_arn, tasks=[task_arn])["tasks"][0].get("stoppedReason", "")


def test_scan_fails_dead_runs_keeps_live_ones_and_stops_orphaned_backtest_tasks(backtest_env, capsys):
    env = backtest_env
    sfn = env.client("stepfunctions")
    # (a) stuck runs, created 30 minutes ago
    dead_task = env.run_task(str(uuid.uuid4()))  # a task whose run (created below) it no longer serves
    env.ecs.stop_task(cluster=env.cluster_arn, task=dead_task, reason="Essential container in task exited")
    task_stopped = run_created(env, 30, contract.RUNNING, task_arn=dead_task)
    task_missing = run_created(env, 30, contract.RUNNING,
                               task_arn=f"arn:aws:ecs:eu-central-1:123456789012:task/tradai-dev/{uuid.uuid4().hex}")
    live_id = str(uuid.uuid4())
    live_task = env.run_task(live_id)
    live = run_created(env, 30, contract.RUNNING, job_id=live_id, task_arn=live_task)
    never_launched = run_created(env, 30)
    fresh = run_created(env, 5)
    running_execution = sfn.start_execution(stateMachineArn=env.state_machine_arn, name="live-exec", input="{}")
    execution_alive = run_created(env, 30, execution_arn=running_execution["executionArn"])
    aborted = sfn.start_execution(stateMachineArn=env.state_machine_arn, name="aborted-exec", input="{}")
    sfn.stop_execution(executionArn=aborted["executionArn"])
    execution_aborted = run_created(env, 30, execution_arn=aborted["executionArn"])
    # (b) backtest tasks whose run is terminal or absent (the consumer's: startedBy = run id; the state
    # machine's: startedBy "AWS Step Functions", found by their JOB_ID override); a training task is no backtest
    finished = run_created(env, 30, contract.COMPLETED)
    finished_task = env.run_task(finished)
    finished_sfn_task = env.run_task(finished, started_by="AWS Step Functions")
    stray_task = env.run_task(str(uuid.uuid4()))
    live_sfn_task = env.run_task(fresh, started_by="AWS Step Functions")
    training_task = env.run_task(str(uuid.uuid4()), trading_mode="train")

    result = scan()

    assert result == {"runs_checked": 6, "orphaned_runs": 4, "tasks_checked": 6, "orphaned_tasks": 3}
    assert env.run(task_stopped)["status"] == contract.FAILED
    assert env.run(task_stopped)["error"] == "orphaned: task STOPPED while the run is still RUNNING"
    assert env.run(task_missing)["error"] == "orphaned: task not found while the run is still RUNNING"
    assert env.run(never_launched)["error"] == (
        "orphaned: no execution or task was started for the SUBMITTED run while the run is still SUBMITTED")
    assert env.run(execution_aborted)["error"] == "orphaned: execution ABORTED while the run is still SUBMITTED"
    assert env.run(execution_aborted)["status"] == contract.FAILED
    assert env.run(live)["status"] == contract.RUNNING
    assert env.run(execution_alive)["status"] == contract.SUBMITTED
    assert env.run(fresh)["status"] == contract.SUBMITTED
    assert env.run(finished)["status"] == contract.COMPLETED
    assert {t["taskArn"] for t in env.tasks()} == {live_task, live_sfn_task, training_task}
    assert {stopped_reason(env, arn) for arn in (finished_task, finished_sfn_task, stray_task)} == {
        "orphan: no live run"}
    found = emf_metrics(capsys)
    assert (found["OrphanedRuns"], found["OrphanedTasks"]) == (4, 3)

    again = scan()

    assert again == {"runs_checked": 2, "orphaned_runs": 0, "tasks_checked": 3, "orphaned_tasks": 0}
    assert {t["taskArn"] for t in env.tasks()} == {live_task, live_sfn_task, training_task}


def test_task_of_a_run_failed_as_orphan_is_stopped_in_the_same_scan(backtest_env):
    # the consumer started the task but never recorded it (its retries ran out): the run is stale SUBMITTED
    run_id = run_created(backtest_env, 20)
    task_arn = backtest_env.run_task(run_id)

    assert scan() == {"runs_checked": 1, "orphaned_runs": 1, "tasks_checked": 1, "orphaned_tasks": 1}

    assert backtest_env.run(run_id)["status"] == contract.FAILED
    assert backtest_env.tasks() == []
    assert stopped_reason(backtest_env, task_arn) == "orphan: no live run"


def test_run_finished_between_the_query_and_the_update_is_left_alone(backtest_env, monkeypatch):
    run_id = run_created(backtest_env, 30, contract.RUNNING)
    finish = backtest_env.runs().transition
    transition = orphan_scanner.Runs.transition

    def finished_first(self, *args, **kwargs):
        finish(run_id, contract.COMPLETED)  # the state machine's update-status got there first
        return transition(self, *args, **kwargs)

    monkeypatch.setattr(orphan_scanner.Runs, "transition", finished_first)

    assert scan()["orphaned_runs"] == 0
    assert backtest_env.run(run_id)["status"] == contract.COMPLETED


def test_unreadable_execution_skips_the_run_until_the_next_scan(backtest_env):
    backtest_env.fail("sfn", "DescribeExecution", "ThrottlingException")
    arn = f"{backtest_env.state_machine_arn.replace(':stateMachine:', ':execution:')}:gone"
    run_id = run_created(backtest_env, 30, execution_arn=arn)

    assert scan()["orphaned_runs"] == 0
    assert backtest_env.run(run_id)["status"] == contract.SUBMITTED

    assert scan()["orphaned_runs"] == 1  # ExecutionDoesNotExist now: failed
    assert backtest_env.run(run_id)["error"] == "orphaned: execution not found while the run is still SUBMITTED"


def test_scan_is_bounded(backtest_env, monkeypatch):
    monkeypatch.setattr(orphan_scanner, "MAX_RUNS", 2)
    for _ in range(3):
        run_created(backtest_env, 30)

    assert scan()["orphaned_runs"] == 2
    assert scan()["orphaned_runs"] == 1


@pytest.mark.parametrize("changes, variable", [
    ({"STUCK_AFTER_MINUTES": "0"}, "STUCK_AFTER_MINUTES"),
    ({"STUCK_AFTER_MINUTES": "15m"}, "STUCK_AFTER_MINUTES"),
    ({"TASK_FAMILY": "strategy-container-dev:3"}, "TASK_FAMILY"),
    ({"ECS_CLUSTER": None}, "ECS_CLUSTER"),
    ({"WORKFLOW_STATE_TABLE": None}, "WORKFLOW_STATE_TABLE"),
])
def test_invalid_settings_name_the_variable(backtest_tables, changes, variable):
    backtest_tables.set_env(**changes)

    with pytest.raises(SettingsError) as raised:
        scan()

    assert raised.value.name == variable
