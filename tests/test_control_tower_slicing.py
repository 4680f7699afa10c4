"""Slicing a template for cfn-guard: each rule file sees the resources of its types and stubs of what they reference;
whether the findings stay the same is tested against the plugin itself in test_control_tower.py."""

from __future__ import annotations

from tradai_cdk.control_tower.slicing import PROCESS_SECONDS, SECONDS_PER_RULE_BYTE, Slice, references, slices, \
    sliced_template

TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Conditions": {"IsProd": {"Fn::Equals": ["prod", "prod"]}},
    "Resources": {
        "Fn": {"Type": "AWS::Lambda::Function", "DependsOn": ["FnRolePolicy"],
               "Properties": {"Role": {"Fn::GetAtt": ["FnRole", "Arn"]}, "Environment": {"Variables": {
                   "QUEUE": {"Ref": "Queue"}, "URL": {"Fn::Sub": "https://${Api}.execute-api/${!literal}"}}}}},
        "FnRole": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/"}},
        "FnRolePolicy": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "FnRole"}]}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": "alias/aws/sqs"}},
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
    },
    "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}},
}


def test_references_are_ref_getatt_sub_and_depends_on():
    assert references(TEMPLATE["Resources"]["Fn"]) == {"FnRolePolicy", "FnRole", "Queue", "Api"}
    assert references({"Fn::GetAtt": "Table.Arn"}) == {"Table"}
    assert references({"Fn::Sub": ["${Bucket.Arn}/*", {"X": "y"}]}) == {"Bucket"}
    assert references({"DependsOn": "Other"}) == {"Other"}


def test_a_slice_keeps_its_types_whole_and_stubs_what_they_reference():
    sliced = sliced_template(TEMPLATE, frozenset({"AWS::Lambda::Function"}))
    assert sliced["Resources"]["Fn"] == TEMPLATE["Resources"]["Fn"]
    assert sliced["Resources"]["FnRole"] == {"Type": "AWS::IAM::Role"}
    assert sliced["Resources"]["Queue"] == {"Type": "AWS::SQS::Queue"}
    assert sliced["Resources"]["Api"] == {"Type": "AWS::ApiGateway::RestApi"}
    assert "Bucket" not in sliced["Resources"]
    assert {k: v for k, v in sliced.items() if k != "Resources"} == {
        k: v for k, v in TEMPLATE.items() if k != "Resources"}


def test_a_resource_of_the_slices_types_is_whole_even_when_also_referenced():
    sliced = sliced_template(TEMPLATE, frozenset({"AWS::Lambda::Function", "AWS::IAM::Role"}))
    assert sliced["Resources"]["FnRole"] == TEMPLATE["Resources"]["FnRole"]


def test_every_rule_lands_in_exactly_one_slice():
    rules = {f"rule-{i}": frozenset({f"AWS::S::T{i % 4}"}) for i in range(10)}
    found = slices(rules, {f"AWS::S::T{i}": 1000 for i in range(4)})
    assert sorted(rule for part in found for rule in part.rules) == sorted(rules)


def test_small_slices_share_a_process_and_large_ones_do_not():
    rules = {"a": frozenset({"AWS::S::A"}), "b": frozenset({"AWS::S::B"})}
    assert len(slices(rules, {"AWS::S::A": 100, "AWS::S::B": 100})) == 1
    large = int(PROCESS_SECONDS / SECONDS_PER_RULE_BYTE)  # each rule over the other's resources costs a process
    assert len(slices(rules, {"AWS::S::A": large, "AWS::S::B": large})) == 2


def test_rules_naming_the_same_present_types_share_a_slice():
    rules = {"a": frozenset({"AWS::S::A", "AWS::S::Absent"}), "b": frozenset({"AWS::S::A"})}
    (part,) = slices(rules, {"AWS::S::A": 10**9})
    assert part == Slice(rules=("a", "b"), types=frozenset({"AWS::S::A"}))
