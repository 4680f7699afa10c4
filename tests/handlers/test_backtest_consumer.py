"""`backtest.consumer.handler` against moto: SQS FIFO batches -> ECS RunTask or Step Functions StartExecution."""

from __future__ import annotations

import json

import pytest

from backtest import consumer, contract
from shared.settings import SettingsError

from .backtest_fixtures import (Context, IDEMPOTENCY_TABLE, TASK_FAMILY, WORKFLOW_TABLE, backtest_env, backtest_tables,  # noqa: F401
                                backtest_logs, cold_start, ecs_tasks_stay_running, emf_metrics, error_logs,
                                request_body, sqs_event, sqs_record)


def invoke(event, context=None):
    return consumer.handler(event, context or Context())


def failures(response) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def by_trace_id(env, trace_id: str) -> list[dict]:
    items = env.dynamodb.query(TableName=WORKFLOW_TABLE, IndexName="trace_id-index",
                               KeyConditionExpression="trace_id = :t",
                               ExpressionAttributeValues={":t": {"S": trace_id}})["Items"]
    return [{key: next(iter(value.values())) for key, value in item.items()} for item in items]


# --- ecs launch mode ---------------------------------------------------------------------------------

def test_fifo_record_launches_one_ecs_task_and_records_running(backtest_env, capsys):
    run_tasks = backtest_env.record_calls("ecs", "RunTask")
    body = request_body()
    record = sqs_record(body, trace_id="trace-7f3a9c", group="user-42")

    response = invoke(sqs_event(record))

    assert response == {"batchItemFailures": []}
    assert len(run_tasks) == 1
    call = run_tasks[0]
    assert call["cluster"] == backtest_env.cluster_arn
    assert call["taskDefinition"] == TASK_FAMILY
    assert call["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert "launchType" not in call
    assert call["networkConfiguration"] == {"awsvpcConfiguration": {
        "subnets": backtest_env.subnet_ids, "securityGroups": [backtest_env.security_group_id],
        "assignPublicIp": "DISABLED"}}
    assert call["startedBy"] == body["job_id"]
    assert call["propagateTags"] == "TASK_DEFINITION"
    container = call["overrides"]["containerOverrides"]
    assert [c["name"] for c in container] == [contract.CONTAINER_NAME]
    assert {e["name"]: e["value"] for e in container[0]["environment"]} == {
        "JOB_ID": body["job_id"], "STRATEGY": "PascalStrategy", "STRATEGY_ID": "pascal-btc",
        "TRADING_MODE": "backtest", "TIMEFRAME": "1h", "TIMERANGE": "20240101-20240301",
        "PAIRS": "BTC/USDT,ETH/USDT", "EXPERIMENT_NAME": "momentum-q1", "TRACE_ID": "trace-7f3a9c"}

    [task] = backtest_env.tasks()
    assert task["startedBy"] == body["job_id"]
    run = backtest_env.run(body["job_id"])
    assert run["status"] == contract.RUNNING
    assert run["task_arn"] == task["taskArn"]
    assert run["job_id"] == body["job_id"] and run["trace_id"] == "trace-7f3a9c"
    assert run["pairs"] == ["BTC/USDT", "ETH/USDT"] and run["strategy"] == "PascalStrategy"
    assert run["created_at"].endswith("Z") and len(run["created_at"]) == len("2026-12-01T05:30:00.123Z")
    assert run["ttl"] > 0
    [indexed] = by_trace_id(backtest_env, "trace-7f3a9c")
    assert indexed["run_id"] == body["job_id"] and indexed["status"] == contract.RUNNING
    assert emf_metrics(capsys).get("BacktestSubmitted") == 1


def test_trace_id_falls_back_from_body_to_message_attribute_to_message_id(backtest_env):
    in_body = request_body(trace_id="from-body")
    from_attribute = request_body()
    from_id = request_body()
    record = sqs_record(from_id, message_id="5b1a7c4e-aaaa-4bbb-8ccc-000000000001")

    invoke(sqs_event(sqs_record(in_body, trace_id="from-attribute"), sqs_record(from_attribute, trace_id="from-attr"),
                     record))

    assert backtest_env.run(in_body["job_id"])["trace_id"] == "from-body"
    assert backtest_env.run(from_attribute["job_id"])["trace_id"] == "from-attr"
    assert backtest_env.run(from_id["job_id"])["trace_id"] == record["messageId"]


# --- stepfunctions launch mode -------------------------------------------------------------------------

def test_stepfunctions_mode_starts_one_execution_named_after_the_run(backtest_tables, capsys):
    backtest_tables.set_env(LAUNCH_MODE="stepfunctions", ECS_CLUSTER=None, TASK_SUBNETS=None)
    run_tasks = backtest_tables.record_calls("ecs", "RunTask")
    body = request_body(strategy_id=None)

    response = invoke(sqs_event(sqs_record(body, trace_id="trace-sfn-1")))

    assert response == {"batchItemFailures": []}
    [execution] = backtest_tables.executions()
    assert execution["name"] == body["job_id"]
    assert json.loads(execution["input"]) == {
        "run_id": body["job_id"], "job_id": body["job_id"], "trace_id": "trace-sfn-1",
        "strategy": "PascalStrategy", "strategy_id": "pascalstrategy", "trading_mode": "backtest",
        "timeframe": "1h", "timerange": "20240101-20240301", "pairs": "BTC/USDT,ETH/USDT",
        "experiment_name": "momentum-q1"}
    run = backtest_tables.run(body["job_id"])
    assert run["execution_arn"] == execution["executionArn"]
    assert run["status"] == contract.SUBMITTED  # the state machine moves it on (update-status)
    assert run_tasks == []
    assert emf_metrics(capsys).get("BacktestSubmitted") == 1


def test_stepfunctions_mode_treats_an_existing_execution_as_a_duplicate(backtest_tables):
    backtest_tables.set_env(LAUNCH_MODE="stepfunctions")
    body = request_body()
    invoke(sqs_event(sqs_record(body, trace_id="first")))
    # the run record is lost too (e.g. restored table): only the execution name stops a second launch
    backtest_tables.dynamodb.delete_item(TableName=WORKFLOW_TABLE, Key={"run_id": {"S": body["job_id"]}})
    for item in backtest_tables.dynamodb.scan(TableName=IDEMPOTENCY_TABLE)["Items"]:
        backtest_tables.dynamodb.delete_item(TableName=IDEMPOTENCY_TABLE,
                                          Key={"idempotency_key": item["idempotency_key"]})

    response = invoke(sqs_event(sqs_record(body, trace_id="second")))

    assert response == {"batchItemFailures": []}
    [execution] = backtest_tables.executions()
    assert backtest_tables.run(body["job_id"])["execution_arn"] == execution["executionArn"]


# --- duplicates -----------------------------------------------------------------------------------------

def test_duplicate_job_id_in_one_batch_and_across_batches_launches_once(backtest_env, backtest_logs):
    body = request_body()
    first, again = sqs_record(body, group="g1"), sqs_record(body, group="g2")

    assert invoke(sqs_event(first, again)) == {"batchItemFailures": []}
    assert invoke(sqs_event(sqs_record(body, group="g1"))) == {"batchItemFailures": []}

    assert len(backtest_env.tasks()) == 1
    assert backtest_env.run(body["job_id"])["status"] == contract.RUNNING
    assert any("duplicate" in r.getMessage() for r in backtest_logs.records)


def test_duplicate_is_caught_by_the_run_record_when_the_idempotency_record_expired(backtest_env, backtest_logs):
    body = request_body()
    invoke(sqs_event(sqs_record(body)))
    for item in backtest_env.dynamodb.scan(TableName=IDEMPOTENCY_TABLE)["Items"]:
        backtest_env.dynamodb.delete_item(TableName=IDEMPOTENCY_TABLE,
                                          Key={"idempotency_key": item["idempotency_key"]})

    assert invoke(sqs_event(sqs_record(body))) == {"batchItemFailures": []}

    assert len(backtest_env.tasks()) == 1
    assert any("the run exists already" in r.getMessage() for r in backtest_logs.records)


def test_idempotency_record_is_keyed_by_job_id(backtest_env):
    body = request_body()
    invoke(sqs_event(sqs_record(body)))

    [item] = backtest_env.dynamodb.scan(TableName=IDEMPOTENCY_TABLE)["Items"]
    assert item["idempotency_key"]["S"].startswith(consumer.IDEMPOTENCY_KEY_PREFIX + "#")
    assert item["status"]["S"] == "COMPLETED"
    assert int(item["expiration"]["N"]) > 0


# --- malformed messages -----------------------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ('{"job_id": "not json', "body"),
    (request_body(strategy=None), "strategy"),
    (request_body(timerange="20240301-20240101"), "timerange"),
    (request_body(pairs=["BTC/USDT", "btc-usdt"]), "pairs"),
], ids=["bad-json", "missing-strategy", "bad-timerange", "bad-pair"])
def test_malformed_record_fails_its_group_in_fifo_order_and_other_groups_go_on(
        backtest_env, backtest_logs, capsys, body, field):
    bad = sqs_record(body, group="group-a")
    after_bad = request_body()
    other_group = request_body()
    records = [bad, sqs_record(after_bad, group="group-a"), sqs_record(other_group, group="group-b")]

    response = invoke(sqs_event(*records))

    assert failures(response) == [records[0]["messageId"], records[1]["messageId"]]
    assert backtest_env.run(after_bad["job_id"]) is None  # not processed: FIFO order is kept
    assert backtest_env.run(other_group["job_id"])["status"] == contract.RUNNING
    assert len(backtest_env.tasks()) == 1
    [log] = error_logs(backtest_logs)
    assert log.field == field and f"{field}=" in log.getMessage()
    assert log.message_id == bad["messageId"] and log.message_group_id == "group-a"
    assert emf_metrics(capsys).get("InvalidBacktestRequest") == 1


