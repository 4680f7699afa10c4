"""Least privilege (issue 15 item 6): every IAM role's exact grants against tests/least_privilege.py.

Each role of every environment's four stacks is normalised into a set of (action, resource, condition)
grants; resources and conditions are rendered readably (an ARN loses its ``arn:aws:`` partition, region and
account; a token becomes the name of the resource it points at, across stacks too). The expected set of each
role is written in tests/least_privilege.py from what its workload calls, so an added action, a widened
resource or a dropped condition fails the test named after the role.
"""

from __future__ import annotations

import json
import re

import pytest

from cfn import resources
import spec
from spec import ENVIRONMENTS

import least_privilege as lp

STACKS = ("foundation", "persistent", "compute", "edge")
_HASH = re.compile(r"[0-9A-F]{8}$")
_ARN = re.compile(r"^arn:aws:([^:]+):([a-z0-9-]*):(\d{12})?:")
_ACCOUNT = re.compile(r"^\d{12}$")
# Types whose Ref is their name (not their ARN).
_REF_IS_NAME = {"AWS::Lambda::Function", "AWS::Logs::LogGroup", "AWS::ECR::Repository", "AWS::ECS::Cluster"}
# The property holding a resource's readable name, per type, and how its ARN/Ref is written.
_NAMED = {
    "AWS::Lambda::Function": ("FunctionName", "lambda:function:{}"),
    "AWS::Logs::LogGroup": ("LogGroupName", "logs:log-group:{}:*"),
    "AWS::ECR::Repository": ("RepositoryName", "ecr:repository/{}"),
    "AWS::SNS::Topic": ("TopicName", "sns:{}"),
    "AWS::SecretsManager::Secret": ("Name", "secretsmanager:secret:{}"),
    "AWS::SQS::Queue": ("QueueName", "sqs:{}"),
    "AWS::StepFunctions::StateMachine": ("StateMachineName", "states:stateMachine:{}"),
    "AWS::ECS::Cluster": ("ClusterName", "ecs:cluster/{}"),
    "AWS::ECS::TaskDefinition": ("Family", "ecs:task-definition/{}"),
    "AWS::ServiceDiscovery::Service": ("Name", "servicediscovery:service/{}"),
}


def stable_id(logical_id: str) -> str:
    """A logical id without CDK's hash suffix: the construct path, stable across environments."""
    return _HASH.sub("", logical_id)


class Renderer:
    """Renders CloudFormation values of one template (and the stacks it reads outputs of) as readable text."""

    def __init__(self, templates: dict[str, dict], stack: str):
        self.templates, self.stack = templates, stack

    def _by_stack_name(self, name: str) -> str:
        return next(s for s in self.templates if name.startswith(f"tradai-{s}-"))

    def resource(self, logical_id: str, attribute: str = "Ref", stack: str | None = None) -> str:
        stack = stack or self.stack
        resource = self.templates[stack]["Resources"][logical_id]
        kind, props = resource["Type"], resource.get("Properties", {})
        if attribute == "Ref" and kind in _REF_IS_NAME:
            return props[_NAMED[kind][0]]
        if kind == "AWS::IAM::Role" and attribute in ("Arn", "Ref"):
            return f"iam:role/{stable_id(logical_id)}"
        if kind in _NAMED and attribute in ("Arn", "Ref") and isinstance(props.get(_NAMED[kind][0]), str):
            return _NAMED[kind][1].format(props[_NAMED[kind][0]])
        return f"<{stable_id(logical_id)}{'' if attribute == 'Ref' else '.' + attribute}>"

    def __call__(self, value) -> str:
        if isinstance(value, str):
            if _ACCOUNT.match(value):
                return "<account>"
            return _ARN.sub(lambda m: f"{m.group(1)}:", value)
        if isinstance(value, list):
            return ",".join(self(v) for v in value)
        (key, arg), = value.items()
        if key == "Ref":
            return {"AWS::Partition": "aws", "AWS::Region": "${Region}", "AWS::AccountId": "${Account}",
                    "AWS::URLSuffix": "amazonaws.com"}.get(arg) or self.resource(arg)
        if key == "Fn::GetAtt":
            return self.resource(arg[0], arg[1])
        if key == "Fn::Join":
            return self("".join(v if isinstance(v, str) else Raw(self, v) for v in arg[1]))
        if key == "Fn::GetStackOutput":
            stack = self._by_stack_name(arg["StackName"])
            return Renderer(self.templates, stack)(self.templates[stack]["Outputs"][arg["OutputName"]]["Value"])
        if key == "Fn::ImportValue":
            raise AssertionError(f"unexpected import {arg}")
        raise AssertionError(f"cannot render {value}")


class Raw(str):
    """A rendered token inside a Join (kept as text, then the whole join is shortened once)."""

    def __new__(cls, renderer: Renderer, value):
        return str.__new__(cls, renderer(value))


def _condition(render: Renderer, condition: dict | None) -> str:
    if not condition:
        return ""
    parts = []
    for operator, tests in sorted(condition.items()):
        for key, value in sorted(tests.items()):
            values = sorted(render(v) for v in (value if isinstance(value, list) else [value]))
            parts.append(f"{operator} {key}={'|'.join(values)}")
    return "; ".join(parts)


