"""Fast tests of the local emulator harness: report classification, assembly reading, moto patches.

No cdk CLI and no server: the patches are exercised on moto in-process.
"""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws
from moto.ecs.models import ecs_backends

from local_emulator import patches
from local_emulator.assembly import stage_stacks
from local_emulator.report import STACK_ROW, Status, classify, has_failures
from local_emulator.smoke.model import Findings

RESOURCES = {
    "Vpc": "AWS::EC2::VPC",
    "Sg": "AWS::EC2::SecurityGroup",
    "Egress": "AWS::EC2::SecurityGroupEgress",
    "Role": "AWS::IAM::Role",
    "Subnet": "AWS::EC2::Subnet",
    "Db": "AWS::RDS::DBInstance",
    "Queue": "AWS::SQS::Queue",
    "Consumer": "AWS::Lambda::Function",
}


def test_every_resource_gets_one_status_and_unverifiable_ones_are_never_verified():
    findings = Findings()
    findings.expect("Vpc", "CIDR", "10.0.0.0/16", "10.0.0.0/16")
    findings.dropped("Vpc", "EnableDnsHostnames", True, True)  # template right, moto does not apply it
    findings.ok("Sg", "name tradai-alb-sg")
    findings.not_kept("Sg", "egress rules (2 in config)")
    findings.expect("Subnet", "CIDR", "10.0.1.0/24", "10.0.9.0/24")
    findings.dropped("Role", "MaxSessionDuration", 3600, 7200)  # template wrong: a failure, not "not kept"
    findings.missing("security group tradai-rds-sg")
    findings.expect(None, "NAT gateways in the VPC", 0, 0)

    rows = classify(RESOURCES, deployed={"Vpc", "Sg", "Role", "Subnet"},
                    supported=lambda t: t != "AWS::EC2::SecurityGroupEgress", findings=findings.items,
                    faults={"Db": "AttributeError: boom"}, blocked={"Consumer": "needs Fn::GetAtt of X"})
    status = {row.logical_id: row.status for row in rows if row.logical_id != STACK_ROW}

    assert status == {
        "Vpc": Status.CREATED, "Sg": Status.CREATED, "Egress": Status.IGNORED, "Role": Status.FAILED,
        "Subnet": Status.FAILED, "Db": Status.MISSING, "Queue": Status.MISSING, "Consumer": Status.IGNORED,
    }
    by_id = {row.logical_id: row for row in rows}
    assert "EnableDnsHostnames" in by_id["Vpc"].detail and "verified: CIDR 10.0.0.0/16" in by_id["Vpc"].detail
    assert "MaxSessionDuration in the template: expected 3600, got 7200" in by_id["Role"].detail
    assert "AttributeError: boom" in by_id["Db"].detail
    assert "expected 10.0.1.0/24, got 10.0.9.0/24" in by_id["Subnet"].detail
    assert [(r.status, r.detail) for r in rows if r.logical_id == STACK_ROW] == [
        (Status.MISSING, "security group tradai-rds-sg"), (Status.VERIFIED, "NAT gateways in the VPC 0")]
    assert has_failures({"stack": rows})
    assert not has_failures({"stack": [r for r in rows if r.status not in (Status.FAILED, Status.MISSING)]})


def test_stage_stacks_reads_the_stage_assembly(tmp_path):
    stage = tmp_path / "assembly-TradaiDev"
    stage.mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {
        "Tree": {"type": "cdk:tree"},
        "assembly-TradaiDev": {"type": "cdk:cloud-assembly",
                               "properties": {"directoryName": stage.name, "displayName": "TradaiDev"}}}}))
    (stage / "manifest.json").write_text(json.dumps({"artifacts": {
        "F.assets": {"type": "cdk:asset-manifest"},
        "F": {"type": "aws:cloudformation:stack", "displayName": "TradaiDev/Foundation",
              "properties": {"templateFile": "F.template.json", "stackName": "tradai-foundation-dev"}}}}))
    (stage / "F.template.json").write_text(json.dumps({"Resources": {"Vpc": {"Type": "AWS::EC2::VPC"}}}))

    [stack] = stage_stacks(tmp_path, "TradaiDev")

    assert (stack.construct_id, stack.stack_name, stack.directory) == ("Foundation", "tradai-foundation-dev", stage)
    assert stack.resources == {"Vpc": {"Type": "AWS::EC2::VPC"}}


@pytest.fixture
def patched_moto(monkeypatch):
    """moto in-process with the harness patches, undone after the test."""
    for owner, attribute, replacement in patches.PATCHES:
        monkeypatch.setattr(owner, attribute, replacement, raising=False)
    for record in (patches.FAULTS, patches.BLOCKED, patches.SKIPPED_OUTPUTS, patches.LIFECYCLE_ACTIONS):
        record.clear()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        yield tuple(boto3.client(service, region_name="eu-central-1") for service in ("cloudformation", "ec2"))


@pytest.mark.filterwarnings("ignore:Tried to parse")
def test_patches_resolve_weak_references_and_name_what_moto_cannot_build(patched_moto):
    cloudformation, ec2 = patched_moto
    producer = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Alarm": {"Type": "AWS::AppSync::GraphQLApi", "Properties": {}},
    }, "Outputs": {"VpcRef": {"Value": {"Ref": "Vpc"}}, "AlarmArn": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}}}}
    vpc_ref = {"Fn::GetStackOutput": {"StackName": "producer", "Region": "eu-central-1", "OutputName": "VpcRef"}}
    consumer = {"Resources": {
        "Table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": vpc_ref}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": vpc_ref, "CidrBlock": "10.0.1.0/24"}},
        "Association": {"Type": "AWS::EC2::SubnetRouteTableAssociation",
                        "Properties": {"SubnetId": {"Ref": "Subnet"}, "RouteTableId": {"Ref": "Table"}}},
        "Broken": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": vpc_ref, "CidrBlock": "192.168.0.0/24"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": {"Fn::GetStackOutput": {"StackName": "producer", "OutputName": "AlarmArn"}}}},
    }}

    cloudformation.create_stack(StackName="producer", TemplateBody=json.dumps(producer))
    cloudformation.create_stack(StackName="consumer", TemplateBody=json.dumps(consumer))

    [vpc_id] = [o["OutputValue"] for o in cloudformation.describe_stacks(StackName="producer")["Stacks"][0]["Outputs"]]
    [table] = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                 {"Name": "association.main", "Values": ["false"]}])["RouteTables"]
    assert [a["SubnetId"] for a in table["Associations"]] == [
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]]
    assert list(patches.FAULTS) == [("consumer", "Broken")]
    assert list(patches.BLOCKED) == [("consumer", "Queue")]
    assert "Alarm (AWS::AppSync::GraphQLApi)" in patches.SKIPPED_OUTPUTS["producer", "AlarmArn"]


