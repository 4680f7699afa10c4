"""Strategy deployments as a workflow: stage into dry-run trading, promote to live, roll back.

One state machine runs every action (see ``lambda_src/deployments/contract.py``): prepare -> start the mode's
trading task -> poll until it is healthy and heartbeating (or its deadline passes) -> activate (Cloud Map,
slot RUNNING, deployment SUCCEEDED; promote retires the dry-run) — any failure -> abort (stop the new task,
slot and deployment FAILED, whatever ran before keeps running) -> fail. Each step is one invocation of the
deployer function, so the execution history shows every step with its input and output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aws_cdk as cdk
from aws_cdk import (
    aws_ec2 as ec2,
    aws_ecs as ecs,
    aws_iam as iam,
    aws_logs as logs,
    aws_servicediscovery as servicediscovery,
    aws_stepfunctions as sfn,
)
from constructs import Construct

from lambda_src.deployments import contract

from .tradai_function import FunctionProps, TradaiFunction
from .tradai_table import GET, PUT, QUERY, UPDATE
from .workflow_steps import invoke_step, logged_state_machine, step_timeout

STEP_MARGIN = cdk.Duration.seconds(10)  # a step's timeout beyond the deployer's own
# Error names (Python exception classes) of AWS calls that failed after botocore's own retries.
TRANSIENT_ERRORS = ("ClientError", "ReadTimeoutError", "ConnectTimeoutError", "EndpointConnectionError")


class DeploymentTable(Protocol):
    @property
    def table_name(self) -> str: ...

    def grant(self, grantee: iam.IGrantable, actions: Sequence[str], indexes: Sequence[str] = ()) -> iam.Grant: ...


@dataclass(frozen=True)
class TradingMode:
    """Where one trading mode runs: its task definition, capacity provider and Cloud Map service."""

    task_definition: ecs.FargateTaskDefinition
    capacity_provider: str
    discovery_service: servicediscovery.IService
    port: int


@dataclass(frozen=True)
class DeploymentTables:
    trading_state: DeploymentTable
    deployments: DeploymentTable
    config_versions: DeploymentTable


@dataclass(frozen=True)
class DeploymentTiming:
    health_timeout: cdk.Duration  # a new task must be healthy and heartbeating within this
    poll_interval: cdk.Duration
    run_timeout: cdk.Duration


class StrategyDeployment(Construct):
    """The deployer function (outside the VPC: it only calls AWS APIs) and the deployment workflow."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployer: FunctionProps,
        cluster: ecs.ICluster,
        modes: Mapping[str, TradingMode],
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
        namespace: servicediscovery.PrivateDnsNamespace,
        tables: DeploymentTables,
        configs_bucket_name: str,
        environment_name: str,
        deployment_ttl: cdk.Duration,
        timing: DeploymentTiming,
        log_retention: logs.RetentionDays,
        state_machine_name: str,
    ):
        super().__init__(scope, construct_id)
        if set(modes) != {contract.DRY_RUN, contract.LIVE}:
            raise ValueError(f"modes={sorted(modes)}; required: exactly {contract.DRY_RUN} and {contract.LIVE}")
        self._cluster, self.modes, self._namespace = cluster, dict(modes), namespace
        self.deployer = TradaiFunction(
            self,
            "Deployer",
            props=deployer,
            environment={
                contract.ENV_TRADING_TABLE: tables.trading_state.table_name,
                contract.ENV_DEPLOYMENTS_TABLE: tables.deployments.table_name,
                contract.ENV_CONFIG_VERSIONS_TABLE: tables.config_versions.table_name,
                contract.ENV_CONFIGS_BUCKET: configs_bucket_name,
                contract.ENV_ECS_CLUSTER: cluster.cluster_arn,
                contract.ENV_TASK_SUBNETS: ",".join(s.subnet_id for s in subnets),
                contract.ENV_TASK_SECURITY_GROUPS: security_group.security_group_id,
                contract.ENV_ENVIRONMENT: environment_name,
                contract.ENV_DEPLOYMENT_TTL_DAYS: str(int(deployment_ttl.to_days())),
                contract.ENV_HEALTH_TIMEOUT_SECONDS: str(int(timing.health_timeout.to_seconds())),
                contract.ENV_MODES: cdk.Stack.of(self).to_json_string(
                    {
                        mode: {
                            "family": target.task_definition.family,
                            "capacity_provider": target.capacity_provider,
                            "discovery_service_id": target.discovery_service.service_id,
                            "port": target.port,
                        }
                        for mode, target in modes.items()
                    }
                ),
            },
        )
        role = self.deployer.role
        # The deployer's DynamoDB calls (deployments.aws_access): slots get + conditional update_item; deployment
        # records get/put/update_item and query (history); config versions get_item and query of the hash index.
        tables.trading_state.grant(role, [GET, UPDATE])
        tables.deployments.grant(role, [GET, PUT, UPDATE, QUERY])
        tables.config_versions.grant(role, [GET])
        tables.config_versions.grant(role, [QUERY], indexes=[contract.CONFIG_HASH_INDEX])
        self._grant_tasks(role)
        self._grant_discovery(role)
        self.state_machine_name = state_machine_name
        self.state_machine = self._state_machine(timing, log_retention)

    def _state_machine(self, timing: DeploymentTiming, log_retention: logs.RetentionDays) -> sfn.StateMachine:
        fn, path = self.deployer.function, sfn.JsonPath

        def step(state_id: str, name: str, result_path: str, **fields: Any) -> sfn.TaskStateBase:
            """Every step is idempotent, so AWS errors that outlasted botocore's retries are retried here;
            refusals (AlreadyRunning, NotStaged, ...) and bad input are not."""
            return invoke_step(
                self,
                state_id,
                fn,
                {"step": name, "deployment_id": path.execution_name, "request": path.object_at("$.request"), **fields},
                result_path,
                step_timeout(fn, STEP_MARGIN),
            ).add_retry(
                errors=list(TRANSIENT_ERRORS), interval=cdk.Duration.seconds(10), max_attempts=3, backoff_rate=2
            )

        plan, task = path.object_at("$.plan"), path.object_at("$.task")
        # Empty plan/task/check up front: abort can always build its input, whichever step failed.
        begin = sfn.Pass(
            self, "Begin", parameters={"request": path.entire_payload, "plan": {}, "task": {}, "check": {}}
        )
        prepare = step("Prepare", contract.STEP_PREPARE, "$.plan")
        start = step("StartTask", contract.STEP_START, "$.task", plan=plan)
        wait = sfn.Wait(self, "WaitForTask", time=sfn.WaitTime.duration(timing.poll_interval))
        check = step("CheckTask", contract.STEP_CHECK, "$.check", plan=plan, task=task)
        activate = step(
            "Activate", contract.STEP_ACTIVATE, "$.activation", plan=plan, task=task, check=path.object_at("$.check")
        )
        abort = step("Abort", contract.STEP_ABORT, "$.abort", plan=plan, task=task, error=path.object_at("$.error"))
        failed = sfn.Fail(
            self,
            "DeploymentFailed",
            error="DeploymentFailed",
            cause_path=path.format("Deployment {} failed", path.execution_name),
        )
        unhealthy = sfn.Pass(
            self,
            "TaskUnhealthy",
            result_path="$.error",
            parameters={"Error": "TaskUnhealthy", "Cause": path.string_at("$.check.reason")},
        )
        abort.add_catch(failed, errors=["States.ALL"], result_path="$.abort_error")
        aborting = abort.next(failed)
        for state in (prepare, start, check, activate):
            state.add_catch(aborting, errors=["States.ALL"], result_path="$.error")

        verdict = (
            sfn.Choice(self, "TaskHealthy?")
            .when(
                sfn.Condition.string_equals("$.check.state", contract.HEALTHY),
                activate.next(sfn.Succeed(self, "Deployed")),
            )
            .when(sfn.Condition.string_equals("$.check.state", contract.FAILED_CHECK), unhealthy.next(aborting))
            .otherwise(wait)
        )
        definition = begin.next(prepare).next(start).next(wait).next(check).next(verdict)
        return logged_state_machine(self, self.state_machine_name, definition, timing.run_timeout, log_retention)

    def _grant_tasks(self, role: iam.IRole) -> None:
        """Run exactly the two trading task definitions on this cluster, pass exactly their roles; see, tag and
        stop this cluster's tasks."""
        stack = cdk.Stack.of(self)
        definitions = [
            stack.format_arn(
                service="ecs", resource="task-definition", resource_name=f"{target.task_definition.family}:*"
            )
            for target in self.modes.values()
        ]
        on_cluster = {"ArnEquals": {"ecs:cluster": self._cluster.cluster_arn}}
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:RunTask"], resources=definitions, conditions=on_cluster)
        )
        roles = [
            r.role_arn
            for target in self.modes.values()
            for r in (target.task_definition.task_role, target.task_definition.execution_role)
            if r is not None
        ]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=roles,
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
        tasks = stack.format_arn(service="ecs", resource="task", resource_name=f"{self._cluster.cluster_name}/*")
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:DescribeTasks", "ecs:StopTask"], resources=[tasks])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:TagResource"],
                resources=[tasks],
                conditions={"StringEquals": {"ecs:CreateAction": "RunTask"}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:ListTasks"], resources=["*"], conditions=on_cluster)
        )

    def _grant_discovery(self, role: iam.IRole) -> None:
        """Register and deregister instances only in the two trading services (and the DNS records Cloud Map
        writes for them in the namespace's private hosted zone)."""
        services = [target.discovery_service.service_arn for target in self.modes.values()]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "servicediscovery:RegisterInstance",
                    "servicediscovery:DeregisterInstance",
                    "servicediscovery:GetInstance",
                ],
                resources=services,
            )
        )
        zone = cdk.Stack.of(self).format_arn(
            service="route53",
            region="",
            account="",
            resource="hostedzone",
            resource_name=self._namespace.namespace_hosted_zone_id,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["route53:ChangeResourceRecordSets", "route53:GetHostedZone"], resources=[zone])
        )
        # Cloud Map checks the namespace's VPC with the caller's rights; DescribeVpcs has no resource scope.
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:DescribeVpcs"], resources=["*"]))

    def grant_start(self, grantee: iam.IGrantable) -> None:
        """Start deployments and read their executions (the caller waits for or reports the outcome)."""
        self.state_machine.grant_start_execution(grantee)
        executions = cdk.Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        iam.Grant.add_to_principal(grantee=grantee, resource_arns=[executions], actions=["states:DescribeExecution"])
