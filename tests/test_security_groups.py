"""Spec section 4.1: every security group carries exactly its table's rules."""

import pytest

import spec
from cfn import ref, resources, tags

# CDK's rule for a group that may send nothing: matches no real traffic.
NO_EGRESS_RULE = ("egress", 252, 86, "icmp", "255.255.255.255/32")


def _rules(template: dict) -> dict[str, set]:
    """GroupName -> {(direction, from, to, protocol, peer)} from inline and standalone rules."""
    groups = resources(template, "AWS::EC2::SecurityGroup")
    names = {logical_id: props["GroupName"] for logical_id, props in groups.items()}

    def peer(rule):
        for key in ("CidrIp", "SourceSecurityGroupId", "DestinationSecurityGroupId"):
            if key in rule:
                return rule[key] if key == "CidrIp" else names[ref(rule[key])]
        raise AssertionError(f"rule without a peer: {rule}")

    def row(direction, rule):
        return (direction, rule["FromPort"], rule["ToPort"], rule["IpProtocol"], peer(rule))

    found = {name: set() for name in names.values()}
    for logical_id, props in groups.items():
        for direction, key in (("ingress", "SecurityGroupIngress"), ("egress", "SecurityGroupEgress")):
            found[names[logical_id]] |= {row(direction, rule) for rule in props.get(key, [])}
    for direction, resource_type in (("ingress", "AWS::EC2::SecurityGroupIngress"),
                                     ("egress", "AWS::EC2::SecurityGroupEgress")):
        for rule in resources(template, resource_type).values():
            found[names[ref(rule["GroupId"])]].add(row(direction, rule))
    return found


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_security_groups_have_exactly_the_spec_rules_and_the_recorded_additions(env, synthesized):
    found = _rules(synthesized[(env, "foundation")].json)
    assert set(found) == set(spec.SECURITY_GROUPS) | set(spec.SECURITY_GROUP_ADDITIONS)
    for name in found:
        rows = spec.SECURITY_GROUPS.get(name, set())
        expected = rows | spec.SECURITY_GROUP_ADDITIONS.get(name, set())
        has_egress = any(rule[0] == "egress" for rule in expected)
        no_egress = set() if has_egress else {NO_EGRESS_RULE}
        assert found[name] == expected | no_egress, name


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_no_group_allows_all_egress(env, synthesized):
    groups = resources(synthesized[(env, "foundation")].json, "AWS::EC2::SecurityGroup")
    assert len(groups) == len(set(spec.SECURITY_GROUPS) | set(spec.SECURITY_GROUP_ADDITIONS))
    for props in groups.values():
        for rule in props.get("SecurityGroupEgress", []):
            assert rule["IpProtocol"] != "-1", props["GroupName"]


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_security_group_name_tags(env, synthesized):
    groups = resources(synthesized[(env, "foundation")].json, "AWS::EC2::SecurityGroup")
    assert len(groups) == len(set(spec.SECURITY_GROUPS) | set(spec.SECURITY_GROUP_ADDITIONS))
    for props in groups.values():
        assert tags(props)["Name"] == f"{props['GroupName']}-{env}"


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_ecs_tasks_reach_mlflow_and_services_only_within_their_own_group(env, synthesized):
    found = _rules(synthesized[(env, "foundation")].json)["tradai-ecs-sg"]
    self_rules = {rule for rule in found if rule[4] == "tradai-ecs-sg"}
    assert self_rules == {rule for rule in spec.SECURITY_GROUP_ADDITIONS["tradai-ecs-sg"] if rule[4] == "tradai-ecs-sg"}
    assert not any(rule[4] == "0.0.0.0/0" and rule[0] == "ingress" for rule in found)


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_lambdas_reach_mlflow_but_no_other_port_beyond_spec(env, synthesized):
    """The ML functions call MLflow on 5000 (the lambda SG's "To MLflow" egress needs its ingress twin)."""
    found = _rules(synthesized[(env, "foundation")].json)["tradai-ecs-sg"]
    from_lambda = {rule for rule in found if rule[4] == "tradai-lambda-sg"}
    assert from_lambda == {("ingress", 8000, 8003, "tcp", "tradai-lambda-sg"),
                           ("ingress", 5000, 5000, "tcp", "tradai-lambda-sg")}