def test_patched_kms_key_takes_cloudformation_tags(patched_moto):
    cloudformation, _ = patched_moto
    template = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {
        "KeyPolicy": {"Version": "2012-10-17", "Statement": []}, "EnableKeyRotation": True,
        "Tags": [{"Key": "Application", "Value": "tradai"}]}}}}

    cloudformation.create_stack(StackName="keys", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {}
    [key] = cloudformation.describe_stack_resources(StackName="keys")["StackResources"]
    tags = boto3.client("kms", region_name="eu-central-1").list_resource_tags(KeyId=key["PhysicalResourceId"])["Tags"]
    assert tags == [{"TagKey": "Application", "TagValue": "tradai"}]


def test_patched_log_group_keeps_its_kms_key(patched_moto):
    cloudformation, _ = patched_moto
    template = {"Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": "/ecs/encrypted", "RetentionInDays": 30, "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}}}}

    cloudformation.create_stack(StackName="logs", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {}
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                 for r in cloudformation.describe_stack_resources(StackName="logs")["StackResources"]}
    key_arn = boto3.client("kms", region_name="eu-central-1").describe_key(KeyId=resources["Key"])["KeyMetadata"]["Arn"]
    [group] = boto3.client("logs", region_name="eu-central-1").describe_log_groups(
        logGroupNamePrefix="/ecs/encrypted")["logGroups"]
    assert (group["kmsKeyId"], group["retentionInDays"]) == (key_arn, 30)


def test_public_powertools_parameter_is_seeded_for_the_templates(patched_moto):
    from local_emulator import public_resources
    from local_emulator.assembly import StackArtifact

    name = "/aws/service/powertools/python/arm64/python3.11/3.37.0"
    template = {"Parameters": {"Layer": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": name}}}
    artifact = StackArtifact("Foundation", "tradai-foundation-dev", template, None)
    clients = {service: boto3.client(service, region_name="eu-central-1") for service in ("lambda", "ssm")}

    assert public_resources.seed([artifact], clients.__getitem__) == [name]

    arn = clients["ssm"].get_parameter(Name=name)["Parameter"]["Value"]
    layer_name, version = arn.split(":")[-2:]
    assert layer_name == "AWSLambdaPowertoolsPythonV3-python311-arm64"
    layer = clients["lambda"].get_layer_version(LayerName=layer_name, VersionNumber=int(version))
    assert layer["CompatibleArchitectures"] == ["arm64"]


@pytest.fixture
def executing_moto(monkeypatch):
    """moto in-process with the harness patches and Step Functions executions enabled."""
    for owner, attribute, replacement in patches.PATCHES:
        monkeypatch.setattr(owner, attribute, replacement, raising=False)
    patches.LAMBDA_ROUTES.clear()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield {service: boto3.client(service, region_name="eu-central-1")
               for service in ("stepfunctions", "ecs", "ec2")}
    patches.LAMBDA_ROUTES.clear()


def _run(sfn, definition: dict, execution_input: dict, while_running=lambda: None) -> dict:
    arn = sfn.create_state_machine(name=f"m{len(definition['States'])}", definition=json.dumps(definition),
                                   roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name=f"e{time.monotonic_ns()}",
                                    input=json.dumps(execution_input))["executionArn"]
    for _ in range(100):
        while_running()
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError("execution did not finish")


def test_routed_lambda_tasks_run_the_handler_and_report_its_exception_type(executing_moto):
    def handler(payload):
        if payload.get("fail"):
            raise LookupError("no such run")
        return {"seen": payload["value"]}

    patches.LAMBDA_ROUTES["tradai-update-status-dev"] = handler
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload", "End": True,
            "Parameters": {"FunctionName": "arn:aws:lambda:eu-central-1:123456789012:function:tradai-update-status-dev",
                           "Payload.$": "$"},
            "Catch": [{"ErrorEquals": ["LookupError"], "Next": "Caught"}]}
    definition = {"StartAt": "Call", "States": {"Call": task, "Caught": {"Type": "Pass", "Result": {"caught": True},
                                                                           "End": True}}}

    ok = _run(executing_moto["stepfunctions"], definition, {"value": 7})
    failed = _run(executing_moto["stepfunctions"], definition, {"fail": True})

    assert (ok["status"], json.loads(ok["output"])) == ("SUCCEEDED", {"seen": 7})
    assert failed["status"] == "SUCCEEDED", failed
    assert json.loads(failed["output"]) == {"caught": True}, failed


def test_wait_states_are_capped_and_a_poll_loop_still_polls_until_done(executing_moto):
    polls = []

    def check_task(_payload):
        polls.append(time.monotonic())
        return {"done": len(polls) == 2}

    patches.LAMBDA_ROUTES["tradai-check-dev"] = check_task
    check = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
             "Next": "Done?", "Parameters": {
                 "FunctionName": "arn:aws:lambda:eu-central-1:123456789012:function:tradai-check-dev", "Payload": {}}}
    definition = {"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "Seconds": 15, "Next": "Check"}, "Check": check,
        "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "End"}],
                  "Default": "Wait"},
        "End": {"Type": "Succeed"}}}
    started = time.monotonic()

    result = _run(executing_moto["stepfunctions"], definition, {})

    assert result["status"] == "SUCCEEDED" and len(polls) == 2
    assert 2 * patches.WAIT_CAP_SECONDS <= time.monotonic() - started < 2 * patches.WAIT_CAP_SECONDS + 5


