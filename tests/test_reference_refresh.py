"""Issue 16 item 3: a producer change reaches the stacks that read its outputs (weak references) in the same
deploy, because each consumer then has a change of its own (a new fingerprint of its producers' outputs)."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2, aws_sqs as sqs

import spec
from cfn import resources
from tradai_cdk.constructs.reference_refresh import METADATA_KEY, ReferenceRefresh, fingerprint

# Which stacks each stack reads outputs from (this test's table, from the stage's wiring).
PRODUCERS = {"persistent": ("foundation",), "compute": ("foundation", "persistent"),
             "edge": ("foundation", "persistent", "compute")}


def _vpc_template(cidr="10.0.0.0/16", description="ecs", unrelated_memory=128) -> dict:
    return {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr}},
            "Sg": {"Type": "AWS::EC2::SecurityGroup",
                   "Properties": {"GroupDescription": description, "VpcId": {"Ref": "Vpc"}},
                   "Metadata": {"aws:cdk:path": "P/Sg"}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": unrelated_memory}},
        },
        "Outputs": {"SgId": {"Value": {"Fn::GetAtt": ["Sg", "GroupId"]}}},
    }


def test_fingerprint_follows_outputs_and_what_they_reference_transitively():
    base = fingerprint(_vpc_template())
    assert fingerprint(_vpc_template(description="changed")) != base  # the published group is replaced
    assert fingerprint(_vpc_template(cidr="10.1.0.0/16")) != base  # its VPC is replaced, so is the group


def test_fingerprint_ignores_resources_no_output_reaches_and_metadata():
    base = fingerprint(_vpc_template())
    assert fingerprint(_vpc_template(unrelated_memory=256)) == base
    moved = _vpc_template()
    moved["Resources"]["Sg"]["Metadata"] = {"aws:cdk:path": "P/Elsewhere/Sg"}
    assert fingerprint(moved) == base


def test_fingerprint_follows_sub_references():
    template = _vpc_template()
    template["Outputs"] = {"Arn": {"Value": {"Fn::Sub": "arn:aws:ec2:::security-group/${Sg.GroupId}"}}}
    changed = json.loads(json.dumps(template))
    changed["Resources"]["Sg"]["Properties"]["GroupDescription"] = "changed"
    assert fingerprint(changed) != fingerprint(template)


def _two_stack_app(tmp_path, description: str, queue_retention: int) -> dict:
    """A producer (VPC + SG + an unrelated queue) and a consumer reading the SG id by weak reference."""
    app = cdk.App(outdir=str(tmp_path), context={"@aws-cdk/core:defaultCrossStackReferences": "weak"})
    env = cdk.Environment(account="123456789012", region="eu-central-1")
    stage = cdk.Stage(app, "S", env=env)
    producer = cdk.Stack(stage, "Producer")
    vpc = ec2.CfnVPC(producer, "Vpc", cidr_block="10.0.0.0/16")
    group = ec2.CfnSecurityGroup(producer, "Sg", group_description=description, vpc_id=vpc.ref)
    sqs.CfnQueue(producer, "Unrelated", message_retention_period=queue_retention)
    consumer = cdk.Stack(stage, "Consumer")
    sqs.CfnQueue(consumer, "Reader", queue_name=group.attr_group_id)
    ReferenceRefresh(consumer, "ProducerOutputs")
    return stage.synth().get_stack_by_name(consumer.stack_name).template


def _handle_metadata(template: dict) -> dict:
    (handle,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudFormation::WaitConditionHandle"]
    return handle["Metadata"][METADATA_KEY]


def test_a_replaced_producer_resource_changes_the_consumer_template(tmp_path):
    before = _two_stack_app(tmp_path / "a", "ecs", 345600)
    after = _two_stack_app(tmp_path / "b", "ecs tasks", 345600)
    assert list(_handle_metadata(before)) == ["S-Producer"]
    assert _handle_metadata(before) != _handle_metadata(after)


def test_an_unrelated_producer_change_leaves_the_consumer_unchanged(tmp_path):
    before = _two_stack_app(tmp_path / "a", "ecs", 345600)
    after = _two_stack_app(tmp_path / "b", "ecs", 1209600)
    assert before == after


@pytest.mark.parametrize("consumer", sorted(PRODUCERS))
@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_every_consumer_stack_carries_the_fingerprint_of_each_stack_it_reads(env, consumer, synthesized):
    template = synthesized[(env, consumer)].json
    (handle,) = resources(template, "AWS::CloudFormation::WaitConditionHandle").keys()
    recorded = template["Resources"][handle]["Metadata"][METADATA_KEY]
    expected = {f"tradai-{producer}-{env}": fingerprint(synthesized[(env, producer)].json)
                for producer in PRODUCERS[consumer]}
    assert recorded == expected


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_the_first_stack_reads_no_outputs(env, synthesized):
    assert resources(synthesized[(env, "foundation")].json, "AWS::CloudFormation::WaitConditionHandle") == {}