def test_a_batch_of_only_malformed_records_reports_each_of_them(backtest_tables):
    records = [sqs_record("[]", group="a"), sqs_record("", group="b")]

    response = invoke(sqs_event(*records))

    assert failures(response) == [r["messageId"] for r in records]


# --- launch failures -----------------------------------------------------------------------------------------

def test_runtask_failures_response_marks_the_run_failed_without_a_batch_failure(backtest_env, backtest_logs, capsys):
    reason = "Capacity is unavailable at this time. Please try again later or in a different availability zone"
    backtest_env.fail("ecs", "RunTask", "", response={"tasks": [], "failures": [
        {"arn": backtest_env.cluster_arn, "reason": reason}]})
    body = request_body()

    response = invoke(sqs_event(sqs_record(body)))

    assert response == {"batchItemFailures": []}
    run = backtest_env.run(body["job_id"])
    assert run["status"] == contract.FAILED
    assert reason in run["error"]
    assert "task_arn" not in run
    assert emf_metrics(capsys).get("BacktestLaunchFailed") == 1
    assert any(r.getMessage().startswith("backtest launch failed") for r in error_logs(backtest_logs))


def test_refused_runtask_marks_the_run_failed(backtest_env):
    backtest_env.fail("ecs", "RunTask", "AccessDeniedException")
    body = request_body()

    assert invoke(sqs_event(sqs_record(body))) == {"batchItemFailures": []}

    run = backtest_env.run(body["job_id"])
    assert run["status"] == contract.FAILED and "AccessDeniedException" in run["error"]