def test_a_drill_ends_the_wait_states_under_way(executing_moto, monkeypatch):
    monkeypatch.setattr(patches, "WAIT_CAP_SECONDS", 60)
    definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 15, "End": True}}}
    started = time.monotonic()

    result = _run(executing_moto["stepfunctions"], definition, {}, patches.end_waits)

    assert result["status"] == "SUCCEEDED" and time.monotonic() - started < 5


def test_ecs_run_task_sync_runs_on_the_capacity_provider_of_the_state_machine(executing_moto):
    ecs, ec2 = executing_moto["ecs"], executing_moto["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # moto's awsvpc tasks need it
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    cluster = ecs.create_cluster(clusterName="c")["cluster"]["clusterArn"]
    ecs.register_task_definition(family="strategy-container-dev", requiresCompatibilities=["FARGATE"],
                                 networkMode="awsvpc", cpu="1024", memory="2048",
                                 containerDefinitions=[{"name": "strategy", "image": "x"}])
    run = {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True, "Parameters": {
        "Cluster": cluster, "TaskDefinition": "strategy-container-dev",
        "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}],
        "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": [subnet], "SecurityGroups": [group]}},
        "Overrides": {"ContainerOverrides": [{"Name": "strategy",
                                              "Environment": [{"Name": "JOB_ID", "Value.$": "$.job_id"}]}]}}}
    started = []

    def finish_the_task():
        for task in ecs_backends["123456789012"]["eu-central-1"].tasks.get("c", {}).values():
            started.append((task.capacity_provider_name, task.overrides["containerOverrides"][0]["environment"]))
            task.last_status = "STOPPED"

    result = _run(executing_moto["stepfunctions"], {"StartAt": "Run", "States": {"Run": run}}, {"job_id": "j-1"},
                  finish_the_task)

    history = executing_moto["stepfunctions"].get_execution_history(executionArn=result["executionArn"])["events"]
    assert result["status"] == "SUCCEEDED", [e for e in history if "Failed" in e["type"]]
    assert started[0] == ("FARGATE_SPOT", [{"name": "JOB_ID", "value": "j-1"}])


EXCLUDED = " %+~`#$&*()|[]{}:;<>?!'/@\"\\=,^"  # the CDK's DatabaseSecret default


def test_patched_secrets_are_created_generated_resolved_and_deleted_with_their_stack(patched_moto):
    cloudformation, _ = patched_moto
    tags = [{"Key": "Application", "Value": "tradai"}]
    template = {"Resources": {
        "Master": {"Type": "AWS::SecretsManager::Secret", "Properties": {
            "Name": "tradai/dev/database-master", "Description": "master", "Tags": tags,
            "GenerateSecretString": {"SecretStringTemplate": '{"username":"tradai_admin"}',
                                     "GenerateStringKey": "password", "PasswordLength": 30,
                                     "ExcludeCharacters": EXCLUDED}}},
        "Jwt": {"Type": "AWS::SecretsManager::Secret", "Properties": {
            "GenerateSecretString": {"ExcludePunctuation": True, "PasswordLength": 64}}},
        "Url": {"Type": "AWS::SecretsManager::Secret", "Properties": {
            "Name": "tradai/dev/database-url",
            "SecretString": {"Fn::Join": ["", [
                "postgresql://{{resolve:secretsmanager:", {"Ref": "Master"}, ":SecretString:username::}}:",
                "{{resolve:secretsmanager:", {"Ref": "Master"}, ":SecretString:password::}}@db:5432/tradai ",
                "{{resolve:secretsmanager:tradai/dev/unknown:SecretString:password::}}"]]}}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q", "Tags": [
            {"Key": "secret", "Value": {"Fn::GetAtt": ["Jwt", "Id"]}}]}},
    }, "Outputs": {"MasterArn": {"Value": {"Ref": "Master"}}}}

    cloudformation.create_stack(StackName="secrets", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {} and patches.BLOCKED == {} and patches.SKIPPED_OUTPUTS == {}
    secrets = boto3.client("secretsmanager", region_name="eu-central-1")
    [arn] = [o["OutputValue"] for o in cloudformation.describe_stacks(StackName="secrets")["Stacks"][0]["Outputs"]]
    master = secrets.describe_secret(SecretId="tradai/dev/database-master")
    assert (master["ARN"], master["Description"], master["Tags"]) == (arn, "master", tags)
    credentials = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    assert credentials["username"] == "tradai_admin" and len(credentials["password"]) == 30
    assert not set(EXCLUDED) & set(credentials["password"])
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cloudformation.describe_stack_resources(StackName="secrets")["StackResources"]}
    jwt = secrets.get_secret_value(SecretId=physical["Jwt"])["SecretString"]
    assert physical["Jwt"].split(":secret:")[1].startswith("secrets-Jwt-") and len(jwt) == 64 and jwt.isalnum()
    url = secrets.get_secret_value(SecretId="tradai/dev/database-url")["SecretString"]
    assert url == (f"postgresql://tradai_admin:{credentials['password']}@db:5432/tradai "
                   "{{resolve:secretsmanager:tradai/dev/unknown:SecretString:password::}}")

    cloudformation.delete_stack(StackName="secrets")

    assert secrets.list_secrets()["SecretList"] == []


