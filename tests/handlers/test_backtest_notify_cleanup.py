"""notify-completion and cleanup-resources (Step Functions tasks) against moto."""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import ClientError

from backtest import cleanup_resources, notify_completion
from shared.settings import SettingsError

from .backtest_fixtures import (NOTIFICATIONS_TABLE, Context, backtest_env, backtest_logs,  # noqa: F401
                                backtest_tables, cold_start, ecs_tasks_stay_running)


def notify(**event):
    return notify_completion.handler(event, Context(function_name="tradai-notify-completion-dev"))


def cleanup(**event):
    return cleanup_resources.handler(event, Context(function_name="tradai-cleanup-resources-dev"))


def notifications(env) -> list[dict]:
    items = env.dynamodb.scan(TableName=NOTIFICATIONS_TABLE)["Items"]
    return [{key: next(iter(value.values())) for key, value in item.items()} for item in items]


# --- notify-completion --------------------------------------------------------------------------------------------

def test_completed_run_is_recorded_once_without_an_alert(backtest_tables):
    run_id = str(uuid.uuid4())
    event = {"run_id": run_id, "status": "COMPLETED", "trace_id": "trace-1", "strategy": "PascalStrategy"}

    assert notify(**event) == {"notified": True, "duplicate": False}
    assert notify(**event) == {"notified": True, "duplicate": True}

    [item] = notifications(backtest_tables)
    assert item["notification_id"] == f"{run_id}#COMPLETED"
    assert (item["run_id"], item["status"], item["trace_id"]) == (run_id, "COMPLETED", "trace-1")
    assert item["created_at"].endswith("Z")
    expected = time.time() + 30 * 24 * 3600
    assert abs(int(item["expire_at"]) - expected) < 60
    assert backtest_tables.alerts() == []


def test_failed_run_publishes_one_alert(backtest_tables):
    run_id = str(uuid.uuid4())
    event = {"run_id": run_id, "status": "FAILED", "trace_id": "trace-2", "strategy": "PascalStrategy",
             "error": {"Error": "States.TaskFailed", "Cause": "Essential container in task exited"}}

    assert notify(**event) == {"notified": True, "duplicate": False}
    assert notify(**event) == {"notified": True, "duplicate": True}

    [alert] = backtest_tables.alerts()
    assert alert["Subject"] == f"TradAI backtest {run_id} FAILED"
    assert run_id in alert["Message"] and "States.TaskFailed: Essential container in task exited" in alert["Message"]
    assert "trace_id: trace-2" in alert["Message"]
    assert alert["TopicArn"] == backtest_tables.topic_arn
    [item] = notifications(backtest_tables)
    assert item["alert_sent_at"] and item["alert_message_id"] == alert["MessageId"]


def test_alert_lost_to_a_publish_error_is_sent_by_the_retry(backtest_tables):
    backtest_tables.fail("sns", "Publish", "InternalErrorException")  # also throttling, 5xx
    event = {"run_id": str(uuid.uuid4()), "status": "FAILED", "trace_id": "t", "strategy": "PascalStrategy"}

    with pytest.raises(ClientError, match="InternalErrorException"):
        notify(**event)
    assert backtest_tables.alerts() == []

    assert notify(**event) == {"notified": True, "duplicate": True}
    assert len(backtest_tables.alerts()) == 1
    assert notify(**event) == {"notified": True, "duplicate": True}
    assert backtest_tables.alerts() == []


def test_each_status_of_a_run_is_its_own_notification(backtest_tables):
    run_id = str(uuid.uuid4())
    notify(run_id=run_id, status="COMPLETED", trace_id="t", strategy="S")
    notify(run_id=run_id, status="CANCELLED", trace_id="t", strategy="S")

    assert sorted(item["notification_id"] for item in notifications(backtest_tables)) == [
        f"{run_id}#CANCELLED", f"{run_id}#COMPLETED"]


@pytest.mark.parametrize("event, field", [
    ({"status": "FAILED"}, "run_id"),
    ({"run_id": "r", "status": "failed"}, "status"),
])
def test_notify_rejects_malformed_input_naming_the_field(backtest_tables, event, field):
    with pytest.raises(ValueError, match=f"^{field}="):
        notify(**event)


def test_notify_needs_the_alerts_topic(backtest_tables):
    backtest_tables.set_env(ALERTS_TOPIC_ARN="tradai-alerts-dev")

    with pytest.raises(SettingsError, match="ALERTS_TOPIC_ARN='tradai-alerts-dev'; allowed: an SNS topic ARN"):
        notify(run_id="r", status="FAILED")


# --- cleanup-resources --------------------------------------------------------------------------------------------

def test_cleanup_stops_the_runs_task_found_by_started_by(backtest_env):
    run_id = str(uuid.uuid4())
    task_arn = backtest_env.run_task(run_id)
    other = backtest_env.run_task(str(uuid.uuid4()))

    result = cleanup(run_id=run_id, error={"Error": "States.Timeout", "Cause": "..."})

    assert result == {"stopped": [task_arn]}
    stopped = {t["taskArn"]: t for t in backtest_env.tasks(desired_status="STOPPED")}
    assert stopped[task_arn]["stoppedReason"] == f"backtest {run_id} failed: States.Timeout"
    assert [t["taskArn"] for t in backtest_env.tasks()] == [other]


def test_cleanup_stops_the_task_named_in_the_input_and_is_idempotent(backtest_env):
    run_id = str(uuid.uuid4())
    task_arn = backtest_env.run_task(run_id)
    event = {"run_id": run_id, "task": {"TaskArn": task_arn, "LastStatus": "RUNNING"},
             "error": {"Error": "States.TaskFailed", "Cause": "{}"}}

    assert cleanup(**event) == {"stopped": [task_arn]}
    assert cleanup(**event) == {"stopped": [task_arn]}  # stopping a stopped task is accepted
    assert cleanup(run_id=run_id) == {"stopped": []}  # nothing RUNNING is left
    assert backtest_env.tasks() == []


def test_cleanup_finds_a_task_the_state_machine_started_by_its_job_id(backtest_env):
    run_id = str(uuid.uuid4())
    task_arn = backtest_env.run_task(run_id, started_by="AWS Step Functions")
    other = backtest_env.run_task(str(uuid.uuid4()), started_by="AWS Step Functions")

    assert cleanup(run_id=run_id, error={"Error": "States.Timeout"}) == {"stopped": [task_arn]}
    assert [t["taskArn"] for t in backtest_env.tasks()] == [other]


def test_cleanup_skips_a_task_ecs_no_longer_knows(backtest_env):
    backtest_env.fail("ecs", "StopTask", "InvalidParameterException", message="The referenced task was not found.")
    arn = "arn:aws:ecs:eu-central-1:123456789012:task/tradai-dev/00000000000000000000000000000000"

    assert cleanup(run_id="r-1", task={"TaskArn": arn}) == {"stopped": []}


def test_cleanup_requires_the_run_id(backtest_tables):
    with pytest.raises(ValueError, match="^run_id="):
        cleanup(task={"TaskArn": "arn:aws:ecs:eu-central-1:123456789012:task/tradai-dev/x"})
