"""Issue 13: the operations and ML lifecycle functions' grants, settings and the retraining workflow."""

from __future__ import annotations

import json

import pytest

import spec
from cfn import as_list, ref, resources

DATA_READS = {"s3:GetObject", "s3:GetObjectVersion", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
              "dynamodb:Scan", "secretsmanager:GetSecretValue", "ssm:GetParameter", "kms:Decrypt", "logs:GetLogEvents",
              "sqs:ReceiveMessage"}
WRITE_VERBS = ("Put", "Create", "Delete", "Update", "Modify", "Attach", "Detach", "Tag", "Untag", "Start", "Stop",
               "Invoke", "Send", "Publish", "Associate", "Replace", "Run", "Pass")


def _function(template, name):
    return next((key, props) for key, props in resources(template, "AWS::Lambda::Function").items()
                if props["FunctionName"] == name)


def _statements(template, role_logical_id) -> list[dict]:
    return [s for props in resources(template, "AWS::IAM::Policy").values()
            if any(ref(r) == role_logical_id for r in props["Roles"]) for s in props["PolicyDocument"]["Statement"]]


def _granted(template, name) -> list[dict]:
    _, fn = _function(template, name)
    return _statements(template, ref(fn["Role"]))


def _actions(statements) -> set[str]:
    return {action for s in statements for action in as_list(s["Action"])}


def _env(template, name) -> dict:
    return _function(template, name)[1]["Environment"]["Variables"]


def test_health_check_discovers_instances_only_in_this_environments_namespace(compute):
    env, template = compute
    (discover,) = [s for s in _granted(template, f"tradai-health-check-{env}")
                   if "servicediscovery:DiscoverInstances" in as_list(s["Action"])]
    assert discover["Condition"] == {"StringEquals": {"servicediscovery:NamespaceName": f"tradai-{env}.local"}}
    variables = _env(template, f"tradai-health-check-{env}")
    targets = {t["service"]: (t["port"], t["path"]) for t in json.loads(variables["HEALTH_TARGETS"])}
    assert targets == {name: (row[2], row[3]) for name, row in spec.SERVICES.items()}


def test_infra_drift_detector_reads_configuration_only(compute):
    env, template = compute
    granted = _granted(template, f"tradai-infra-drift-detector-{env}")
    assert "cloudformation:DetectStackDrift" in _actions(granted)
    # Everything granted on "*" is a configuration read: no data reads, no writes of any kind.
    anywhere = _actions([s for s in granted if s["Resource"] == "*"])
    assert "ec2:Describe*" in anywhere and "s3:GetBucket*" in anywhere
    assert not anywhere & DATA_READS
    writes = {a for a in anywhere if a.split(":")[1].startswith(WRITE_VERBS)}
    assert writes <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "ec2:CreateNetworkInterface"}, writes
    (detect,) = [s for s in granted if "cloudformation:DetectStackDrift" in as_list(s["Action"])]
    stacks = {json.dumps(resource).split("stack/")[1].split("/")[0] for resource in as_list(detect["Resource"])}
    assert stacks == {f"tradai-{tier}-{env}" for tier in ("foundation", "persistent", "compute", "edge")}


def test_infra_drift_detector_never_reports_the_runtime_managed_private_route_table(synthesized, compute):
    env, template = compute
    variables = _env(template, f"tradai-infra-drift-detector-{env}")
    assert variables["STACK_NAMES"].split(",") == [f"tradai-{t}-{env}" for t in
                                                   ("foundation", "persistent", "compute", "edge")]
    (managed,) = variables["RUNTIME_MANAGED"].split(",")
    stack, logical_id = managed.split("/")
    foundation = synthesized[(env, "foundation")].json
    assert stack == f"tradai-foundation-{env}"
    table = foundation["Resources"][logical_id]
    assert table["Type"] == "AWS::EC2::RouteTable"
    private = [props for props in resources(foundation, "AWS::EC2::SubnetRouteTableAssociation").values()
               if ref(props["RouteTableId"]) == logical_id]
    assert len(private) == 2  # Private-1 and Private-2
    # The NAT default route is not a template resource, so drift detection cannot flag it either.
    assert not [r for r in resources(foundation, "AWS::EC2::Route").values() if ref(r["RouteTableId"]) == logical_id]


@pytest.mark.parametrize("name", ["drift-monitor", "retraining-scheduler", "check-retraining-needed",
                                  "compare-models", "promote-model", "model-rollback"])
