"""Spec 2.4, 2.5, 6 and 7: the backtest pipeline's functions, triggers, workflow and grants."""

from __future__ import annotations

import json

import pytest

import spec
from cfn import as_list, ref, resources, statements, tags


def _functions(template) -> dict[str, tuple[str, dict]]:
    """Spec function name (without -env) -> (logical id, properties)."""
    found = {}
    for logical_id, props in resources(template, "AWS::Lambda::Function").items():
        name = props["FunctionName"].rsplit("-", 1)[0]
        found[name] = (logical_id, props)
    return found


def _policy(template, role_logical_id) -> list[dict]:
    return [s for props in resources(template, "AWS::IAM::Policy").values()
            if any(ref(r) == role_logical_id for r in props["Roles"])
            for s in props["PolicyDocument"]["Statement"]]


def _actions(template, function_name) -> set[str]:
    _, fn = _functions(template)[function_name]
    return {a for s in _policy(template, ref(fn["Role"])) for a in as_list(s["Action"])}


def _definition(body) -> dict:
    """The ASL with every CloudFormation token rendered as the string TOKEN."""
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in body["Fn::Join"][1])
    return json.loads(text)


@pytest.mark.parametrize("name", sorted(spec.BACKTEST_LAMBDAS))
def test_each_pipeline_function_has_its_spec_7_row(compute, name):
    env, template = compute
    memory, timeout, in_vpc, _ = spec.BACKTEST_LAMBDAS[name]
    _, fn = _functions(template)[name]
    assert fn["FunctionName"] == f"{name}-{env}"
    assert (fn["Runtime"], fn["MemorySize"], fn["Timeout"]) == (spec.LAMBDA_RUNTIME, memory, timeout)
    assert ("VpcConfig" in fn) is in_vpc
    if in_vpc:
        (group,) = fn["VpcConfig"]["SecurityGroupIds"]
        assert "Lambda" in json.dumps(group)  # the imported tradai-lambda-sg
        assert len(fn["VpcConfig"]["SubnetIds"]) == 2


@pytest.mark.parametrize("name", sorted(spec.BACKTEST_LAMBDAS))
def test_each_pipeline_function_logs_to_its_own_group_with_the_environment_retention(compute, name):
    env, template = compute
    _, fn = _functions(template)[name]
    log_group = resources(template, "AWS::Logs::LogGroup")[ref(fn["LoggingConfig"]["LogGroup"])]
    assert log_group["LogGroupName"] == f"/aws/lambda/{name}-{env}"
    assert log_group["RetentionInDays"] == spec.LOG_RETENTION_DAYS[env]


def test_both_consumers_read_the_backtest_queue_and_exactly_one_mapping_is_enabled(compute):
    env, template = compute
    functions = _functions(template)
    mappings = resources(template, "AWS::Lambda::EventSourceMapping")
    by_function = {ref(m["FunctionName"]): m for m in mappings.values()}
    queue_id = next(lid for lid, q in resources(template, "AWS::SQS::Queue").items()
                    if q["QueueName"] == f"tradai-backtest-queue-{env}.fifo")
    consumers = {name: by_function[functions[name][0]] for name in ("tradai-backtest-consumer", "tradai-sqs-consumer")}
    assert len(mappings) == 2
    for mapping in consumers.values():
        assert ref(mapping["EventSourceArn"]) == queue_id
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    enabled = [name for name, mapping in consumers.items() if mapping.get("Enabled", True)]
    assert enabled == ["tradai-sqs-consumer"]  # BACKEND_EXECUTOR_MODE=stepfunctions in every environment


def test_consumers_honour_spec_2_4_environment(compute):
    env, template = compute
    functions = _functions(template)
    modes = {}
    for name in ("tradai-backtest-consumer", "tradai-sqs-consumer"):
        variables = functions[name][1]["Environment"]["Variables"]
        modes[name] = variables["LAUNCH_MODE"]
        assert variables["ECS_TASK_PREFIX"] == spec.ECS_TASK_PREFIX
        assert variables["TASK_FAMILY"] == f"strategy-container-{env}"
        assert variables["CAPACITY_PROVIDER"] == spec.STRATEGY_CONTAINER[2]
        assert "Fn::GetAtt" in json.dumps(variables["ECS_CLUSTER"])
        assert ref(variables["STEP_FUNCTIONS_ARN"]) in resources(template, "AWS::StepFunctions::StateMachine")
    assert set(modes.values()) == set(spec.CONSUMER_LAUNCH_MODES)
    assert modes == {"tradai-backtest-consumer": "ecs", "tradai-sqs-consumer": "stepfunctions"}


def test_orphan_scanner_runs_every_5_minutes(compute):
    _, template = compute
    scanner_id = _functions(template)["tradai-orphan-scanner"][0]
    rules = [r for r in resources(template, "AWS::Events::Rule").values()
             if any(ref(t["Arn"]) == scanner_id for t in r["Targets"])]
    assert [r["ScheduleExpression"] for r in rules] == [f"rate({spec.BACKTEST_LAMBDAS['tradai-orphan-scanner'][3]} minutes)"]


def test_workflow_runs_the_strategy_task_on_fargate_spot_with_the_spec_overrides_and_waits(compute):
    env, template = compute
    _, props = next(iter(resources(template, "AWS::StepFunctions::StateMachine").items()))
    asl = _definition(props["DefinitionString"])
    run = asl["States"]["RunBacktest"]
    assert run["Resource"].endswith(":states:::ecs:runTask.sync")
    parameters = run["Parameters"]
    assert parameters["CapacityProviderStrategy"] == [{"CapacityProvider": spec.STRATEGY_CONTAINER[2], "Weight": 1}]
    assert "LaunchType" not in parameters
    assert parameters["NetworkConfiguration"]["AwsvpcConfiguration"].get("AssignPublicIp", "DISABLED") == "DISABLED"
    (override,) = parameters["Overrides"]["ContainerOverrides"]
    names = {variable["Name"] for variable in override["Environment"]}
    assert spec.RUN_OVERRIDES <= names
    assert run["TimeoutSeconds"] > 0


