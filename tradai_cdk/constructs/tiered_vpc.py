"""A VPC with exactly the subnets and shared route tables it is given."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2, aws_iam as iam, aws_logs as logs
from constructs import Construct


@dataclass(frozen=True)
class SubnetLayout:
    """One subnet; subnets naming the same ``route_table`` share it."""

    name: str
    subnet_type: ec2.SubnetType
    availability_zone: str
    cidr: str
    route_table: str


class TieredVpc(Construct):
    """VPC + IGW, one route table per ``route_table`` label, gateway endpoints, flow logs.

    Unlike ``ec2.Vpc`` it creates no per-subnet route tables and no NAT:
    public route tables get 0.0.0.0/0 -> IGW, the others only the local
    route (a NAT construct may add its own default route at run time).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        subnets: Sequence[SubnetLayout],
        name: Callable[[str], str],
        gateway_endpoints: Sequence[str],
        endpoint_route_tables: Sequence[str],
        flow_log_traffic_type: str,
        flow_log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
        dns_hostnames: bool = True,
        dns_support: bool = True,
    ):
        super().__init__(scope, construct_id)
        region = cdk.Stack.of(self).region
        self.cfn_vpc = ec2.CfnVPC(
            self,
            "Vpc",
            cidr_block=cidr,
            enable_dns_hostnames=dns_hostnames,
            enable_dns_support=dns_support,
            tags=[cdk.CfnTag(key="Name", value=name("vpc"))],
        )
        self.cfn_vpc.apply_removal_policy(removal_policy)
        igw = ec2.CfnInternetGateway(self, "Igw", tags=[cdk.CfnTag(key="Name", value=name("igw"))])
        attachment = ec2.CfnVPCGatewayAttachment(
            self, "IgwAttachment", vpc_id=self.cfn_vpc.ref, internet_gateway_id=igw.ref
        )

        self.route_tables: dict[str, ec2.CfnRouteTable] = {}
        self.subnets: dict[str, ec2.ISubnet] = {}
        for layout in subnets:
            table = self.route_tables.get(layout.route_table)
            if table is None:
                table = self._route_table(layout, name, igw, attachment)
                self.route_tables[layout.route_table] = table
            self.subnets[layout.name] = self._subnet(layout, table, name, removal_policy)

        for service in gateway_endpoints:
            ec2.CfnVPCEndpoint(
                self,
                f"{service.capitalize()}Endpoint",
                vpc_id=self.cfn_vpc.ref,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[self.route_tables[label].ref for label in endpoint_route_tables],
            )

        self._flow_log(name, flow_log_traffic_type, flow_log_retention, removal_policy)
        self._layouts = tuple(subnets)
        self.vpc = self._as_ivpc(subnets, cidr)

    def subnets_of(self, subnet_type: ec2.SubnetType) -> list[ec2.ISubnet]:
        """The subnets of one type, in the order they were given."""
        return [self.subnets[s.name] for s in self._layouts if s.subnet_type is subnet_type]

    def _route_table(
        self,
        layout: SubnetLayout,
        name: Callable[[str], str],
        igw: ec2.CfnInternetGateway,
        attachment: ec2.CfnVPCGatewayAttachment,
    ) -> ec2.CfnRouteTable:
        label = layout.route_table
        table = ec2.CfnRouteTable(
            self,
            f"{label.capitalize()}RouteTable",
            vpc_id=self.cfn_vpc.ref,
            tags=[cdk.CfnTag(key="Name", value=name(f"{label}-rt"))],
        )
        if layout.subnet_type is ec2.SubnetType.PUBLIC:
            route = ec2.CfnRoute(
                self,
                f"{label.capitalize()}DefaultRoute",
                route_table_id=table.ref,
                destination_cidr_block="0.0.0.0/0",
                gateway_id=igw.ref,
            )
            route.node.add_dependency(attachment)
        return table

    def _subnet(
        self,
        layout: SubnetLayout,
        table: ec2.CfnRouteTable,
        name: Callable[[str], str],
        removal_policy: cdk.RemovalPolicy,
    ) -> ec2.ISubnet:
        logical = layout.name.replace("-", "")
        subnet = ec2.CfnSubnet(
            self,
            f"{logical}Subnet",
            vpc_id=self.cfn_vpc.ref,
            cidr_block=layout.cidr,
            availability_zone=layout.availability_zone,
            map_public_ip_on_launch=False,
            tags=[cdk.CfnTag(key="Name", value=name(layout.name.lower()))],
        )
        subnet.apply_removal_policy(removal_policy)
        ec2.CfnSubnetRouteTableAssociation(
            self, f"{logical}RouteTableAssociation", subnet_id=subnet.ref, route_table_id=table.ref
        )
        return ec2.Subnet.from_subnet_attributes(
            self,
            f"{logical}Handle",
            subnet_id=subnet.ref,
            availability_zone=layout.availability_zone,
            route_table_id=table.ref,
            ipv4_cidr_block=layout.cidr,
        )

    def _flow_log(
        self,
        name: Callable[[str], str],
        traffic_type: str,
        retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            log_group_name=f"/vpc/{name('vpc')}/flow-logs",
            retention=retention,
            removal_policy=removal_policy,
        )
        role = iam.Role(self, "FlowLogRole", assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"))
        log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(actions=["logs:DescribeLogStreams"], resources=[log_group.log_group_arn])
        )
        ec2.CfnFlowLog(
            self,
            "FlowLog",
            resource_id=self.cfn_vpc.ref,
            resource_type="VPC",
            traffic_type=traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.log_group_arn,
            deliver_logs_permission_arn=role.role_arn,
            tags=[cdk.CfnTag(key="Name", value=name("vpc-flow-log"))],
        )

    def _as_ivpc(self, subnets: Sequence[SubnetLayout], cidr: str) -> ec2.IVpc:
        """An ``IVpc`` handle for L2 consumers (ALB, RDS, Lambda) in this or later stacks."""

        def of(subnet_type: ec2.SubnetType) -> list[SubnetLayout]:
            return [s for s in subnets if s.subnet_type is subnet_type]

        def ids(layouts: Sequence[SubnetLayout]) -> list[str] | None:
            return [self.subnets[s.name].subnet_id for s in layouts] or None

        def tables(layouts: Sequence[SubnetLayout]) -> list[str] | None:
            return [self.route_tables[s.route_table].ref for s in layouts] or None

        public = of(ec2.SubnetType.PUBLIC)
        private = of(ec2.SubnetType.PRIVATE_WITH_EGRESS)
        isolated = of(ec2.SubnetType.PRIVATE_ISOLATED)
        return ec2.Vpc.from_vpc_attributes(
            self,
            "Handle",
            vpc_id=self.cfn_vpc.ref,
            vpc_cidr_block=cidr,
            availability_zones=sorted({s.availability_zone for s in subnets}),
            public_subnet_ids=ids(public),
            public_subnet_route_table_ids=tables(public),
            private_subnet_ids=ids(private),
            private_subnet_route_table_ids=tables(private),
            isolated_subnet_ids=ids(isolated),
            isolated_subnet_route_table_ids=tables(isolated),
        )
