"""Pure tests (no AWS) of the orphan scanner's decisions."""

from __future__ import annotations

import pytest

from backtest import contract
from backtest.aws_access import MISSING, TaskInfo, execution_arn, started_by
from backtest.orphans import assess_run, assess_task
from backtest.runs import Run, error_text

EXEC = "arn:aws:states:eu-central-1:123456789012:execution:tradai-backtest-workflow-dev:r-1"
TASK = "arn:aws:ecs:eu-central-1:123456789012:task/tradai-dev/0d9c2a4b7e5f4a1b"


def run(status=contract.RUNNING, execution_arn=None, task_arn=None) -> Run:
    return Run("r-1", status, "2026-12-01T05:30:00.123Z", execution_arn=execution_arn, task_arn=task_arn)


@pytest.mark.parametrize("the_run, execution, task, reason", [
    (run(execution_arn=EXEC), "RUNNING", None, "execution RUNNING"),
    (run(task_arn=TASK), None, "RUNNING", "task RUNNING"),
    (run(task_arn=TASK), None, "PROVISIONING", "task PROVISIONING"),
    (run(task_arn=TASK), None, "DEPROVISIONING", "task DEPROVISIONING"),
    (run(execution_arn=EXEC, task_arn=TASK), "SUCCEEDED", "RUNNING", "task RUNNING"),
    (run(execution_arn=EXEC, task_arn=TASK), "RUNNING", "STOPPED", "execution RUNNING"),
    (run(contract.COMPLETED), None, None, "run is COMPLETED already"),
])
def test_live_runs_are_kept(the_run, execution, task, reason):
    verdict = assess_run(the_run, execution, task)

    assert verdict.orphaned is False
    assert verdict.reason == reason


@pytest.mark.parametrize("the_run, execution, task, reason", [
    (run(task_arn=TASK), None, "STOPPED", "task STOPPED while the run is still RUNNING"),
    (run(task_arn=TASK), None, MISSING, "task not found while the run is still RUNNING"),
    (run(execution_arn=EXEC), "FAILED", None, "execution FAILED while the run is still RUNNING"),
    (run(execution_arn=EXEC), "ABORTED", None, "execution ABORTED while the run is still RUNNING"),
    (run(execution_arn=EXEC), "SUCCEEDED", None, "execution SUCCEEDED while the run is still RUNNING"),
    (run(execution_arn=EXEC), MISSING, None, "execution not found while the run is still RUNNING"),
    (run(execution_arn=EXEC, task_arn=TASK), "TIMED_OUT", "STOPPED",
     "execution TIMED_OUT and task STOPPED while the run is still RUNNING"),
    (run(contract.SUBMITTED), None, None,
     "no execution or task was started for the SUBMITTED run while the run is still SUBMITTED"),
    (run(), None, None, "no execution or task was started for the RUNNING run while the run is still RUNNING"),
])
def test_dead_runs_are_orphaned_with_the_reason(the_run, execution, task, reason):
    verdict = assess_run(the_run, execution, task)

    assert verdict.orphaned is True
    assert verdict.reason == reason


def task(run_id="r-1", trading_mode="backtest") -> TaskInfo:
    return TaskInfo(TASK, "RUNNING", "RUNNING", "AWS Step Functions", run_id=run_id, trading_mode=trading_mode)


@pytest.mark.parametrize("status", sorted(contract.TERMINAL))
def test_task_of_a_terminal_run_is_orphaned(status):
    verdict = assess_task(task(), run(status))

    assert verdict.orphaned is True and verdict.reason == f"its run r-1 is {status}"


@pytest.mark.parametrize("status", [contract.SUBMITTED, contract.RUNNING])
def test_task_of_a_live_run_is_kept(status):
    assert assess_task(task(), run(status)).orphaned is False


def test_task_without_a_run_is_orphaned():
    verdict = assess_task(task("r-9"), None)

    assert verdict.orphaned is True and verdict.reason == "its run r-9 does not exist"


@pytest.mark.parametrize("the_task", [task(trading_mode="train"), task(trading_mode=None), task(run_id="")])
def test_tasks_that_are_not_attributable_backtests_are_left_alone(the_task):
    assert assess_task(the_task, None).orphaned is False


def test_task_run_id_comes_from_the_job_id_override_else_started_by():
    def described(started_by, environment):
        return TaskInfo.from_description({
            "taskArn": TASK, "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "startedBy": started_by,
            "overrides": {"containerOverrides": [{"name": "sidecar", "environment": [{"name": "JOB_ID", "value": "x"}]},
                                                 {"name": contract.CONTAINER_NAME, "environment": environment}]}})

    sfn = described("AWS Step Functions", [{"name": "JOB_ID", "value": "r-1"},
                                           {"name": "TRADING_MODE", "value": "backtest"}])
    assert (sfn.run_id, sfn.trading_mode) == ("r-1", "backtest")
    assert described("r-2", []).run_id == "r-2"
    assert described("r-2", []).trading_mode is None


def test_names_derived_from_a_run():
    assert started_by("x" * 40) == "x" * 36
    assert execution_arn("arn:aws:states:eu-central-1:123456789012:stateMachine:wf", "r-1") == (
        "arn:aws:states:eu-central-1:123456789012:execution:wf:r-1")
    assert error_text({"Error": "States.TaskFailed", "Cause": "boom"}) == "States.TaskFailed: boom"
    assert error_text("x" * 5000).endswith("...") and len(error_text("x" * 5000)) == 2000
    assert error_text(None) is None
