"""One EC2 host shared by ECS services: a single-instance Auto Scaling group registered as a capacity provider."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_ecs as ecs
from constructs import Construct


class SharedEcsHost(Construct):
    """ECS-optimized instance (IMDSv2, encrypted gp3 root, Session Manager) in ``cluster``; services place
    on ``capacity_provider``. ``reserved_memory_mib`` is kept back from tasks for the OS and the ECS agent."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.Cluster,
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
        instance_type: str,
        ami_parameter_name: str,
        auto_scaling_group_name: str,
        capacity_provider_name: str,
        reserved_memory_mib: int,
        root_volume_gib: int = 30,
    ):
        super().__init__(scope, construct_id)
        self.auto_scaling_group = autoscaling.AutoScalingGroup(
            self,
            "Asg",
            vpc=cluster.vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=list(subnets)),
            auto_scaling_group_name=auto_scaling_group_name,
            instance_type=ec2.InstanceType(instance_type),
            machine_image=ec2.MachineImage.from_ssm_parameter(ami_parameter_name, os=ec2.OperatingSystemType.LINUX),
            security_group=security_group,
            require_imdsv2=True,
            min_capacity=1,
            max_capacity=1,
            ssm_session_permissions=True,
            health_checks=autoscaling.HealthChecks.ec2(),
            instance_monitoring=autoscaling.Monitoring.DETAILED,
            block_devices=[
                autoscaling.BlockDevice(
                    device_name="/dev/xvda",
                    volume=autoscaling.BlockDeviceVolume.ebs(
                        root_volume_gib, encrypted=True, volume_type=autoscaling.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        self.auto_scaling_group.add_user_data(f"echo ECS_RESERVED_MEMORY={reserved_memory_mib} >> /etc/ecs/ecs.config")
        self.role = self.auto_scaling_group.role
        # ECS managed draining replaces CDK's SNS + Lambda drain hook.
        self.capacity_provider = ecs.AsgCapacityProvider(
            self,
            "Capacity",
            auto_scaling_group=self.auto_scaling_group,
            capacity_provider_name=capacity_provider_name,
            enable_managed_termination_protection=False,
            enable_managed_draining=True,
        )
        cluster.add_asg_capacity_provider(self.capacity_provider)
