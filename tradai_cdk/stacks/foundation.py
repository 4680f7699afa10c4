"""Foundation stack: network (spec 1), security groups (4.1), NAT-instance HA (1.4) and the alerts topic."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from ..config.model import SubnetTier
from ..constructs.alert_topic import AlertTopic
from ..constructs.nat_instance_ha import FailoverTiming, NatInstanceHA
from ..constructs.security_group_set import SecurityGroupSet
from ..constructs.tiered_vpc import SubnetLayout, TieredVpc
from ..constructs.tradai_function import FunctionProps
from .base import TradaiStack, log_retention, stateful_removal_policy
from .lambda_assets import lambda_code, lambda_runtime, powertools_layer

SUBNET_TYPES = {
    SubnetTier.PUBLIC: ec2.SubnetType.PUBLIC,
    SubnetTier.PRIVATE: ec2.SubnetType.PRIVATE_WITH_EGRESS,
    SubnetTier.DATABASE: ec2.SubnetType.PRIVATE_ISOLATED,
}


class FoundationStack(TradaiStack):
    """VPC, subnets, route tables, endpoints, flow logs, SGs and the NAT instance."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)
        config = self.config
        net = config.network
        retention = log_retention(config.profile.log_retention_days)

        self.network = TieredVpc(
            self,
            "Network",
            cidr=net.vpc_cidr,
            name=config.naming.name,
            subnets=[
                SubnetLayout(s.name, SUBNET_TYPES[s.tier], s.availability_zone, s.cidr, s.tier.value)
                for s in net.subnets
            ],
            gateway_endpoints=net.gateway_endpoints,
            endpoint_route_tables=[SubnetTier.PRIVATE.value],
            flow_log_traffic_type=net.flow_log_traffic_type,
            flow_log_retention=retention,
            removal_policy=stateful_removal_policy(config),
            dns_hostnames=net.dns_hostnames,
            dns_support=net.dns_support,
        )
        self.vpc = self.network.vpc

        self.security_groups = SecurityGroupSet(
            self, "SecurityGroups", vpc=self.vpc, groups=config.security_groups, name_tag=config.naming.name
        )

        self.alerts = AlertTopic(
            self,
            "Alerts",
            topic_name=config.naming.name("alerts"),
            emails=config.profile.alert_emails,
            removal_policy=stateful_removal_policy(config),
        )

        nat, route_fn = config.nat, config.lambda_spec(config.nat.route_function)
        self.nat = NatInstanceHA(
            self,
            "NatInstance",
            subnet=self.network.subnets[nat.subnet],
            vpc_cidr=net.vpc_cidr,
            security_group=self.security_groups["nat"],
            route_table_ids=[self.network.route_tables[SubnetTier.PRIVATE.value].ref],
            instance_type=nat.instance_type,
            capacity=(nat.asg_min, nat.asg_max, nat.asg_desired),
            ami_parameter_name=nat.ami_ssm_parameter,
            auto_scaling_group_name=config.naming.name("nat-asg"),
            name_tag=config.naming.name("nat"),
            route_function=FunctionProps(
                function_name=config.function_name(route_fn.name),
                code=lambda_code(config.lambda_runtime),
                handler="nat_routes.handler.handler",
                runtime=lambda_runtime(config.lambda_runtime),
                memory_mib=route_fn.memory_mib,
                timeout=cdk.Duration.seconds(route_fn.timeout_seconds),
                layers=[powertools_layer(self, config.powertools_version, config.lambda_runtime)],
                log_retention=retention,
                description="Moves the EIP and the private default routes to a NAT instance once it forwards",
            ),
            timing=FailoverTiming(
                lifecycle_heartbeat=cdk.Duration.seconds(nat.lifecycle_heartbeat_seconds),
                ready_timeout=cdk.Duration.seconds(nat.ready_timeout_seconds),
                poll_interval=cdk.Duration.seconds(nat.readiness_poll_seconds),
                health_check_grace=cdk.Duration.seconds(nat.health_check_grace_seconds),
                route_audit=cdk.Duration.minutes(nat.route_audit_minutes),
            ),
            alarm_action=self.alerts.action,
            eip_removal_policy=stateful_removal_policy(config),
        )
        cdk.Tags.of(self.nat).add("Service", "nat-instance")
        cdk.CfnOutput(
            self,
            "EgressIp",
            value=self.nat.eip.ref,
            description="Static public IPv4 of all internet egress from the private subnets (the NAT "
            "instance's Elastic IP): the address to allowlist at exchanges such as Binance",
        )
