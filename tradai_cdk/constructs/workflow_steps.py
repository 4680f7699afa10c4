"""Step Functions steps shared by TradAI workflows: a Lambda task with transient-error retries, and the
on-demand strategy container (spec 2.2, 2.5) run to completion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import (
    aws_ec2 as ec2,
    aws_ecs as ecs,
    aws_lambda as lambda_,
    aws_logs as logs,
    aws_stepfunctions as sfn,
    aws_stepfunctions_tasks as tasks,
)
from constructs import Construct


def logged_state_machine(
    scope: Construct, name: str, definition: sfn.IChainable, timeout: cdk.Duration, log_retention: logs.RetentionDays
) -> sfn.StateMachine:
    """A standard workflow ``name`` with X-Ray and every execution event (with data) logged to
    ``/aws/vendedlogs/states/<name>`` for the environment's retention."""
    log_group = logs.LogGroup(
        scope,
        "StateMachineLogs",
        log_group_name=f"/aws/vendedlogs/states/{name}",
        retention=log_retention,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    return sfn.StateMachine(
        scope,
        "StateMachine",
        state_machine_name=name,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.STANDARD,
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
    )


TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


def invoke_step(
    scope: Construct,
    construct_id: str,
    function: lambda_.IFunction,
    payload: Mapping[str, Any] | None,
    result_path: str,
    timeout: cdk.Duration,
) -> tasks.LambdaInvoke:
    """Invoke ``function`` with ``payload`` (None: the state's input); only Lambda's own transient errors
    are retried (3 attempts, backoff 2), the function's errors go to the workflow's catch."""
    task_input = None if payload is None else sfn.TaskInput.from_object(dict(payload))
    step = tasks.LambdaInvoke(
        scope,
        construct_id,
        lambda_function=function,
        payload=task_input,
        payload_response_only=True,
        retry_on_service_exceptions=False,
        result_path=result_path,
        task_timeout=sfn.Timeout.duration(timeout),
    )
    step.add_retry(errors=TRANSIENT_LAMBDA_ERRORS, interval=cdk.Duration.seconds(2), max_attempts=3, backoff_rate=2)
    return step


def step_timeout(function: lambda_.Function, margin: cdk.Duration) -> cdk.Duration:
    """A Lambda step's task timeout: the function's own plus ``margin`` for the invoke."""
    if function.timeout is None:
        raise ValueError(f"{function.node.path}: a function a workflow invokes needs a timeout")
    return function.timeout.plus(margin)


@dataclass(frozen=True)
class StrategyTask:
    """The on-demand task a workflow runs and where: family prefix, capacity provider, network."""

    cluster: ecs.ICluster
    task_definition: ecs.FargateTaskDefinition
    family_prefix: str
    capacity_provider: str
    subnets: Sequence[ec2.ISubnet]
    security_group: ec2.ISecurityGroup


def run_strategy_task(
    scope: Construct,
    construct_id: str,
    task: StrategyTask,
    environment: Mapping[str, str],
    timeout: cdk.Duration,
    result_path: str,
) -> tasks.EcsRunTask:
    """Run the strategy container to completion (``.sync``) on the task's capacity provider, in private
    subnets, with ``environment`` (variable -> value or JsonPath) as per-run container overrides."""
    return tasks.EcsRunTask(
        scope,
        construct_id,
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        cluster=task.cluster,
        task_definition=task.task_definition,
        assign_public_ip=False,
        subnets=ec2.SubnetSelection(subnets=list(task.subnets)),
        security_groups=[task.security_group],
        launch_target=tasks.EcsFargateLaunchTarget(
            platform_version=ecs.FargatePlatformVersion.LATEST,
            capacity_provider_options=tasks.CapacityProviderOptions.custom(
                [ecs.CapacityProviderStrategy(capacity_provider=task.capacity_provider, weight=1)]
            ),
        ),
        container_overrides=[
            tasks.ContainerOverride(
                container_definition=_default_container(task.task_definition),
                environment=[
                    tasks.TaskEnvironmentVariable(name=name, value=value) for name, value in environment.items()
                ],
            )
        ],
        result_path=result_path,
        task_timeout=sfn.Timeout.duration(timeout),
    )


def _default_container(task_definition: ecs.TaskDefinition) -> ecs.ContainerDefinition:
    container = task_definition.default_container
    if container is None:
        raise ValueError(f"{task_definition.node.path}: the strategy task definition has no container")
    return container