def test_throttled_runtask_is_a_batch_failure_then_the_retry_launches(backtest_env, backtest_logs):
    throttled = backtest_env.fail("ecs", "RunTask", "ThrottlingException")
    body = request_body()
    record = sqs_record(body)

    assert failures(invoke(sqs_event(record))) == [record["messageId"]]
    assert throttled == [1]
    assert backtest_env.run(body["job_id"])["status"] == contract.SUBMITTED
    assert backtest_env.tasks() == []

    retried = invoke(sqs_event(sqs_record(body, receive_count=2, message_id=record["messageId"])))

    assert retried == {"batchItemFailures": []}
    assert len(backtest_env.tasks()) == 1
    assert backtest_env.run(body["job_id"])["status"] == contract.RUNNING


def test_retry_after_a_lost_status_write_adopts_the_started_task(backtest_env):
    run_tasks = backtest_env.record_calls("ecs", "RunTask")
    backtest_env.fail("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException")  # RUNNING write
    body = request_body()
    record = sqs_record(body)

    assert failures(invoke(sqs_event(record))) == [record["messageId"]]
    assert backtest_env.run(body["job_id"])["status"] == contract.SUBMITTED

    assert invoke(sqs_event(record)) == {"batchItemFailures": []}

    assert len(run_tasks) == 1
    [task] = backtest_env.tasks()
    run = backtest_env.run(body["job_id"])
    assert run["status"] == contract.RUNNING and run["task_arn"] == task["taskArn"]


