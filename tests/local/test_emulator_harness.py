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
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
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
    assert "Alarm (AWS::CloudWatch::Alarm)" in patches.SKIPPED_OUTPUTS["producer", "AlarmArn"]


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
