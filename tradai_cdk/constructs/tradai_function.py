"""A Python Lambda function with its own log group, its own role and optional VPC placement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2, aws_iam as iam, aws_lambda as lambda_, aws_logs as logs, aws_sqs as sqs
from constructs import Construct

VPC_ACCESS_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


@dataclass(frozen=True)
class FunctionProps:
    """Name, handler and sizing of one function; ``vpc`` set means private subnets + the given group."""

    function_name: str
    handler: str
    code: lambda_.Code
    runtime: lambda_.Runtime
    memory_mib: int
    timeout: cdk.Duration
    log_retention: logs.RetentionDays
    layers: Sequence[lambda_.ILayerVersion] = ()
    description: str = ""


@dataclass(frozen=True)
class VpcPlacement:
    vpc: ec2.IVpc
    subnets: Sequence[ec2.ISubnet]
    security_group: ec2.ISecurityGroup


class TradaiFunction(Construct):
    """arm64, X-Ray tracing, a log group with the environment's retention, a role with nothing granted yet."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: FunctionProps,
        environment: Mapping[str, str],
        placement: VpcPlacement | None = None,
        async_retries: int | None = None,
        max_event_age: cdk.Duration | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ):
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{props.function_name}",
            retention=props.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.log_group.grant_write(self.role)
        if placement is not None:
            # What Lambda itself needs to attach the function to the subnets (AWSLambdaVPCAccessExecutionRole's
            # actions; CDK adds them only to roles it creates). These actions take no resource-level scope.
            self.role.add_to_policy(iam.PolicyStatement(actions=list(VPC_ACCESS_ACTIONS), resources=["*"]))
        vpc_options: dict[str, Any] = (
            {}
            if placement is None
            else dict(
                vpc=placement.vpc,
                vpc_subnets=ec2.SubnetSelection(subnets=list(placement.subnets)),
                security_groups=[placement.security_group],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=props.function_name,
            code=props.code,
            handler=props.handler,
            runtime=props.runtime,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=props.memory_mib,
            timeout=props.timeout,
            role=self.role,
            log_group=self.log_group,
            layers=list(props.layers),
            tracing=lambda_.Tracing.ACTIVE,
            environment={**environment, "POWERTOOLS_LOG_LEVEL": "INFO"},
            description=props.description,
            retry_attempts=async_retries,
            max_event_age=max_event_age,
            dead_letter_queue=dead_letter_queue,
            **vpc_options,
        )