def test_patched_drift_detection_answers_in_sync_for_existing_stacks_only(patched_moto):
    cloudformation, _ = patched_moto
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}}}}
    stack_id = cloudformation.create_stack(StackName="app", TemplateBody=json.dumps(template))["StackId"]

    detection = cloudformation.detect_stack_drift(StackName="app")["StackDriftDetectionId"]
    status = cloudformation.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
    drifted = cloudformation.describe_stack_resource_drifts(
        StackName="app", StackResourceDriftStatusFilters=["MODIFIED", "DELETED"])["StackResourceDrifts"]
    [in_sync] = cloudformation.describe_stack_resource_drifts(StackName="app")["StackResourceDrifts"]

    assert (status["StackId"], status["DetectionStatus"], status["StackDriftStatus"]) == (
        stack_id, "DETECTION_COMPLETE", "IN_SYNC")
    assert drifted == []
    assert (in_sync["LogicalResourceId"], in_sync["StackResourceDriftStatus"]) == ("Queue", "IN_SYNC")
    for call, kwargs in ((cloudformation.detect_stack_drift, {"StackName": "missing"}),
                         (cloudformation.describe_stack_drift_detection_status, {"StackDriftDetectionId": "nope"})):
        with pytest.raises(cloudformation.exceptions.ClientError, match="ValidationError"):
            call(**kwargs)
    patches.DRIFT_DETECTIONS.clear()


def test_health_stub_answers_its_path_with_its_status_and_records_requests():
    import urllib.error
    import urllib.request

    from local_emulator.drills.support import HealthStub

    with HealthStub("/api/v1/health", 200) as healthy, HealthStub("/mlflow/", 500) as failing:
        ok = urllib.request.urlopen(f"http://{healthy.host}:{healthy.port}/api/v1/health", timeout=5)
        with pytest.raises(urllib.error.HTTPError) as broken:
            urllib.request.urlopen(f"http://{failing.host}:{failing.port}/mlflow/", timeout=5)
        with pytest.raises(urllib.error.HTTPError) as elsewhere:
            urllib.request.urlopen(f"http://{healthy.host}:{healthy.port}/other", timeout=5)

    assert (ok.status, broken.value.code, elsewhere.value.code) == (200, 500, 404)
    assert (healthy.requests, failing.requests) == (["/api/v1/health", "/other"], ["/mlflow/"])


def test_drill_helpers_name_task_functions_and_build_scheduled_events():
    from datetime import datetime, timezone

    from local_emulator.drills.support import plain, scheduled_event
    from local_emulator.drills.workflows import task_functions

    arn = "arn:aws:lambda:eu-central-1:123456789012:function:"
    definition = json.dumps({"States": {
        "A": {"Resource": f"{arn}tradai-check-retraining-needed-dev"},
        "B": {"Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": f"{arn}tradai-x-dev"}},
        "C": {"Resource": f"{arn}tradai-check-retraining-needed-dev"}}})
    event = scheduled_event("r", datetime(2026, 12, 1, 6, 0, 5, tzinfo=timezone.utc))

    assert task_functions(definition) == ["tradai-check-retraining-needed-dev", "tradai-x-dev"]
    assert (event["source"], event["detail-type"], event["time"]) == ("aws.events", "Scheduled Event",
                                                                       "2026-12-01T06:00:05Z")
    assert plain({"n": {"N": "2"}, "b": {"BOOL": True}, "l": {"L": [{"S": "x"}]}}) == {"n": 2, "b": True, "l": ["x"]}


def test_patched_alarm_keeps_its_metric_math_and_actions_and_goes_with_its_stack(patched_moto):
    cloudformation, _ = patched_moto
    topic = "arn:aws:sns:eu-central-1:123456789012:alerts"
    stat = {"Metric": {"Namespace": "ECS/ContainerInsights", "MetricName": "RunningTaskCount",
                       "Dimensions": [{"Name": "ServiceName", "Value": "api"}]}, "Period": 60, "Stat": "Average"}
    template = {"Resources": {"Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": "api-below-desired", "ComparisonOperator": "LessThanThreshold", "EvaluationPeriods": 5,
        "Threshold": 1, "TreatMissingData": "notBreaching", "AlarmActions": [topic], "OKActions": [topic],
        "Metrics": [{"Id": "expr_1", "Expression": "100 * running", "ReturnData": True},
                    {"Id": "running", "MetricStat": stat, "ReturnData": False}]}}},
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}}}}

    cloudformation.create_stack(StackName="alarms", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {} and patches.SKIPPED_OUTPUTS == {}
    cloudwatch = boto3.client("cloudwatch", region_name="eu-central-1")
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["api-below-desired"])["MetricAlarms"]
    assert (alarm["AlarmActions"], alarm["OKActions"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
        [topic], [topic], 1.0, 5)
    assert [m.get("Expression") for m in alarm["Metrics"]] == ["100 * running", None]
    assert cloudformation.describe_stacks(StackName="alarms")["Stacks"][0]["Outputs"][0]["OutputValue"] == (
        alarm["AlarmArn"])

    cloudformation.delete_stack(StackName="alarms")

    assert cloudwatch.describe_alarms()["MetricAlarms"] == []


def test_patched_egress_rule_is_authorized_on_its_group(patched_moto):
    cloudformation, ec2 = patched_moto
    template = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16", "EnableDnsHostnames": True}},
        "Api": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "api", "VpcId": {"Ref": "Vpc"},
            "SecurityGroupEgress": [{"CidrIp": "255.255.255.255/32", "IpProtocol": "icmp", "FromPort": 252,
                                     "ToPort": 86}]}},
        "Db": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "db", "VpcId": {"Ref": "Vpc"}}},
        "Alb": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "alb", "VpcId": {"Ref": "Vpc"}}},
        "AlbToDb": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["Alb", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000,
            "DestinationSecurityGroupId": {"Fn::GetAtt": ["Db", "GroupId"]}}},
        "ToDb": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["Api", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
            "DestinationSecurityGroupId": {"Fn::GetAtt": ["Db", "GroupId"]}, "Description": "to the database"}},
        "Https": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["Api", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "CidrIp": "0.0.0.0/0", "Description": "https out"}}}}

    cloudformation.create_stack(StackName="egress", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {}
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cloudformation.describe_stack_resources(StackName="egress")["StackResources"]}
    [group] = ec2.describe_security_groups(GroupIds=[physical["Api"]])["SecurityGroups"]
    rules = {p["FromPort"]: p for p in group["IpPermissionsEgress"] if p["IpProtocol"] == "tcp"}
    assert rules[5432]["UserIdGroupPairs"][0]["GroupId"] == physical["Db"]
    assert rules[443]["IpRanges"] == [{"CidrIp": "0.0.0.0/0", "Description": "https out"}]
    assert {p["IpProtocol"] for p in group["IpPermissionsEgress"]} == {"icmp", "tcp"}  # inline egress, no allow-all
    [alb] = ec2.describe_security_groups(GroupIds=[physical["Alb"]])["SecurityGroups"]
    assert [(p["IpProtocol"], p.get("FromPort")) for p in alb["IpPermissionsEgress"]] == [("tcp", 8000)]  # as CFN
    hostnames = ec2.describe_vpc_attribute(VpcId=physical["Vpc"], Attribute="enableDnsHostnames")
    assert hostnames["EnableDnsHostnames"]["Value"] is True

    cloudformation.delete_stack(StackName="egress")


