"""A single NAT instance kept alive by an ASG, with a readiness-gated route failover.

Failover: the ASG launches an instance (first boot or replacement); its launch lifecycle hook
emits an EventBridge event; the route function waits until the instance's boot has configured
and verified forwarding and tagged the instance ready, then turns source/dest check off, moves
the static EIP and the managed route tables' 0.0.0.0/0 to it and completes the hook (CONTINUE,
or ABANDON so the ASG tries another instance). A self-check timer on the instance powers it off
(terminate on shutdown) when forwarding or the EIP is lost, so the ASG replaces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import (
    aws_autoscaling as autoscaling,
    aws_cloudwatch as cloudwatch,
    aws_ec2 as ec2,
    aws_events as events,
    aws_events_targets as targets,
    aws_iam as iam,
    aws_lambda as lambda_,
    aws_sqs as sqs,
)
from constructs import Construct

from lambda_src.nat_routes import contract

from .alarms import FunctionAlarms, alarm
from .nat_boot import boot_script
from .tradai_function import FunctionProps, TradaiFunction

# The minimum Session Manager needs on the instance (instead of AmazonSSMManagedInstanceCore).
SESSION_MANAGER_ACTIONS = [
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
]


@dataclass(frozen=True)
class FailoverTiming:
    """Lifecycle heartbeat (hook default ABANDON after it), readiness budget from launch, poll interval,
    and how often the route audit checks the private default routes."""

    lifecycle_heartbeat: cdk.Duration
    ready_timeout: cdk.Duration
    poll_interval: cdk.Duration
    health_check_grace: cdk.Duration
    route_audit: cdk.Duration


class NatInstanceHA(Construct):
    """NAT instance ASG (``capacity`` = min, max, desired; one EIP serves one instance) and its route function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        subnet: ec2.ISubnet,
        vpc_cidr: str,
        security_group: ec2.ISecurityGroup,
        route_table_ids: Sequence[str],
        instance_type: str,
        ami_parameter_name: str,
        auto_scaling_group_name: str,
        capacity: tuple[int, int, int],
        name_tag: str,
        route_function: FunctionProps,
        timing: FailoverTiming,
        alarm_action: cloudwatch.IAlarmAction,
        eip_removal_policy: cdk.RemovalPolicy,
    ):
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.auto_scaling_group_name = auto_scaling_group_name
        self.eip = ec2.CfnEIP(self, "Eip", domain="vpc", tags=[cdk.CfnTag(key="Name", value=name_tag)])
        self.eip.apply_removal_policy(eip_removal_policy)
        asg_arn = stack.format_arn(
            service="autoscaling",
            resource="autoScalingGroup",
            resource_name=f"*:autoScalingGroupName/{auto_scaling_group_name}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        own_instances = {"StringEquals": {"aws:ResourceTag/aws:autoscaling:groupName": auto_scaling_group_name}}

        self.instance_role = self._instance_role(stack, own_instances)
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            instance_type=ec2.InstanceType(instance_type),
            machine_image=ec2.MachineImage.from_ssm_parameter(ami_parameter_name, os=ec2.OperatingSystemType.LINUX),
            user_data=ec2.UserData.custom(
                "#!/bin/bash\n"
                + boot_script(
                    vpc_cidr=vpc_cidr,
                    eip_address=self.eip.ref,
                    boot_tag_key=contract.BOOT_TAG_KEY,
                    ready_value=contract.BOOT_READY,
                    failed_value=contract.BOOT_FAILED,
                )
            ),
            role=self.instance_role,
            security_group=security_group,
            associate_public_ip_address=True,  # reaches dnf and the EC2 API before the EIP arrives
            instance_initiated_shutdown_behavior=ec2.InstanceInitiatedShutdownBehavior.TERMINATE,
            require_imdsv2=True,
            detailed_monitoring=True,  # 1-minute status-check metrics: faster failover alarms
            http_put_response_hop_limit=1,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(8, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3),
                )
            ],
        )

        self.dead_letter_queue = sqs.Queue(
            self,
            "RouteUpdateDlq",
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            retention_period=cdk.Duration.days(14),
        )
        self.route_function = self._route_function(
            stack, route_function, route_table_ids, asg_arn, own_instances, subnet, timing
        )
        rule = events.Rule(
            self,
            "LaunchLifecycleRule",
            event_pattern=events.EventPattern(
                source=[contract.EVENT_SOURCE],
                detail_type=[contract.LAUNCH_EVENT],
                detail={"AutoScalingGroupName": [auto_scaling_group_name], "LifecycleHookName": [contract.HOOK_NAME]},
            ),
        )
        rule.add_target(
            targets.LambdaFunction(
                self.route_function,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=2,
                max_event_age=cdk.Duration.minutes(10),
            )
        )
        self.audit_rule = events.Rule(
            self,
            "RouteAuditSchedule",
            schedule=events.Schedule.rate(timing.route_audit),
            description=f"{auto_scaling_group_name}: checks the private default routes",
        )
        self.audit_rule.add_target(targets.LambdaFunction(self.route_function, retry_attempts=0))

        self.auto_scaling_group = autoscaling.CfnAutoScalingGroup(
            self,
            "Asg",
            auto_scaling_group_name=auto_scaling_group_name,
            min_size=str(capacity[0]),
            max_size=str(capacity[1]),
            desired_capacity=str(capacity[2]),
            vpc_zone_identifier=[subnet.subnet_id],
            launch_template=autoscaling.CfnAutoScalingGroup.LaunchTemplateSpecificationProperty(
                launch_template_id=self.launch_template.launch_template_id,
                version=self.launch_template.latest_version_number,
            ),
            health_check_type="EC2",
            health_check_grace_period=timing.health_check_grace.to_seconds(),
            # Inline, so the very first instance is hooked too.
            lifecycle_hook_specification_list=[
                autoscaling.CfnAutoScalingGroup.LifecycleHookSpecificationProperty(
                    lifecycle_hook_name=contract.HOOK_NAME,
                    lifecycle_transition=contract.LAUNCH_TRANSITION,
                    heartbeat_timeout=timing.lifecycle_heartbeat.to_seconds(),
                    default_result="ABANDON",
                )
            ],
            tags=[
                autoscaling.CfnAutoScalingGroup.TagPropertyProperty(
                    key="Name", value=name_tag, propagate_at_launch=True
                )
            ],
        )
        # The rule and its permission must exist before the first launch event.
        self.auto_scaling_group.node.add_dependency(rule, self.route_function)
        self.alarms = self._alarms(
            auto_scaling_group_name, route_function.function_name, timing.route_audit, alarm_action
        )

    def _instance_role(self, stack: cdk.Stack, own_instances: dict) -> iam.Role:
        """Only: tag itself with the boot-state key (ready/failed), and Session Manager."""
        role = iam.Role(self, "InstanceRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SignalBootState",
                actions=["ec2:CreateTags"],
                resources=[stack.format_arn(service="ec2", resource="instance", resource_name="*")],
                conditions={
                    "StringEquals": {
                        **own_instances["StringEquals"],
                        f"aws:RequestTag/{contract.BOOT_TAG_KEY}": [contract.BOOT_READY, contract.BOOT_FAILED],
                    },
                    "ForAllValues:StringEquals": {"aws:TagKeys": [contract.BOOT_TAG_KEY]},
                },
            )
        )
        role.add_to_policy(iam.PolicyStatement(sid="SessionManager", actions=SESSION_MANAGER_ACTIONS, resources=["*"]))
        return role

    def _route_function(
        self,
        stack: cdk.Stack,
        props: FunctionProps,
        route_table_ids: Sequence[str],
        asg_arn: str,
        own_instances: dict,
        subnet: ec2.ISubnet,
        timing: FailoverTiming,
    ) -> lambda_.Function:
        """May change only these route tables, this EIP and this ASG's instances and hooks (never in a VPC)."""
        function_arn = stack.format_arn(
            service="lambda",
            resource="function",
            resource_name=props.function_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        instances = stack.format_arn(service="ec2", resource="instance", resource_name="*")
        interfaces = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        statements = [
            iam.PolicyStatement(
                sid="PointDefaultRoutes",
                actions=["ec2:CreateRoute", "ec2:ReplaceRoute"],
                resources=[
                    stack.format_arn(service="ec2", resource="route-table", resource_name=table_id)
                    for table_id in route_table_ids
                ],
            ),
            iam.PolicyStatement(
                sid="CompleteLaunchHook", actions=["autoscaling:CompleteLifecycleAction"], resources=[asg_arn]
            ),
            iam.PolicyStatement(
                sid="MoveTheElasticIp",
                actions=["ec2:AssociateAddress"],
                resources=[
                    stack.format_arn(service="ec2", resource="elastic-ip", resource_name=self.eip.attr_allocation_id)
                ],
            ),
            iam.PolicyStatement(
                sid="PrepareNatInstances",
                actions=["ec2:AssociateAddress", "ec2:ModifyInstanceAttribute"],
                resources=[instances],
                conditions=own_instances,
            ),
            iam.PolicyStatement(
                sid="NatInterfaces",
                actions=["ec2:AssociateAddress"],
                resources=[interfaces],
                conditions={
                    "StringEquals": {
                        "ec2:Subnet": stack.format_arn(service="ec2", resource="subnet", resource_name=subnet.subnet_id)
                    }
                },
            ),
            iam.PolicyStatement(sid="ContinueWaiting", actions=["lambda:InvokeFunction"], resources=[function_arn]),
            # Describe* calls have no resource-level permissions in IAM.
            iam.PolicyStatement(
                sid="Describe",
                actions=[
                    "ec2:DescribeInstances",
                    "ec2:DescribeRouteTables",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeAddresses",
                ],
                resources=["*"],
            ),
        ]
        route_function = TradaiFunction(
            self,
            "RouteFunction",
            props=props,
            async_retries=2,
            max_event_age=cdk.Duration.minutes(15),
            dead_letter_queue=self.dead_letter_queue,
            environment={
                contract.ENV_ROUTE_TABLE_IDS: ",".join(route_table_ids),
                contract.ENV_GROUP_NAME: self.auto_scaling_group_name,
                contract.ENV_HOOK_NAME: contract.HOOK_NAME,
                contract.ENV_EIP_ALLOCATION_ID: self.eip.attr_allocation_id,
                contract.ENV_READY_TIMEOUT: str(int(timing.ready_timeout.to_seconds())),
                contract.ENV_POLL_INTERVAL: str(int(timing.poll_interval.to_seconds())),
            },
        )
        for statement in statements:
            route_function.role.add_to_policy(statement)
        return route_function.function

    def _alarms(
        self, asg_name: str, function_name: str, audit_every: cdk.Duration, action: cloudwatch.IAlarmAction
    ) -> list[cloudwatch.Alarm]:
        """Instance status check, unusable default routes, refused or lost route updates, function health."""
        five_minutes = cdk.Duration.minutes(5)

        def nat_metric(name: str, period: cdk.Duration, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=contract.METRICS_NAMESPACE,
                metric_name=name,
                statistic=statistic,
                period=period,
                dimensions_map={"service": contract.SERVICE, contract.DIMENSION_GROUP: asg_name},
            )

        function_alarms = FunctionAlarms(
            self,
            "RouteFunctionAlarms",
            function=self.route_function,
            function_name=function_name,
            errors=1,
            throttles=1,
            action=action,
        )
        return [
            alarm(
                self,
                "StatusCheckFailedAlarm",
                alarm_name=f"{asg_name}-status-check-failed",
                action=action,
                metric=cloudwatch.Metric(
                    namespace="AWS/EC2",
                    metric_name="StatusCheckFailed",
                    statistic="Maximum",
                    period=five_minutes,
                    dimensions_map={"AutoScalingGroupName": asg_name},
                ),
                threshold=1,
                description=f"{asg_name}: the NAT instance failed an EC2 status check; the group "
                "replaces it and the route function moves the routes (2-3 minutes)",
            ),
            alarm(
                self,
                "RoutesUnusableAlarm",
                alarm_name=f"{asg_name}-default-route-unusable",
                action=action,
                metric=nat_metric(contract.METRIC_ROUTES_UNUSABLE, audit_every, "Maximum"),
                threshold=1,
                evaluation_periods=2,
                missing=cloudwatch.TreatMissingData.BREACHING,
                description=f"{asg_name}: a private route table's 0.0.0.0/0 is missing, blackholed or on a "
                "dead instance (or the route audit stopped reporting): no internet egress",
            ),
            alarm(
                self,
                "RouteUpdateFailedAlarm",
                alarm_name=f"{asg_name}-route-update-failed",
                action=action,
                metric=nat_metric(contract.METRIC_ROUTE_UPDATE_FAILED, five_minutes, "Sum"),
                threshold=1,
                description=f"{asg_name}: a NAT instance was abandoned or its route update failed; the private "
                "subnets may have no internet egress",
            ),
            alarm(
                self,
                "RouteDlqAlarm",
                alarm_name=f"{asg_name}-route-events-lost",
                action=action,
                metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=five_minutes, statistic="Maximum"
                ),
                threshold=1,
                description=f"{asg_name}: a NAT launch event was never handled (retries exhausted); check the "
                "route function's logs",
            ),
            function_alarms.errors,
            function_alarms.throttles,
        ]
