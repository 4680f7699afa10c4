"""Every stack: each role is trusted by the service of what uses it (read back: a function's, task
definition's, state machine's, instance profile's, flow log's, API integration's or database's role), and each policy is
attached to its role with every project resource it names (tables, queues, buckets, secrets, state
machines) one the config defines."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from tradai_cdk.config import TradaiConfig

from .alarms import WORKFLOWS
from .compute import queue_name
from .model import CheckContext, Findings, StackView
from .persistent import MASTER_SECRET

LAMBDA, ECS_TASKS, STATES = "lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "states.amazonaws.com"


def _consumers(view: StackView, ctx: CheckContext) -> dict[str, tuple[str, str]]:
    """Role ARN -> (what uses it, the service principal that must be trusted), read back from the emulator."""
    found: dict[str, tuple[str, str]] = {}
    for fn in view.of_type("AWS::Lambda::Function"):
        role = ctx.client("lambda").get_function_configuration(FunctionName=fn.physical_id)["Role"]
        found[role] = (f"function {fn.physical_id}", LAMBDA)
    for task in view.of_type("AWS::ECS::TaskDefinition"):
        definition = ctx.client("ecs").describe_task_definition(taskDefinition=task.physical_id)["taskDefinition"]
        for key in ("taskRoleArn", "executionRoleArn"):
            if definition.get(key):
                found[definition[key]] = (f"{definition['family']} {key.removesuffix('Arn')}", ECS_TASKS)
    for machine in view.of_type("AWS::StepFunctions::StateMachine"):
        described = ctx.client("stepfunctions").describe_state_machine(stateMachineArn=machine.physical_id)
        found[described["roleArn"]] = (f"state machine {described['name']}", STATES)
    for profile in view.of_type("AWS::IAM::InstanceProfile"):
        roles = ctx.client("iam").get_instance_profile(InstanceProfileName=profile.physical_id)
        for role in roles["InstanceProfile"]["Roles"]:
            found[role["Arn"]] = (f"instance profile {profile.physical_id}", "ec2.amazonaws.com")
    for log in view.of_type("AWS::EC2::FlowLog"):
        for flow in ctx.client("ec2").describe_flow_logs(FlowLogIds=[log.physical_id])["FlowLogs"]:
            found[flow["DeliverLogsPermissionArn"]] = ("VPC flow log", "vpc-flow-logs.amazonaws.com")
    for method in view.of_type("AWS::ApiGateway::Method"):
        if "Credentials" in method.properties.get("Integration", {}):
            answer = ctx.client("apigateway").get_method(
                restApiId=view.resolve(method.properties["RestApiId"]),
                resourceId=view.resolve(method.properties["ResourceId"]),
                httpMethod=method.properties["HttpMethod"],
            )
            found[answer["methodIntegration"]["credentials"]] = (
                f"API method {method.logical_id}",
                "apigateway.amazonaws.com",
            )
    for db in view.of_type("AWS::RDS::DBInstance"):
        for instance in ctx.client("rds").describe_db_instances(DBInstanceIdentifier=db.physical_id)["DBInstances"]:
            if instance.get("MonitoringRoleArn"):
                found[instance["MonitoringRoleArn"]] = ("enhanced monitoring", "monitoring.rds.amazonaws.com")
    return found


def _trusted(document: Any) -> set[str]:
    document = json.loads(unquote(document)) if isinstance(document, str) else document
    services = [s.get("Principal", {}).get("Service", []) for s in document["Statement"] if s["Effect"] == "Allow"]
    return {name for s in services for name in ([s] if isinstance(s, str) else s)}


def project_resources(cfg: TradaiConfig) -> dict[str, set[str]]:
    """Service -> the names of the project's resources of that service the config defines."""
    return {
        "dynamodb": {cfg.naming.name(t.key) for t in cfg.tables},
        "sqs": {queue_name(cfg, cfg.backtest_queue), queue_name(cfg, cfg.backtest_dlq)},
        "s3": set(cfg.bucket_names),
        "secretsmanager": {cfg.naming.secret(s.short) for s in cfg.secrets} | {cfg.naming.secret(MASTER_SECRET)},
        "states": {cfg.naming.name(w) for w in WORKFLOWS},
    }


def _named(arn: str) -> tuple[str, str] | None:
    """(service, resource name) of a table, queue, bucket, secret or state machine ARN."""
    parts = arn.split(":", 6)
    if len(parts) < 6:
        return None
    service, resource = parts[2], parts[5] + (":" + parts[6] if len(parts) > 6 else "")
    if service == "dynamodb" and resource.startswith("table/"):
        return service, resource.split("/")[1]
    if service == "sqs":
        return service, resource
    if service == "s3":
        return service, resource.split("/")[0]
    if service == "secretsmanager" and resource.startswith("secret:"):
        return service, resource.removeprefix("secret:").rstrip("*").rsplit("-", 1)[0]
    if service == "states" and resource.startswith("stateMachine:"):
        return service, resource.split(":")[1]
    return None


def _resources(document: Any) -> list[str]:
    document = json.loads(unquote(document)) if isinstance(document, str) else document
    found: list[str] = []
    for statement in document["Statement"]:
        value = statement.get("Resource", [])
        found += [value] if isinstance(value, str) else value
    return found


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    roles = view.of_type("AWS::IAM::Role")
    if not roles:
        return
    iam, consumers = ctx.client("iam"), _consumers(view, ctx)
    attached: dict[str, tuple[str, Any]] = {}  # policy name -> (role, document as kept)
    for resource in roles:
        role = iam.get_role(RoleName=resource.physical_id)["Role"]
        for name in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=name)["PolicyDocument"]
            attached[name] = (role["RoleName"], document)
        consumer = consumers.get(role["Arn"])
        if consumer is None:
            findings.not_kept(
                resource.logical_id,
                "trust: nothing in the emulator names this role (a function, task, workflow, profile, flow log, "
                "API integration or database monitoring that moto keeps)",
            )
            continue
        used_by, principal = consumer
        findings.holds(
            resource.logical_id,
            f"trusted by {principal} (used by {used_by})",
            principal in _trusted(role["AssumeRolePolicyDocument"]),
            sorted(_trusted(role["AssumeRolePolicyDocument"])),
        )
    known = project_resources(ctx.cfg)
    prefix = ctx.cfg.naming.project
    generated = tuple(f"{v.stack_name}-" for v in ctx.views.values())
    for policy in view.of_type("AWS::IAM::Policy"):
        name = policy.properties.get("PolicyName", policy.physical_id)
        if name not in attached:
            findings.fail(policy.logical_id, f"policy {name}", "attached to a role of the stack", "on no role")
            continue
        role, document = attached[name]
        named = {
            n
            for n in map(_named, _resources(document))
            if n and n[1].startswith(prefix) and not n[1].startswith(generated)  # CloudFormation names its own
        }
        unknown = sorted(f"{service} {resource}" for service, resource in named if resource not in known[service])
        findings.expect(policy.logical_id, f"on role {role}; project resources not in the config", [], unknown)