def test_patched_types_keep_what_moto_dropped(patched_moto):
    cloudformation, _ = patched_moto
    policy = json.dumps({"rules": [{"rulePriority": 1, "selection": {
        "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20}, "action": {"type": "expire"}}]})
    template = {"Resources": {
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": "runs", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}},
        "Repo": {"Type": "AWS::ECR::Repository", "Properties": {
            "RepositoryName": "strategy", "ImageScanningConfiguration": {"ScanOnPush": True},
            "LifecyclePolicy": {"LifecyclePolicyText": policy}}},
        "TaskRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}}},
        "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": "strategy", "NetworkMode": "awsvpc", "RequiresCompatibilities": ["FARGATE"], "Cpu": "1024",
            "Memory": "2048", "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
            "ContainerDefinitions": [{"Name": "strategy", "Image": "strategy:1", "Essential": True}]}},
        "Logs": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "logs"}},
        "Results": {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketName": "results", "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": dict.fromkeys(
                ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True),
            "LifecycleConfiguration": {"Rules": [{"Id": "glacier", "Status": "Enabled", "Transitions": [
                {"StorageClass": "GLACIER", "TransitionInDays": 30}]}]},
            "LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}, "LogFilePrefix": "s3-access/"}}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": "scheduled", "Runtime": "python3.11", "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["TaskRole", "Arn"]}, "Code": {"ZipFile": "def handler(e, c): pass"}}},
        "Async": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
            "FunctionName": {"Ref": "Fn"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 0,
            "MaximumEventAgeInSeconds": 900}}}}

    cloudformation.create_stack(StackName="kept", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {}
    dynamodb = boto3.client("dynamodb", region_name="eu-central-1")
    assert dynamodb.describe_table(TableName="runs")["Table"]["SSEDescription"]["Status"] == "ENABLED"
    assert dynamodb.describe_time_to_live(TableName="runs")["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    backups = dynamodb.describe_continuous_backups(TableName="runs")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    ecr = boto3.client("ecr", region_name="eu-central-1")
    [repo] = ecr.describe_repositories(repositoryNames=["strategy"])["repositories"]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert ecr.get_lifecycle_policy(repositoryName="strategy")["lifecyclePolicyText"] == policy
    task = boto3.client("ecs", region_name="eu-central-1").describe_task_definition(
        taskDefinition="strategy")["taskDefinition"]
    assert (task["networkMode"], task["requiresCompatibilities"], task["cpu"], task["memory"]) == (
        "awsvpc", ["FARGATE"], "1024", "2048")
    assert task["taskRoleArn"].endswith(":role/" + task["taskRoleArn"].split("/")[-1])
    config = boto3.client("lambda", region_name="eu-central-1").get_function_event_invoke_config(
        FunctionName="scheduled")
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (0, 900)
    s3 = boto3.client("s3", region_name="eu-central-1")
    assert s3.get_bucket_versioning(Bucket="results")["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket="results")["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket="results")["Rules"]
    assert [(t["StorageClass"], t["Days"]) for t in rule["Transitions"]] == [("GLACIER", 30)]
    logging_target = s3.get_bucket_logging(Bucket="results")["LoggingEnabled"]
    assert logging_target == {"TargetBucket": "logs", "TargetPrefix": "s3-access/"}

    cloudformation.delete_stack(StackName="kept")


def test_patched_resource_policies_land_on_their_queue_bucket_and_topic(patched_moto):
    cloudformation, _ = patched_moto
    deny = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    document = {"Version": "2012-10-17", "Statement": [deny]}
    template = {"Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs"}},
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "results"}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}},
        "QueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": "Queue"}], "PolicyDocument": document}},
        "BucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Bucket"}, "PolicyDocument": document}},
        "TopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": "Topic"}], "PolicyDocument": document}},
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}

    cloudformation.create_stack(StackName="policies", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {} and patches.BLOCKED == {}
    sqs = boto3.client("sqs", region_name="eu-central-1")
    url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    policies = [
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"],
        boto3.client("s3", region_name="eu-central-1").get_bucket_policy(Bucket="results")["Policy"],
        boto3.client("sns", region_name="eu-central-1").get_topic_attributes(
            TopicArn="arn:aws:sns:eu-central-1:123456789012:alerts")["Attributes"]["Policy"],
    ]
    assert [json.loads(p)["Statement"] for p in policies] == [[deny]] * 3
    handle = {r["LogicalResourceId"]: r for r in cloudformation.describe_stack_resources(
        StackName="policies")["StackResources"]}["Handle"]
    assert handle["PhysicalResourceId"].startswith("https://cloudformation-waitcondition-eu-central-1")

    cloudformation.delete_stack(StackName="policies")


def test_patched_api_keeps_cognito_authorizer_validator_and_vpc_link_integration(patched_moto):
    cloudformation, _ = patched_moto
    template = {"Resources": {
        "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {
            "UserPoolName": "users", "MfaConfiguration": "ON",
            "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireSymbols": True}}}},
        "Client": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {
            "UserPoolId": {"Ref": "Pool"}, "ClientName": "api", "GenerateSecret": False}},
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {
            "Name": "api", "EndpointConfiguration": {"Types": ["REGIONAL"]}}},
        "Items": {"Type": "AWS::ApiGateway::Resource", "Properties": {
            "RestApiId": {"Ref": "Api"}, "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]}, "PathPart": "items"}},
        "Auth": {"Type": "AWS::ApiGateway::Authorizer", "Properties": {
            "RestApiId": {"Ref": "Api"}, "Name": "cognito", "Type": "COGNITO_USER_POOLS",
            "IdentitySource": "method.request.header.Authorization",
            "ProviderARNs": [{"Fn::GetAtt": ["Pool", "Arn"]}]}},
        "Validator": {"Type": "AWS::ApiGateway::RequestValidator", "Properties": {
            "RestApiId": {"Ref": "Api"}, "Name": "parameters", "ValidateRequestParameters": True}},
        "Link": {"Type": "AWS::ApiGatewayV2::VpcLink", "Properties": {
            "Name": "link", "SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}},
        "Get": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": {"Ref": "Api"}, "ResourceId": {"Ref": "Items"}, "HttpMethod": "GET",
            "AuthorizationType": "COGNITO_USER_POOLS", "AuthorizerId": {"Ref": "Auth"},
            "RequestValidatorId": {"Ref": "Validator"},
            "Integration": {"Type": "HTTP_PROXY", "IntegrationHttpMethod": "GET", "Uri": "http://alb/items",
                            "ConnectionType": "VPC_LINK", "ConnectionId": {"Ref": "Link"},
                            "IntegrationTarget": "arn:aws:elasticloadbalancing:listener/app/alb/1/2"}}},
        "Deployment": {"Type": "AWS::ApiGateway::Deployment", "DependsOn": ["Get"],
                       "Properties": {"RestApiId": {"Ref": "Api"}}},
        "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {
            "RestApiId": {"Ref": "Api"}, "StageName": "dev", "DeploymentId": {"Ref": "Deployment"},
            "AccessLogSetting": {
                "DestinationArn": "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/apigateway/api",
                "Format": "$context.requestId"},
            "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 100,
                                "ThrottlingBurstLimit": 200}]}},
        "Request": {"Type": "AWS::ApiGateway::Model", "Properties": {
            "RestApiId": {"Ref": "Api"}, "Name": "Request", "ContentType": "application/json",
            "Schema": {"type": "object"}}}}}

    cloudformation.create_stack(StackName="api", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {} and patches.BLOCKED == {}
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId")
                for r in cloudformation.describe_stack_resources(StackName="api")["StackResources"]}
    cognito = boto3.client("cognito-idp", region_name="eu-central-1")
    pool = cognito.describe_user_pool(UserPoolId=physical["Pool"])["UserPool"]
    assert (pool["Name"], pool["MfaConfiguration"], pool["Policies"]["PasswordPolicy"]["MinimumLength"]) == (
        "users", "ON", 12)
    assert cognito.describe_user_pool_client(UserPoolId=physical["Pool"], ClientId=physical["Client"])[
        "UserPoolClient"]["ClientName"] == "api"
    apigateway = boto3.client("apigateway", region_name="eu-central-1")
    assert apigateway.get_rest_api(restApiId=physical["Api"])["endpointConfiguration"]["types"] == ["REGIONAL"]
    [authorizer] = apigateway.get_authorizers(restApiId=physical["Api"])["items"]
    assert (authorizer["id"], authorizer["providerARNs"]) == (physical["Auth"], [pool["Arn"]])
    method = apigateway.get_method(restApiId=physical["Api"], resourceId=physical["Items"], httpMethod="GET")
    assert (method["authorizerId"], method["requestValidatorId"]) == (physical["Auth"], physical["Validator"])
    integration = method["methodIntegration"]
    assert (integration["connectionType"], integration["connectionId"]) == ("VPC_LINK", physical["Link"])
    stage = apigateway.get_stage(restApiId=physical["Api"], stageName="dev")
    assert stage["accessLogSettings"]["destinationArn"].endswith(":log-group:/aws/apigateway/api")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 100
    assert apigateway.get_model(restApiId=physical["Api"], modelName="Request")["name"] == "Request"
    link = boto3.client("apigatewayv2", region_name="eu-central-1").get_vpc_link(VpcLinkId=physical["Link"])
    assert (link["SubnetIds"], link["SecurityGroupIds"]) == (["subnet-1"], ["sg-1"])

    cloudformation.delete_stack(StackName="api")


