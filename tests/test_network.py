"""Spec sections 1.1-1.3 and 9.1: VPC, subnets, route tables, endpoints, flow logs."""

import pytest
from aws_cdk.assertions import Match

import spec
from cfn import by_name_tag, ref, resources, tags

RT_NAMES = {"Public RT": "public-rt", "Private RT": "private-rt", "Database RT": "database-rt"}


def test_vpc_cidr_dns_and_name(foundation):
    env, template = foundation
    (vpc,) = resources(template, "AWS::EC2::VPC").values()
    assert vpc["CidrBlock"] == spec.VPC_CIDR
    assert vpc["EnableDnsHostnames"] is True and vpc["EnableDnsSupport"] is True
    assert tags(vpc)["Name"] == f"tradai-vpc-{env}"

def test_exactly_the_six_spec_subnets(foundation):
    env, template = foundation
    subnets = by_name_tag(template, "AWS::EC2::Subnet")
    expected = {f"tradai-{name.lower()}-{env}": (az, cidr) for name, az, cidr, _ in spec.SUBNETS}
    assert {name: (p["AvailabilityZone"], p["CidrBlock"]) for name, (_, p) in subnets.items()} == expected
    assert all(p["MapPublicIpOnLaunch"] is False for _, p in subnets.values())

def test_three_route_tables_with_spec_associations(foundation):
    env, template = foundation
    tables = by_name_tag(template, "AWS::EC2::RouteTable")
    assert set(tables) == {f"tradai-{rt}-{env}" for rt in RT_NAMES.values()}
    table_of_subnet = {ref(a["SubnetId"]): ref(a["RouteTableId"])
                       for a in resources(template, "AWS::EC2::SubnetRouteTableAssociation").values()}
    subnets = by_name_tag(template, "AWS::EC2::Subnet")
    for name, _, _, rt in spec.SUBNETS:
        subnet_id = subnets[f"tradai-{name.lower()}-{env}"][0]
        assert table_of_subnet[subnet_id] == tables[f"tradai-{RT_NAMES[rt]}-{env}"][0], name

def test_only_the_public_route_table_routes_to_the_internet_gateway(foundation):
    env, template = foundation
    (igw_id,) = resources(template, "AWS::EC2::InternetGateway")
    (route,) = resources(template, "AWS::EC2::Route").values()
    assert route["DestinationCidrBlock"] == "0.0.0.0/0"
    assert ref(route["GatewayId"]) == igw_id
    assert ref(route["RouteTableId"]) == by_name_tag(template, "AWS::EC2::RouteTable")[f"tradai-public-rt-{env}"][0]
    (attachment,) = resources(template, "AWS::EC2::VPCGatewayAttachment").values()
    assert ref(attachment["InternetGatewayId"]) == igw_id

def test_no_nat_gateway_anywhere(foundation):
    _, template = foundation
    assert resources(template, "AWS::EC2::NatGateway") == {}

def test_s3_and_dynamodb_gateway_endpoints_on_the_private_route_table(foundation):
    env, template = foundation
    private_rt = by_name_tag(template, "AWS::EC2::RouteTable")[f"tradai-private-rt-{env}"][0]
    endpoints = {p["ServiceName"]: p for p in resources(template, "AWS::EC2::VPCEndpoint").values()}
    assert set(endpoints) == {f"com.amazonaws.{spec.REGION}.s3", f"com.amazonaws.{spec.REGION}.dynamodb"}
    for endpoint in endpoints.values():
        assert endpoint["VpcEndpointType"] == "Gateway"
        assert [ref(table) for table in endpoint["RouteTableIds"]] == [private_rt]

def test_vpc_flow_logs_capture_all_traffic(foundation):
    env, template = foundation
    (flow_log,) = resources(template, "AWS::EC2::FlowLog").values()
    (vpc_id,) = resources(template, "AWS::EC2::VPC")
    assert ref(flow_log["ResourceId"]) == vpc_id and flow_log["ResourceType"] == "VPC"
    assert flow_log["TrafficType"] == "ALL"
    groups = resources(template, "AWS::Logs::LogGroup")
    assert groups[ref(flow_log["LogDestination"])]["RetentionInDays"] == spec.LOG_RETENTION_DAYS[env]

def test_vpc_and_subnets_are_retained_in_prod_only(foundation):
    env, template = foundation
    kept = "RetainExceptOnCreate" if spec.DELETION_PROTECTION[env] else "Delete"
    checked = [logical_id for logical_id, resource in template["Resources"].items()
               if resource["Type"] in ("AWS::EC2::VPC", "AWS::EC2::Subnet")]
    assert len(checked) == 1 + len(spec.SUBNETS)
    for logical_id in checked:
        assert template["Resources"][logical_id].get("DeletionPolicy", "Delete") == kept, logical_id


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_resource_counts_and_vpc_with_cdk_assertions(env, synthesized):
    template = synthesized[(env, "foundation")].template
    for resource_type, count in (("AWS::EC2::VPC", 1), ("AWS::EC2::Subnet", len(spec.SUBNETS)),
                                 ("AWS::EC2::RouteTable", 3), ("AWS::EC2::InternetGateway", 1),
                                 ("AWS::EC2::NatGateway", 0), ("AWS::EC2::Route", 1)):
        template.resource_count_is(resource_type, count)
    template.has_resource_properties("AWS::EC2::VPC", {
        "CidrBlock": spec.VPC_CIDR, "EnableDnsHostnames": True, "EnableDnsSupport": True,
        "Tags": Match.array_with([{"Key": "Name", "Value": f"tradai-vpc-{env}"}])})