def _statements(template: dict, role_id: str) -> list[dict]:
    role = template["Resources"][role_id]["Properties"]
    found = [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and \
                {"Ref": role_id} in resource["Properties"].get("Roles", []):
            found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return found


def grants(templates: dict[str, dict], stack: str, role_id: str) -> set[tuple[str, str, str]]:
    """(action, resource, condition) of every Allow the role holds; managed policies as ("managed", name, "")."""
    render = Renderer(templates, stack)
    role = templates[stack]["Resources"][role_id]["Properties"]
    found = {("managed", render(arn).removeprefix("arn:aws:iam::aws:policy/"), "")
             for arn in role.get("ManagedPolicyArns", [])}
    for statement in _statements(templates[stack], role_id):
        assert statement["Effect"] == "Allow" and not {"NotAction", "NotResource"} & set(statement), statement
        condition = _condition(render, statement.get("Condition"))
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        found |= {(action, render(resource), condition) for action in actions for resource in resources}
    return found


def trust(templates: dict[str, dict], stack: str, role_id: str) -> str:
    """Who may assume the role: the service principal, and the trust policy's condition if any."""
    render = Renderer(templates, stack)
    statements = templates[stack]["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert all(s["Action"] == "sts:AssumeRole" and s["Effect"] == "Allow" for s in statements), statements
    return ", ".join(sorted(" if ".join(filter(None, (s["Principal"]["Service"], _condition(render, s.get("Condition")))))
                            for s in statements))


def roles(templates: dict[str, dict]) -> dict[str, tuple[str, str]]:
    """Stable id -> (stack, logical id) of every role in one environment."""
    found = {}
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role":
                found[stable_id(logical_id)] = (stack, logical_id)
    return found


@pytest.fixture(scope="module")
def environments(synthesized) -> dict[str, dict[str, dict]]:
    return {env: {stack: synthesized[(env, stack)].json for stack in STACKS} for env in ENVIRONMENTS}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_role_is_in_the_table(environments, env):
    present = set(roles(environments[env]))
    expected = {name for name, role in lp.ROLES.items() if env in role.envs}
    assert not present - expected, (
        f"{env}: roles without an expectation: {sorted(present - expected)}; add each to tests/least_privilege.py "
        "with the workload calls that justify its grants")
    assert not expected - present, f"{env}: expected roles the templates no longer have: {sorted(expected - present)}"


@pytest.mark.parametrize("role_name", sorted(lp.ROLES))
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_role_grants_are_exactly_what_its_workload_uses(environments, env, role_name):
    role = lp.ROLES[role_name]
    if env not in role.envs:
        pytest.skip(f"{role_name} exists only in {', '.join(role.envs)}")
    templates = environments[env]
    stack, logical_id = roles(templates).get(role_name, (None, None))
    assert logical_id is not None, f"{role_name} is not in {env}"
    assert stack == role.stack
    assert trust(templates, stack, logical_id) == role.trust
    actual, expected = grants(templates, stack, logical_id), role.expected(env)
    assert actual == expected, (
        f"{env} {role_name}:\n  granted but not expected (narrow it, or justify it in tests/least_privilege.py):\n"
        + "".join(f"    {g}\n" for g in sorted(actual - expected))
        + "  expected but not granted:\n" + "".join(f"    {g}\n" for g in sorted(expected - actual)))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_vpc_functions_hold_what_lambda_needs_for_their_enis(environments, env):
    """Without CreateNetworkInterface & co. Lambda refuses to create or update a function in a VPC."""
    templates = environments[env]
    in_vpc = [props for props in resources(templates["compute"], "AWS::Lambda::Function").values()
              if "VpcConfig" in props]
    assert len(in_vpc) == sum(row[2] for row in {**spec.LAMBDAS, **spec.ADDED_LAMBDAS}.values())  # spec 7: VPC Yes
    for props in in_vpc:
        role = props["Role"]["Fn::GetAtt"][0]
        granted = grants(templates, "compute", role)
        assert {g[0] for g in granted} >= {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"}, props["FunctionName"]



def test_table_grant_is_exactly_the_calls_named():
    """TradaiTable.grant: the actions on the table, or Query/Scan on named indexes only; a typo fails synth."""
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from tradai_cdk.config.canonical import TABLES
    from tradai_cdk.constructs.tradai_table import GET, QUERY, UPDATE, TradaiTable

    stack = cdk.Stack(cdk.App(), "Probe", env=cdk.Environment(account="123456789012", region="eu-central-1"))
    table = TradaiTable(stack, "Table", table_name="tradai-workflow-state-dev",
                        spec=next(s for s in TABLES if s.key == "workflow-state"), deletion_protection=False,
                        removal_policy=cdk.RemovalPolicy.DESTROY)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    table.grant(role, [GET, UPDATE])
    table.grant(role, [QUERY], indexes=["status-created_at-index"])
    render = Renderer({}, "probe")  # the ARNs are built from the physical name: no token to look up
    found = {(action, render(statement["Resource"]))
             for statement in stack.resolve(role.node.find_child("DefaultPolicy").document)["Statement"]
             for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])}
    table_arn = "dynamodb:table/tradai-workflow-state-dev"
    assert found == {(GET, table_arn), (UPDATE, table_arn), (QUERY, f"{table_arn}/index/status-created_at-index")}
    for bad in (dict(actions=[GET], indexes=["status-created_at-index"]),  # GetItem does not apply to an index
                dict(actions=[QUERY], indexes=["no-such-index"]),
                dict(actions=["dynamodb:*"]), dict(actions=[])):
        with pytest.raises(ValueError):
            table.grant(role, **bad)