def test_patched_ecs_service_and_state_machine_keep_registries_and_logging(patched_moto):
    cloudformation, _ = patched_moto
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "states.amazonaws.com"}}]}}}
    logs = "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/vendedlogs/states/flow:*"
    template = {"Resources": {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {
            "ClusterName": "tradai", "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]}},
        "Capacity": {"Type": "AWS::ECS::CapacityProvider", "Properties": {
            "Name": "host", "AutoScalingGroupProvider": {"AutoScalingGroupArn": "host-asg"}}},
        "Providers": {"Type": "AWS::ECS::ClusterCapacityProviderAssociations", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "CapacityProviders": ["FARGATE", {"Ref": "Capacity"}],
            "DefaultCapacityProviderStrategy": []}},
        "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": "api", "ContainerDefinitions": [{"Name": "api", "Image": "api:1", "Memory": 256}]}},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "ServiceName": "api", "DesiredCount": 1, "TaskDefinition": {"Ref": "Task"},
            "ServiceRegistries": [{"RegistryArn": "arn:aws:servicediscovery:eu-central-1:123456789012:service/srv-1",
                                   "ContainerName": "api", "ContainerPort": 8000}]}},
        "Role": role,
        "Flow": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": "flow", "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            "DefinitionString": json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            "LoggingConfiguration": {"Level": "ALL", "Destinations": [
                {"CloudWatchLogsLogGroup": {"LogGroupArn": logs}}]}}}}}

    cloudformation.create_stack(StackName="wired", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {}
    ecs = boto3.client("ecs", region_name="eu-central-1")
    [cluster] = ecs.describe_clusters(clusters=["tradai"], include=["SETTINGS"])["clusters"]
    assert (cluster["settings"], cluster["capacityProviders"]) == (
        [{"name": "containerInsights", "value": "enabled"}], ["FARGATE", "host"])
    [provider] = ecs.describe_capacity_providers(capacityProviders=["host"])["capacityProviders"]
    assert provider["autoScalingGroupProvider"]["autoScalingGroupArn"] == "host-asg"
    [service] = ecs.describe_services(cluster="tradai", services=["api"])["services"]
    assert [r["registryArn"] for r in service["serviceRegistries"]] == [
        "arn:aws:servicediscovery:eu-central-1:123456789012:service/srv-1"]
    sfn = boto3.client("stepfunctions", region_name="eu-central-1")
    [machine] = sfn.list_state_machines()["stateMachines"]
    logging_config = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["loggingConfiguration"]
    assert [d["cloudWatchLogsLogGroup"]["logGroupArn"] for d in logging_config["destinations"]] == [logs]


def test_patched_auto_scaling_group_records_its_lifecycle_hooks(patched_moto):
    cloudformation, _ = patched_moto
    template = {"Resources": {
        "Config": {"Type": "AWS::AutoScaling::LaunchConfiguration", "Properties": {
            "ImageId": "ami-12c6146b", "InstanceType": "t4g.nano"}},
        "Group": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
            "AutoScalingGroupName": "nat", "MinSize": "0", "MaxSize": "1", "DesiredCapacity": "0",
            "AvailabilityZones": ["eu-central-1a"], "LaunchConfigurationName": {"Ref": "Config"},
            "LifecycleHookSpecificationList": [{
                "LifecycleHookName": "route-update", "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                "HeartbeatTimeout": 300, "DefaultResult": "ABANDON"}]}}}}

    cloudformation.create_stack(StackName="asg", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {}
    [hook] = boto3.client("autoscaling", region_name="eu-central-1").describe_lifecycle_hooks(
        AutoScalingGroupName="nat")["LifecycleHooks"]
    assert (hook["LifecycleHookName"], hook["HeartbeatTimeout"], hook["DefaultResult"]) == (
        "route-update", 300, "ABANDON")


def test_patched_database_and_load_balancer_keep_log_settings(patched_moto):
    cloudformation, _ = patched_moto
    subnet = {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}}}
    template = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "A": {**subnet, "Properties": {**subnet["Properties"], "CidrBlock": "10.0.1.0/24",
                                       "AvailabilityZone": "eu-central-1a"}},
        "B": {**subnet, "Properties": {**subnet["Properties"], "CidrBlock": "10.0.2.0/24",
                                       "AvailabilityZone": "eu-central-1b"}},
        "Alb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Name": "alb", "Subnets": [{"Ref": "A"}, {"Ref": "B"}],
            "LoadBalancerAttributes": [{"Key": "access_logs.s3.enabled", "Value": "true"},
                                       {"Key": "access_logs.s3.bucket", "Value": "logs"}]}},
        "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "DBInstanceIdentifier": "db", "Engine": "postgres", "DBInstanceClass": "db.t4g.micro",
            "AllocatedStorage": "20", "MasterUsername": "admin", "MasterUserPassword": "password123",
            "EnableCloudwatchLogsExports": ["postgresql", "upgrade"]}}}}

    cloudformation.create_stack(StackName="logged", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {}
    elbv2 = boto3.client("elbv2", region_name="eu-central-1")
    [alb] = elbv2.describe_load_balancers(Names=["alb"])["LoadBalancers"]
    attributes = {a["Key"]: a["Value"] for a in elbv2.describe_load_balancer_attributes(
        LoadBalancerArn=alb["LoadBalancerArn"])["Attributes"]}
    assert (attributes["access_logs.s3.enabled"], attributes["access_logs.s3.bucket"]) == ("true", "logs")
    [db] = boto3.client("rds", region_name="eu-central-1").describe_db_instances(DBInstanceIdentifier="db")[
        "DBInstances"]
    assert db["EnabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]


def test_patched_web_acl_is_associated_with_the_stage_logs_and_goes_with_its_stack(patched_moto):
    cloudformation, _ = patched_moto
    visibility = {"CloudWatchMetricsEnabled": True, "SampledRequestsEnabled": True}
    managed = {"Name": "AWSManagedRulesCommonRuleSet", "OverrideAction": {"None": {}}, "Priority": 2,
               "Statement": {"ManagedRuleGroupStatement": {"Name": "AWSManagedRulesCommonRuleSet", "VendorName": "AWS"}},
               "VisibilityConfig": {**visibility, "MetricName": "AWSManagedRulesCommonRuleSet"}}
    stage_arn = {"Fn::Join": ["", ["arn:aws:apigateway:eu-central-1::/restapis/", {"Ref": "Api"}, "/stages/",
                                   {"Ref": "Stage"}]]}
    logs = "arn:aws:logs:eu-central-1:123456789012:log-group:aws-waf-logs-tradai"
    template = {"Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
        "Get": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": {"Ref": "Api"}, "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
            "HttpMethod": "GET", "AuthorizationType": "NONE", "Integration": {"Type": "MOCK"}}},
        "Deployment": {"Type": "AWS::ApiGateway::Deployment", "DependsOn": ["Get"],
                       "Properties": {"RestApiId": {"Ref": "Api"}}},
        "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {
            "RestApiId": {"Ref": "Api"}, "StageName": "prod", "DeploymentId": {"Ref": "Deployment"}}},
        "Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {
            "Name": "api-waf", "Scope": "REGIONAL", "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {**visibility, "MetricName": "api-waf"},
            "Tags": [{"Key": "Environment", "Value": "prod"}],
            "Rules": [{"Name": "RateLimitRule", "Action": {"Block": {}}, "Priority": 1,
                       "Statement": {"RateBasedStatement": {
                           "AggregateKeyType": "IP", "EvaluationWindowSec": 300, "Limit": 100}},
                       "VisibilityConfig": {**visibility, "MetricName": "RateLimitRule"}}, managed]}},
        "Association": {"Type": "AWS::WAFv2::WebACLAssociation", "Properties": {
            "ResourceArn": stage_arn, "WebACLArn": {"Fn::GetAtt": ["Acl", "Arn"]}}},
        "Logging": {"Type": "AWS::WAFv2::LoggingConfiguration", "Properties": {
            "ResourceArn": {"Fn::GetAtt": ["Acl", "Arn"]}, "LogDestinationConfigs": [logs]}}},
        "Outputs": {"Ref": {"Value": {"Ref": "Acl"}}, "Id": {"Value": {"Fn::GetAtt": ["Acl", "Id"]}}}}

    cloudformation.create_stack(StackName="edge", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {} and patches.BLOCKED == {} and patches.SKIPPED_OUTPUTS == {}
    wafv2 = boto3.client("wafv2", region_name="eu-central-1")
    [summary] = wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cloudformation.describe_stacks(StackName="edge")["Stacks"][0]["Outputs"]}
    assert outputs == {"Ref": f"api-waf|{summary['Id']}|REGIONAL", "Id": summary["Id"]}
    acl = wafv2.get_web_acl(Name="api-waf", Scope="REGIONAL", Id=summary["Id"])["WebACL"]
    assert (acl["DefaultAction"], [(r["Name"], r["Priority"]) for r in acl["Rules"]]) == (
        {"Allow": {}}, [("RateLimitRule", 1), ("AWSManagedRulesCommonRuleSet", 2)])
    assert acl["Rules"][0]["Statement"]["RateBasedStatement"]["Limit"] == 100
    assert wafv2.list_tags_for_resource(ResourceARN=acl["ARN"])["TagInfoForResource"]["TagList"] == [
        {"Key": "Environment", "Value": "prod"}]
    api = cloudformation.describe_stack_resource(StackName="edge", LogicalResourceId="Api")[
        "StackResourceDetail"]["PhysicalResourceId"]
    stage = f"arn:aws:apigateway:eu-central-1::/restapis/{api}/stages/prod"
    assert wafv2.get_web_acl_for_resource(ResourceArn=stage)["WebACL"]["ARN"] == acl["ARN"]
    assert boto3.client("apigateway", region_name="eu-central-1").get_stage(
        restApiId=api, stageName="prod")["webAclArn"] == acl["ARN"]
    assert wafv2.get_logging_configuration(ResourceArn=acl["ARN"])["LoggingConfiguration"][
        "LogDestinationConfigs"] == [logs]

    cloudformation.delete_stack(StackName="edge")

    assert wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"] == []
    assert wafv2.list_logging_configurations(Scope="REGIONAL")["LoggingConfigurations"] == []