def test_ml_functions_reach_mlflow_through_cloud_map_with_only_its_secret(compute, name):
    env, template = compute
    variables = _env(template, f"tradai-{name}-{env}")
    assert variables["MLFLOW_TRACKING_URI"] == f"http://mlflow.tradai-{env}.local:5000/mlflow"
    secrets = [s for s in _granted(template, f"tradai-{name}-{env}")
               if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
    assert len(secrets) == 1 and "MlflowCredentials" in json.dumps(secrets[0]["Resource"])


def test_drift_monitor_reads_only_the_drift_inputs_of_the_results_bucket(compute):
    env, template = compute
    reads = [s for s in _granted(template, f"tradai-drift-monitor-{env}") if "s3:GetObject" in as_list(s["Action"])]
    assert [s["Resource"] for s in reads] == [f"arn:aws:s3:::tradai-results-{env}/drift/*"]
    (listing,) = [s for s in _granted(template, f"tradai-drift-monitor-{env}") if "s3:ListBucket" in as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["drift/*"]}}
    assert not {"s3:PutObject", "s3:DeleteObject"} & _actions(_granted(template, f"tradai-drift-monitor-{env}"))


def test_backend_api_may_invoke_exactly_the_model_rollback_function(compute):
    env, template = compute
    rollback_id, _ = _function(template, f"tradai-model-rollback-{env}")
    role_id = next(key for key in resources(template, "AWS::IAM::Role") if key.startswith("BackendApiTaskRole"))
    invokes = [s for s in _statements(template, role_id) if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert len(invokes) == 1
    assert {ref(r) if isinstance(r, dict) and ("Ref" in r or "Fn::GetAtt" in r) else rollback_id
            for r in as_list(invokes[0]["Resource"])} == {rollback_id}
    assert rollback_id in json.dumps(invokes[0]["Resource"])
    container = next(props for props in resources(template, "AWS::ECS::TaskDefinition").values()
                     if props["Family"] == f"tradai-backend-api-{env}")["ContainerDefinitions"][0]
    variables = {v["Name"]: v["Value"] for v in container["Environment"]}
    assert ref(variables["MODEL_ROLLBACK_FUNCTION"]) == rollback_id


def test_only_the_scheduler_starts_the_retraining_workflow(compute):
    env, template = compute
    starters = [props["FunctionName"] for key, props in resources(template, "AWS::Lambda::Function").items()
                if any("states:StartExecution" in as_list(s["Action"]) and "Retraining" in json.dumps(s["Resource"])
                       for s in _statements(template, ref(props["Role"])))]
    assert starters == [f"tradai-retraining-scheduler-{env}"]


def _retraining(template):
    machine = next(props for props in resources(template, "AWS::StepFunctions::StateMachine").values()
                   if props["StateMachineName"].startswith("tradai-retraining-"))
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in machine["DefinitionString"]["Fn::Join"][1])
    return machine, json.loads(text)


def test_retraining_trains_compares_shadow_tests_and_promotes_only_when_better(compute):
    env, template = compute
    machine, definition = _retraining(template)
    states = definition["States"]
    assert definition["StartAt"] == "CheckRetrainingNeeded"
    assert states["CheckRetrainingNeeded"]["Next"] == "RetrainingNeeded?"
    assert states["RetrainingNeeded?"]["Choices"][0]["Next"] == "Train"
    train = {e["Name"]: e.get("Value", e.get("Value.$"))
             for e in states["Train"]["Parameters"]["Overrides"]["ContainerOverrides"][0]["Environment"]}
    assert train["TRADING_MODE"] == "train"
    assert states["Train"]["Resource"].endswith("ecs:runTask.sync")
    assert states["Train"]["Next"] == "CompareCandidate"
    assert states["ChallengerBetter?"]["Choices"][0] == {"Variable": "$.candidate.better", "BooleanEquals": True,
                                                         "Next": "ShadowTest"}
    assert states["ChallengerBetter?"]["Default"] == "NotifyRejected"
    assert states["ShadowTest"]["Next"] == "CompareShadow"
    assert states["ShadowPassed?"]["Choices"][0]["Next"] == "PromoteModel"
    assert states["PromoteModel"]["Next"] == "NotifyPromoted"
    for step in ("CheckRetrainingNeeded", "Train", "CompareCandidate", "ShadowTest", "CompareShadow", "PromoteModel"):
        assert states[step]["Catch"][0]["Next"] == "MarkFailed", step
        assert "TimeoutSeconds" in states[step], step
    assert definition["TimeoutSeconds"] == 12 * 3600  # timeout of the whole run


def test_a_failed_retraining_is_marked_failed_only_if_the_run_still_owns_the_model(compute):
    env, template = compute
    _, definition = _retraining(template)
    mark = definition["States"]["MarkFailed"]
    assert mark["Resource"].endswith("aws-sdk:dynamodb:updateItem")
    assert mark["Parameters"]["ConditionExpression"] == "retraining_id = :id"
    assert mark["Next"] == "NotifyFailed" and mark["Catch"][0]["Next"] == "NotifyFailed"
    assert definition["States"]["NotifyFailed"]["Next"] == "RetrainingFailed"


@pytest.mark.parametrize("table", spec.AUDIT_TABLES_WITHOUT_TTL)
def test_audit_tables_keep_their_records(persistent, table):
    env, template = persistent
    props = next(p for p in resources(template, "AWS::DynamoDB::Table").values() if p["TableName"] == f"{table}-{env}")
    assert "TimeToLiveSpecification" not in props
