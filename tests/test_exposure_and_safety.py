"""Issue 15: network exposure, log retention and deployment safety, each asserted on its own (never only by a
snapshot) for every environment."""

from __future__ import annotations

import json

import pytest

import spec
from cfn import resources

STACKS = ("foundation", "persistent", "compute", "edge")
# The only launch configuration that may give an instance a public address: the NAT instance (spec 1.2/1.4).
PUBLIC_IP_ALLOWED = {"NatInstanceLaunchTemplate"}
# Deployment safety per compute mode (this test's table): Fargate keeps every task until its replacement is
# healthy; the single shared EC2 host (static host ports) must stop the old task first.
MIN_HEALTHY = {"dev": 0, "staging": 0, "prod": 100}
MAX_HEALTHY = {"dev": 100, "staging": 100, "prod": 200}


def _states(machine) -> list[dict]:
    """Every state of a state machine definition (CloudFormation tokens rendered as TOKEN)."""
    body = machine["DefinitionString"]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in body["Fn::Join"][1]) if isinstance(body, dict) else body
    return list(json.loads(text)["States"].values())


def _all(synthesized, env, resource_type):
    return {(stack, key): props for stack in STACKS
            for key, props in resources(synthesized[(env, stack)].json, resource_type).items()}


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_only_the_nat_instance_gets_a_public_ip(env, synthesized):
    templates = _all(synthesized, env, "AWS::EC2::LaunchTemplate")
    assert templates
    public = {key.rstrip("0123456789ABCDEF") for (_, key), props in templates.items()
              if any(ni.get("AssociatePublicIpAddress") for ni in props["LaunchTemplateData"].get("NetworkInterfaces", []))}
    assert {p for p in public if not any(p.startswith(a) for a in PUBLIC_IP_ALLOWED)} == set()
    assert any(p.startswith("NatInstanceLaunchTemplate") for p in public)


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_no_service_task_or_database_is_reachable_from_the_internet(env, synthesized):
    services = _all(synthesized, env, "AWS::ECS::Service")
    assert len(services) == len(spec.SERVICES)
    for key, props in services.items():
        vpc = props.get("NetworkConfiguration", {}).get("AwsvpcConfiguration")
        if vpc is not None:  # Fargate (prod); bridge-mode tasks on the shared host have no ENI of their own
            assert vpc["AssignPublicIp"] == "DISABLED", key
    (balancer,) = _all(synthesized, env, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert balancer["Scheme"] == "internal"
    (database,) = _all(synthesized, env, "AWS::RDS::DBInstance").values()
    assert database["PubliclyAccessible"] is False
    run_tasks = [(key, state) for key, machine in _all(synthesized, env, "AWS::StepFunctions::StateMachine").items()
                 for state in _states(machine) if "ecs:runTask" in str(state.get("Resource"))]
    assert len(run_tasks) == 3  # backtest, train, shadow test
    for key, state in run_tasks:
        vpc = state["Parameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert vpc.get("AssignPublicIp", "DISABLED") == "DISABLED", key  # RunTask's default is DISABLED
        assert vpc["Subnets"], key


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_only_the_alb_security_group_admits_the_internet(env, synthesized):
    groups = _all(synthesized, env, "AWS::EC2::SecurityGroup")
    assert groups
    open_ingress = {props["GroupName"] for props in groups.values()
                    for rule in props.get("SecurityGroupIngress", []) if rule.get("CidrIp") == "0.0.0.0/0"}
    standalone = [props for props in _all(synthesized, env, "AWS::EC2::SecurityGroupIngress").values()
                  if props.get("CidrIp") == "0.0.0.0/0"]
    assert open_ingress <= {"tradai-alb-sg"} and not standalone


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_every_log_group_keeps_the_environments_retention(env, synthesized):
    groups = _all(synthesized, env, "AWS::Logs::LogGroup")
    assert len(groups) > 20
    for key, props in groups.items():
        assert props.get("RetentionInDays") == spec.LOG_RETENTION_DAYS[env], key


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_service_deployments_roll_back_on_failure_and_keep_capacity(env, synthesized):
    services = _all(synthesized, env, "AWS::ECS::Service")
    assert len(services) == len(spec.SERVICES)
    for key, props in services.items():
        configuration = props["DeploymentConfiguration"]
        assert configuration["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}, key
        assert configuration["MinimumHealthyPercent"] == MIN_HEALTHY[env], key
        assert configuration["MaximumPercent"] == MAX_HEALTHY[env], key
        assert props["HealthCheckGracePeriodSeconds"] == 120, key


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_deletion_protection_follows_spec_10(env, synthesized):
    protected = spec.DELETION_PROTECTION[env]
    tables = _all(synthesized, env, "AWS::DynamoDB::Table")
    assert len(tables) == 12
    assert all(props.get("DeletionProtectionEnabled", False) is protected for props in tables.values())
    (database,) = _all(synthesized, env, "AWS::RDS::DBInstance").values()
    assert database["DeletionProtection"] is protected
    (balancer,) = _all(synthesized, env, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    attributes = {a["Key"]: a["Value"] for a in balancer["LoadBalancerAttributes"]}
    assert attributes["deletion_protection.enabled"] == str(protected).lower()
    (pool,) = _all(synthesized, env, "AWS::Cognito::UserPool").values()
    assert pool.get("DeletionProtection", "INACTIVE") == ("ACTIVE" if protected else "INACTIVE")