def test_patched_trail_logs_to_its_bucket_and_log_group_and_goes_with_its_stack(patched_moto):
    cloudformation, _ = patched_moto
    group = "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/cloudtrail/trail:*"
    template = {"Resources": {
        "Logs": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "tradai-logs"}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "cloudtrail.amazonaws.com"}}]}}},
        "Trail": {"Type": "AWS::CloudTrail::Trail", "Properties": {
            "TrailName": "tradai-trail", "S3BucketName": {"Ref": "Logs"}, "S3KeyPrefix": "cloudtrail",
            "IsLogging": True, "IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": True,
            "EnableLogFileValidation": True, "CloudWatchLogsLogGroupArn": group,
            "CloudWatchLogsRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            "Tags": [{"Key": "Environment", "Value": "prod"}]}}},
        "Outputs": {"Name": {"Value": {"Ref": "Trail"}}, "Arn": {"Value": {"Fn::GetAtt": ["Trail", "Arn"]}}}}

    cloudformation.create_stack(StackName="trail", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {} and patches.SKIPPED_OUTPUTS == {}
    cloudtrail = boto3.client("cloudtrail", region_name="eu-central-1")
    [trail] = cloudtrail.describe_trails(trailNameList=["tradai-trail"])["trailList"]
    role = cloudformation.describe_stack_resource(StackName="trail", LogicalResourceId="Role")[
        "StackResourceDetail"]["PhysicalResourceId"]
    assert (trail["S3BucketName"], trail["S3KeyPrefix"], trail["IsMultiRegionTrail"],
            trail["IncludeGlobalServiceEvents"], trail["LogFileValidationEnabled"]) == (
        "tradai-logs", "cloudtrail", True, True, True)
    assert (trail["CloudWatchLogsLogGroupArn"], trail["CloudWatchLogsRoleArn"].split("/")[-1]) == (group, role)
    assert cloudtrail.get_trail_status(Name="tradai-trail")["IsLogging"] is True
    assert cloudtrail.list_tags(ResourceIdList=[trail["TrailARN"]])["ResourceTagList"][0]["TagsList"] == [
        {"Key": "Environment", "Value": "prod"}]
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cloudformation.describe_stacks(StackName="trail")["Stacks"][0]["Outputs"]}
    assert outputs == {"Name": "tradai-trail", "Arn": trail["TrailARN"]}

    cloudformation.delete_stack(StackName="trail")

    assert cloudtrail.describe_trails()["trailList"] == []


def test_wait_for_answers_at_once_and_names_what_never_came_and_drill_lines_show_seconds():
    from local_emulator.drills import DrillResult
    from local_emulator.drills.invoke import DrillFailure
    from local_emulator.drills.support import wait_for

    answers = iter([None, None, "ready"])
    started = time.monotonic()
    assert wait_for(lambda: next(answers), "the answer") == "ready"
    assert time.monotonic() - started < 0.5  # two short pauses, not two 0.2 s polls
    with pytest.raises(DrillFailure, match="timed out after 0 s waiting for nothing: why"):
        wait_for(lambda: None, "nothing", lambda: "why", seconds=0)
    assert DrillResult("tradai-x-dev", "PASSED", "done", 12.345).line() == "   PASSED   tradai-x-dev (12.3 s): done"