def test_resumed_launch_without_list_tasks_permission_still_launches(backtest_env, backtest_logs):
    backtest_env.fail("ecs", "RunTask", "ThrottlingException")
    backtest_env.fail("ecs", "ListTasks", "AccessDeniedException")
    body = request_body()
    record = sqs_record(body)
    invoke(sqs_event(record))

    assert invoke(sqs_event(record)) == {"batchItemFailures": []}

    assert len(backtest_env.tasks()) == 1
    assert backtest_env.run(body["job_id"])["status"] == contract.RUNNING
    assert any("needs ecs:ListTasks" in r.getMessage() for r in backtest_logs.records)


def test_throttled_start_execution_is_a_batch_failure(backtest_tables):
    backtest_tables.set_env(LAUNCH_MODE="stepfunctions")
    backtest_tables.fail("sfn", "StartExecution", "ThrottlingException")
    body = request_body()
    record = sqs_record(body)

    assert failures(invoke(sqs_event(record))) == [record["messageId"]]
    assert backtest_tables.executions() == []
    assert backtest_tables.run(body["job_id"])["status"] == contract.SUBMITTED


# --- settings ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, variable", [
    ({"LAUNCH_MODE": "lambda"}, "LAUNCH_MODE"),
    ({"WORKFLOW_STATE_TABLE": None}, "WORKFLOW_STATE_TABLE"),
    ({"IDEMPOTENCY_TABLE": " "}, "IDEMPOTENCY_TABLE"),
    ({"RUN_TTL_DAYS": "0"}, "RUN_TTL_DAYS"),
    ({"TASK_SUBNETS": "subnet-1,default"}, "TASK_SUBNETS"),
    ({"ECS_TASK_PREFIX": "live-"}, "ECS_TASK_PREFIX"),
    ({"CAPACITY_PROVIDER": None}, "CAPACITY_PROVIDER"),
    ({"LAUNCH_MODE": "stepfunctions", "STEP_FUNCTIONS_ARN": None}, "STEP_FUNCTIONS_ARN"),
], ids=lambda value: "-".join(value) if isinstance(value, dict) else value)
def test_invalid_settings_fail_the_invocation_naming_the_variable(backtest_tables, changes, variable):
    backtest_tables.set_env(**changes)
    body = request_body()
    record = sqs_record(body)

    with pytest.raises(SettingsError) as raised:
        invoke(sqs_event(record))

    assert raised.value.name == variable
    assert str(raised.value).startswith(f"configuration error: {variable}=")
    assert "allowed:" in str(raised.value)
    assert backtest_tables.run(body["job_id"]) is None


def test_stepfunctions_mode_does_not_need_the_ecs_variables(backtest_tables):
    backtest_tables.set_env(LAUNCH_MODE="stepfunctions", ECS_CLUSTER=None, TASK_FAMILY=None, CAPACITY_PROVIDER=None,
                         TASK_SUBNETS=None, TASK_SECURITY_GROUPS=None, ECS_TASK_PREFIX=None)

    assert consumer.settings().ecs is None
    assert consumer.settings().state_machine_arn == backtest_tables.state_machine_arn


def test_launch_mode_defaults_to_ecs(backtest_tables):
    backtest_tables.set_env(LAUNCH_MODE=None, ECS_TASK_PREFIX=None)

    assert consumer.settings().launch_mode == contract.LAUNCH_ECS
    assert consumer.settings().ecs.task_family == TASK_FAMILY