def test_every_workflow_task_has_a_timeout_and_failures_go_to_cleanup(compute):
    _, template = compute
    _, props = next(iter(resources(template, "AWS::StepFunctions::StateMachine").items()))
    asl = _definition(props["DefinitionString"])
    assert asl["TimeoutSeconds"] == 180 * 60
    main_path = ("Validate", "MarkRunning", "CollectData", "RunBacktest", "MarkCompleted")
    for name in main_path:
        state = asl["States"][name]
        assert state["TimeoutSeconds"] > 0, name
        assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Cleanup"}], name
    assert asl["States"]["Cleanup"]["Next"] == "MarkFailed"
    assert asl["States"]["NotifyFailed"]["Next"] == "BacktestFailed"
    assert asl["States"]["BacktestFailed"]["Type"] == "Fail"
    retried = {e for r in asl["States"]["CollectData"]["Retry"] for e in r["ErrorEquals"]}
    assert "DataSyncUnavailable" in retried


def test_workflow_logs_everything_with_the_environment_retention_and_traces(compute):
    env, template = compute
    _, props = next(iter(resources(template, "AWS::StepFunctions::StateMachine").items()))
    assert props["StateMachineName"] == f"tradai-backtest-{env}"
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", True)
    (destination,) = logging["Destinations"]
    group = resources(template, "AWS::Logs::LogGroup")[ref(destination["CloudWatchLogsLogGroup"]["LogGroupArn"])]
    assert group["RetentionInDays"] == spec.LOG_RETENTION_DAYS[env]


def test_backend_api_gets_the_state_machine_arn_and_the_queue_in_stepfunctions_mode(compute):
    _, template = compute
    (definition,) = [d for d in resources(template, "AWS::ECS::TaskDefinition").values()
                     if d["ContainerDefinitions"][0]["Name"] == "backend-api"]
    variables = {v["Name"]: v["Value"] for v in definition["ContainerDefinitions"][0]["Environment"]}
    assert variables["BACKEND_EXECUTOR_MODE"] == "stepfunctions"
    assert ref(variables["STEP_FUNCTIONS_ARN"]) in resources(template, "AWS::StepFunctions::StateMachine")
    assert "SQS_QUEUE_URL" in variables


# --- least privilege per function ------------------------------------------------------------------

EXPECTED_ACTIONS = {
    "tradai-sqs-consumer": {"states:StartExecution"},
    "tradai-backtest-consumer": {"ecs:RunTask", "iam:PassRole", "ecs:TagResource", "ecs:ListTasks"},
    "tradai-update-status": set(),
    "tradai-validate-strategy": set(),
    "tradai-notify-completion": {"sns:Publish"},
    "tradai-cleanup-resources": {"ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks"},
    "tradai-orphan-scanner": {"ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks", "states:DescribeExecution"},
    "tradai-data-collection-proxy": set(),
}
NEVER = {"ecs:RunTask": {"tradai-sqs-consumer", "tradai-orphan-scanner", "tradai-cleanup-resources"},
         "states:StartExecution": {"tradai-backtest-consumer", "tradai-orphan-scanner"},
         "iam:PassRole": {"tradai-sqs-consumer", "tradai-orphan-scanner"},
         "dynamodb:PutItem": {"tradai-validate-strategy", "tradai-data-collection-proxy", "tradai-cleanup-resources"}}


@pytest.mark.parametrize("name", sorted(EXPECTED_ACTIONS))
def test_pipeline_function_has_its_grants_and_nothing_it_does_not_use(compute, name):
    _, template = compute
    actions = _actions(template, name)
    assert EXPECTED_ACTIONS[name] <= actions
    for action, forbidden in NEVER.items():
        if name in forbidden:
            assert action not in actions, action
    assert not {a for a in actions if a.endswith(":*") or a == "*"}


def test_run_task_is_limited_to_the_strategy_family_on_this_cluster_and_pass_role_to_ecs(compute):
    env, template = compute
    _, fn = _functions(template)["tradai-backtest-consumer"]
    granted = _policy(template, ref(fn["Role"]))
    (run,) = [s for s in granted if s["Action"] == "ecs:RunTask"]
    assert f"task-definition/strategy-container-{env}:*" in json.dumps(run["Resource"])
    assert "ecs:cluster" in run["Condition"]["ArnEquals"]
    (passrole,) = [s for s in granted if s["Action"] == "iam:PassRole"]
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_workflow_table_writes_only_from_functions_that_record_runs(compute):
    _, template = compute
    writers = {name for name in spec.BACKTEST_LAMBDAS if "dynamodb:UpdateItem" in _actions(template, name)}
    assert writers == {"tradai-backtest-consumer", "tradai-sqs-consumer", "tradai-update-status",
                       "tradai-orphan-scanner", "tradai-notify-completion"}


def test_pipeline_resources_carry_the_service_tag(compute):
    _, template = compute
    functions = _functions(template)
    assert set(spec.BACKTEST_LAMBDAS) <= set(functions)
    for name in spec.BACKTEST_LAMBDAS:
        assert tags(functions[name][1])["Service"] == "backtest-pipeline", name
