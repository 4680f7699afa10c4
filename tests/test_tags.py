"""Spec section 9.2: the required tags on every taggable resource of every stack."""

import pytest

import spec
from cfn import resources, tags

# Types that must carry tags (the Tags property) wherever they appear.
MUST_BE_TAGGED = ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::InternetGateway",
                  "AWS::EC2::SecurityGroup", "AWS::EC2::EIP", "AWS::EC2::FlowLog", "AWS::IAM::Role",
                  "AWS::Lambda::Function", "AWS::Logs::LogGroup", "AWS::SQS::Queue")


def _taggable(template: dict):
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource["Type"] in MUST_BE_TAGGED or "Tags" in props:
            yield logical_id, resource["Type"], props


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_required_tags_on_every_taggable_resource(env, synthesized):
    expected = dict(spec.REQUIRED_TAGS, Environment=env)
    checked = set()
    for (stack_env, stack), synth in synthesized.items():
        if stack_env != env:
            continue
        for logical_id, resource_type, props in _taggable(synth.json):
            checked.add(resource_type)
            tagged = props.get("Tags")
            assert isinstance(tagged, (list, dict)), f"{stack}/{logical_id} ({resource_type}) has no Tags"
            if isinstance(tagged, dict):  # a map where the type's schema says so (AWS::ApiGatewayV2::*)
                found = tagged
            elif resource_type == "AWS::AutoScaling::AutoScalingGroup":
                found = {t["Key"]: t["Value"] for t in tagged}
            else:
                found = tags(props)
            assert expected.items() <= found.items(), f"{stack}/{logical_id}"
    assert set(MUST_BE_TAGGED) <= checked, set(MUST_BE_TAGGED) - checked  # the filter let every listed type through


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_launch_template_tags_what_it_launches(env, synthesized):
    (template,) = resources(synthesized[(env, "foundation")].json, "AWS::EC2::LaunchTemplate").values()
    assert template["TagSpecifications"]
    for spec_of_tags in template["TagSpecifications"]:
        found = tags(spec_of_tags)
        assert dict(spec.REQUIRED_TAGS, Environment=env, Service="nat-instance").items() <= found.items()


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_nat_resources_carry_their_service_tag(env, synthesized):
    template = synthesized[(env, "foundation")].json
    for resource_type in ("AWS::EC2::EIP", "AWS::Lambda::Function", "AWS::AutoScaling::AutoScalingGroup"):
        found = resources(template, resource_type)
        assert found, resource_type
        for props in found.values():
            assert {t["Key"]: t["Value"] for t in props["Tags"]}["Service"] == "nat-instance"
