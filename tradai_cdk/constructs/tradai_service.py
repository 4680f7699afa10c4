"""A long-running ECS service behind the ALB and in Cloud Map, on Fargate or on a shared EC2 host.

One construct serves both launch types (prod: Fargate/awsvpc; dev/staging: bridge
networking with static host ports and soft memory reservations on one EC2 host), so
both environments share the task, logging, health-check, deployment and grant logic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import (
    aws_ec2 as ec2,
    aws_ecs as ecs,
    aws_elasticloadbalancingv2 as elbv2,
    aws_iam as iam,
    aws_logs as logs,
    aws_servicediscovery as servicediscovery,
)
from constructs import Construct

from .container_security import ContainerSecurity, hardened_options, mount_writable_paths

Grant = Callable[[iam.IGrantable], object]


@dataclass(frozen=True)
class FargatePlacement:
    """awsvpc tasks in the given subnets and security group."""

    subnets: Sequence[ec2.ISubnet]
    security_group: ec2.ISecurityGroup
    capacity_provider: str = "FARGATE"


@dataclass(frozen=True)
class SharedHostPlacement:
    """Bridge-mode task on an EC2 capacity provider; the host port equals the container port."""

    capacity_provider: str
    memory_reservation_mib: int


@dataclass(frozen=True)
class ServiceProps:
    """What one service needs; ``grants`` are the only permissions its task role gets."""

    service_name: str
    family: str
    container_name: str
    cpu: int
    memory_mib: int
    port: int
    health_check_path: str
    desired_count: int
    image: ecs.ContainerImage
    log_retention: logs.RetentionDays
    security: ContainerSecurity
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, ecs.Secret] = field(default_factory=dict)
    grants: Sequence[Grant] = ()


@dataclass(frozen=True)
class LoadBalancing:
    """Attach to ``listener``: as its default action when ``priority`` is None, else by ``conditions``."""

    listener: elbv2.ApplicationListener
    vpc: ec2.IVpc
    priority: int | None = None
    conditions: Sequence[elbv2.ListenerCondition] = ()


class TradaiService(Construct):
    """Task definition, service and Cloud Map registration; a target group and listener rule when load balanced."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        props: ServiceProps,
        placement: FargatePlacement | SharedHostPlacement,
        discovery: servicediscovery.Service,
        load_balancing: LoadBalancing | None = None,
    ):
        super().__init__(scope, construct_id)
        fargate = isinstance(placement, FargatePlacement)
        self.task_role = iam.Role(self, "TaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
        for grant in props.grants:
            grant(self.task_role)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/ecs/{props.service_name}",
            retention=props.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.task_definition = self._task_definition(props, fargate)
        self.container = self.task_definition.add_container(
            props.container_name,
            image=props.image,
            essential=True,
            cpu=None if fargate else props.cpu,
            memory_limit_mib=props.memory_mib,  # a hard limit on Fargate too: the task's memory
            memory_reservation_mib=placement.memory_reservation_mib
            if isinstance(placement, SharedHostPlacement)
            else None,
            port_mappings=[ecs.PortMapping(container_port=props.port, host_port=props.port)],
            environment=dict(props.environment),
            secrets=dict(props.secrets),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=props.container_name, log_group=self.log_group),
            health_check=ecs.HealthCheck(
                command=["CMD-SHELL", f"curl -fs http://localhost:{props.port}{props.health_check_path} || exit 1"],
                interval=cdk.Duration.seconds(30),
                timeout=cdk.Duration.seconds(5),
                retries=3,
                start_period=cdk.Duration.seconds(60),
            ),
            **hardened_options(self, props.security, on_ec2=not fargate),
        )
        mount_writable_paths(self.task_definition, self.container, props.security)
        self.service = self._service(cluster, props, placement)
        self.service.associate_cloud_map_service(service=discovery, container=self.container, container_port=props.port)
        self.target_group = self._target_group(props, load_balancing, fargate) if load_balancing else None

    def _task_definition(self, props: ServiceProps, fargate: bool) -> ecs.TaskDefinition:
        if fargate:
            return ecs.FargateTaskDefinition(
                self,
                "TaskDefinition",
                family=props.family,
                cpu=props.cpu,
                memory_limit_mib=props.memory_mib,
                task_role=self.task_role,
                runtime_platform=ecs.RuntimePlatform(
                    cpu_architecture=ecs.CpuArchitecture.X86_64, operating_system_family=ecs.OperatingSystemFamily.LINUX
                ),
            )
        return ecs.Ec2TaskDefinition(
            self, "TaskDefinition", family=props.family, network_mode=ecs.NetworkMode.BRIDGE, task_role=self.task_role
        )

    def _service(
        self, cluster: ecs.ICluster, props: ServiceProps, placement: FargatePlacement | SharedHostPlacement
    ) -> ecs.BaseService:
        common: dict[str, Any] = dict(
            cluster=cluster,
            task_definition=self.task_definition,
            service_name=props.service_name,
            desired_count=props.desired_count,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            capacity_provider_strategies=[
                ecs.CapacityProviderStrategy(capacity_provider=placement.capacity_provider, weight=1)
            ],
            health_check_grace_period=cdk.Duration.seconds(120),
            enable_ecs_managed_tags=True,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        if isinstance(placement, FargatePlacement):
            return ecs.FargateService(
                self,
                "Service",
                vpc_subnets=ec2.SubnetSelection(subnets=list(placement.subnets)),
                security_groups=[placement.security_group],
                assign_public_ip=False,
                min_healthy_percent=100,
                max_healthy_percent=200,
                **common,
            )
        # One host and static ports: the old task must stop before its replacement can bind the port.
        return ecs.Ec2Service(self, "Service", min_healthy_percent=0, max_healthy_percent=100, **common)

    def _target_group(self, props: ServiceProps, lb: LoadBalancing, fargate: bool) -> elbv2.ApplicationTargetGroup:
        target_group = elbv2.ApplicationTargetGroup(
            self,
            "TargetGroup",
            vpc=lb.vpc,
            port=props.port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP if fargate else elbv2.TargetType.INSTANCE,
            deregistration_delay=cdk.Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=props.health_check_path,
                healthy_http_codes="200-399",
                interval=cdk.Duration.seconds(30),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
            targets=[self.service.load_balancer_target(container_name=props.container_name, container_port=props.port)],
        )
        if lb.priority is None:
            lb.listener.add_target_groups(f"{props.container_name}-default", target_groups=[target_group])
        else:
            lb.listener.add_target_groups(
                f"{props.container_name}-rule",
                target_groups=[target_group],
                priority=lb.priority,
                conditions=list(lb.conditions),
            )
        return target_group
