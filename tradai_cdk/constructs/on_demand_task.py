"""A Fargate task definition that is run on demand, never as a service: task role, log group, one container."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs, aws_iam as iam, aws_logs as logs
from constructs import Construct

from .container_security import ContainerSecurity, hardened_options, mount_writable_paths
from .tradai_service import Grant


class OnDemandTask(Construct):
    """``grants`` are the only permissions of its task role; logs go to ``/ecs/<family>``; ``tags`` mark the
    task definition (and its execution role) for whoever runs it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        family: str,
        cpu: int,
        memory_mib: int,
        container_name: str,
        image: ecs.ContainerImage,
        log_stream_prefix: str,
        log_retention: logs.RetentionDays,
        security: ContainerSecurity,
        environment: Mapping[str, str],
        secrets: Mapping[str, ecs.Secret],
        grants: Sequence[Grant] = (),
        container_port: int | None = None,
        tags: Mapping[str, str] | None = None,
    ):
        super().__init__(scope, construct_id)
        task_role = iam.Role(self, "TaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
        for grant in grants:
            grant(task_role)
        self.task_definition = ecs.FargateTaskDefinition(
            self, "TaskDefinition", family=family, cpu=cpu, memory_limit_mib=memory_mib, task_role=task_role
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/ecs/{family}",
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        container = self.task_definition.add_container(
            container_name,
            image=image,
            essential=True,
            memory_limit_mib=memory_mib,
            environment=dict(environment),
            secrets=dict(secrets),
            port_mappings=None if container_port is None else [ecs.PortMapping(container_port=container_port)],
            logging=ecs.LogDrivers.aws_logs(stream_prefix=log_stream_prefix, log_group=self.log_group),
            **hardened_options(self, security, on_ec2=False),
        )
        mount_writable_paths(self.task_definition, container, security)
        for key, value in (tags or {}).items():
            cdk.Tags.of(self.task_definition).add(key, value)
