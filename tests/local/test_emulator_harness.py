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
