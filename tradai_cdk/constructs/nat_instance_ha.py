"""A single NAT instance kept alive by an ASG, with route failover on replacement.

Failover: the ASG replaces an unhealthy instance; its launch lifecycle hook
emits an EventBridge event; a Lambda waits for the new instance to run,
points the managed route tables' 0.0.0.0/0 at it and completes the hook
(CONTINUE, or ABANDON so the ASG tries again).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import aws_cdk as cdk
from aws_cdk import (
    aws_autoscaling as autoscaling,
    aws_cloudwatch as cloudwatch,
    aws_ec2 as ec2,
    aws_events as events,
    aws_events_targets as targets,
    aws_iam as iam,
    aws_lambda as lambda_,
    aws_logs as logs,
    aws_sqs as sqs,
)
from constructs import Construct

USER_DATA_SCRIPT = Path(__file__).with_name("nat_user_data.sh")
LAUNCH_EVENT = "EC2 Instance-launch Lifecycle Action"
METRICS_NAMESPACE = "TradAI/NatInstance"


@dataclass(frozen=True)
class RouteFunctionProps:
    """The route-update Lambda: code, handler and sizing (it never runs in a VPC)."""

    function_name: str
    code: lambda_.Code
    handler: str
    runtime: lambda_.Runtime
    memory_mib: int
    timeout: cdk.Duration


class NatInstanceHA(Construct):
    """NAT instance ASG (``capacity`` = min, max, desired; one EIP serves one instance) and a route-swap Lambda."""

    def __init__(self, scope: Construct, construct_id: str, *, subnet: ec2.ISubnet,
                 security_group: ec2.ISecurityGroup, route_table_ids: Sequence[str],
                 instance_type: str, ami_parameter_name: str, auto_scaling_group_name: str,
                 capacity: tuple[int, int, int],
                 name_tag: str, route_function: RouteFunctionProps, log_retention: logs.RetentionDays,
                 lifecycle_heartbeat: cdk.Duration = cdk.Duration.minutes(5),
                 health_check_grace: cdk.Duration = cdk.Duration.seconds(60)):
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.auto_scaling_group_name = auto_scaling_group_name
        self.eip = ec2.CfnEIP(self, "Eip", domain="vpc", tags=[cdk.CfnTag(key="Name", value=name_tag)])
        asg_arn = stack.format_arn(service="autoscaling", resource="autoScalingGroup",
                                   resource_name=f"*:autoScalingGroupName/{auto_scaling_group_name}",
                                   arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)

        self.instance_role = self._instance_role(stack, auto_scaling_group_name)
        self.launch_template = ec2.LaunchTemplate(
            self, "LaunchTemplate",
            instance_type=ec2.InstanceType(instance_type),
            machine_image=ec2.MachineImage.from_ssm_parameter(ami_parameter_name,
                                                             os=ec2.OperatingSystemType.LINUX),
            user_data=self._user_data(),
            role=self.instance_role,
            security_group=security_group,
            associate_public_ip_address=True,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            block_devices=[ec2.BlockDevice(device_name="/dev/xvda", volume=ec2.BlockDeviceVolume.ebs(
                8, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3))],
        )

        self.dead_letter_queue = sqs.Queue(self, "RouteUpdateDlq", enforce_ssl=True,
                                           encryption=sqs.QueueEncryption.SQS_MANAGED,
                                           retention_period=cdk.Duration.days(14))
        self.route_function = self._route_function(stack, route_function, route_table_ids,
                                                    asg_arn, log_retention)
        rule = events.Rule(self, "LaunchLifecycleRule", event_pattern=events.EventPattern(
            source=["aws.autoscaling"], detail_type=[LAUNCH_EVENT],
            detail={"AutoScalingGroupName": [auto_scaling_group_name]}))
        rule.add_target(targets.LambdaFunction(self.route_function, dead_letter_queue=self.dead_letter_queue,
                                               retry_attempts=2, max_event_age=cdk.Duration.minutes(10)))

        self.auto_scaling_group = autoscaling.CfnAutoScalingGroup(
            self, "Asg", auto_scaling_group_name=auto_scaling_group_name,
            min_size=str(capacity[0]), max_size=str(capacity[1]), desired_capacity=str(capacity[2]),
            vpc_zone_identifier=[subnet.subnet_id],
            launch_template=autoscaling.CfnAutoScalingGroup.LaunchTemplateSpecificationProperty(
                launch_template_id=self.launch_template.launch_template_id,
                version=self.launch_template.latest_version_number),
            health_check_type="EC2", health_check_grace_period=health_check_grace.to_seconds(),
            # Inline, so the very first instance is hooked too.
            lifecycle_hook_specification_list=[
                autoscaling.CfnAutoScalingGroup.LifecycleHookSpecificationProperty(
                    lifecycle_hook_name="route-update",
                    lifecycle_transition="autoscaling:EC2_INSTANCE_LAUNCHING",
                    heartbeat_timeout=lifecycle_heartbeat.to_seconds(), default_result="ABANDON")],
            tags=[autoscaling.CfnAutoScalingGroup.TagPropertyProperty(
                key="Name", value=name_tag, propagate_at_launch=True)],
        )
        # The rule and its permission must exist before the first launch event.
        self.auto_scaling_group.node.add_dependency(rule, self.route_function)

        self.failure_alarm = cloudwatch.Alarm(
            self, "RouteUpdateFailedAlarm",
            alarm_description=f"{auto_scaling_group_name}: a NAT route update failed; private subnets may be offline",
            metric=cloudwatch.Metric(namespace=METRICS_NAMESPACE, metric_name="RouteUpdateFailed",
                                     dimensions_map={"AutoScalingGroupName": auto_scaling_group_name},
                                     statistic="Sum", period=cdk.Duration.minutes(5)),
            threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)

    def _user_data(self) -> ec2.UserData:
        user_data = ec2.UserData.for_linux()
        user_data.add_commands(f"ALLOCATION_ID={self.eip.attr_allocation_id}",
                               USER_DATA_SCRIPT.read_text())
        return user_data

    def _instance_role(self, stack: cdk.Stack, asg_name: str) -> iam.Role:
        """Exactly AssociateAddress (this EIP) and ModifyInstanceAttribute (own ASG's instances)."""
        role = iam.Role(self, "InstanceRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
                        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                            "AmazonSSMManagedInstanceCore")])
        eip_arn = stack.format_arn(service="ec2", resource="elastic-ip",
                                   resource_name=self.eip.attr_allocation_id)
        own_instances = {"StringEquals": {"aws:ResourceTag/aws:autoscaling:groupName": asg_name}}
        role.add_to_policy(iam.PolicyStatement(actions=["ec2:AssociateAddress"], resources=[eip_arn]))
        role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:AssociateAddress", "ec2:ModifyInstanceAttribute"],
            resources=[stack.format_arn(service="ec2", resource="instance", resource_name="*")],
            conditions=own_instances))
        return role

    def _route_function(self, stack: cdk.Stack, props: RouteFunctionProps, route_table_ids: Sequence[str],
                        asg_arn: str, log_retention: logs.RetentionDays) -> lambda_.Function:
        """The Lambda may change only these route tables and complete only this ASG's hooks."""
        log_group = logs.LogGroup(self, "RouteFunctionLogs", log_group_name=f"/aws/lambda/{props.function_name}",
                                  retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY)
        role = iam.Role(self, "RouteFunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:CreateRoute", "ec2:ReplaceRoute"],
            resources=[stack.format_arn(service="ec2", resource="route-table", resource_name=table_id)
                       for table_id in route_table_ids]))
        role.add_to_policy(iam.PolicyStatement(actions=["autoscaling:CompleteLifecycleAction"],
                                               resources=[asg_arn]))
        # Describe* calls have no resource-level permissions in IAM.
        role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:DescribeInstances", "ec2:DescribeRouteTables", "ec2:DescribeNetworkInterfaces"],
            resources=["*"]))
        log_group.grant_write(role)
        return lambda_.Function(
            self, "RouteFunction", function_name=props.function_name, code=props.code,
            handler=props.handler, runtime=props.runtime, architecture=lambda_.Architecture.ARM_64,
            memory_size=props.memory_mib, timeout=props.timeout, role=role, log_group=log_group,
            dead_letter_queue=self.dead_letter_queue, tracing=lambda_.Tracing.ACTIVE,
            environment={"ROUTE_TABLE_IDS": ",".join(route_table_ids), "LOG_LEVEL": "INFO"},
            description="Points the private route tables at the NAT instance the ASG just launched")
