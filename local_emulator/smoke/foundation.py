"""Foundation tier: VPC, subnets, IGW, route tables, endpoints, security groups, NAT instance HA."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tradai_cdk.config import TradaiConfig
from tradai_cdk.config.model import SgRule, SubnetTier

from .model import CheckContext, Findings, StackView, check_launch_template

DEFAULT_ROUTE = "0.0.0.0/0"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
NO_TRAFFIC = ("icmp", 252, 86, "255.255.255.255/32")  # CDK's placeholder of a group that allows no egress
ROUTE_TARGETS = ("GatewayId", "NatGatewayId", "InstanceId", "NetworkInterfaceId")


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    """Compare the Foundation stack with ``cfg.network``, ``cfg.security_groups`` and ``cfg.nat``."""
    cfg, ec2 = ctx.cfg, ctx.client("ec2")
    vpc_id = _vpc(view, ec2, cfg, findings)
    subnets = _subnets(view, ec2, cfg, findings, vpc_id)
    igw_id = _internet_gateway(view, ec2, findings, vpc_id)
    tables = _route_tables(view, ec2, cfg, findings, subnets, igw_id)
    _gateway_endpoints(view, ec2, cfg, findings, tables.get(SubnetTier.PRIVATE))
    findings.expect(
        None,
        "NAT gateways in the VPC",
        0,
        len(ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id or "none"]}])["NatGateways"]),
    )
    groups = _security_groups(view, ec2, cfg, findings, vpc_id)
    _nat(view, ctx, findings, subnets, groups)


def deployed_subnets(view: StackView, ec2: Any, cfg: TradaiConfig) -> dict[str, dict]:
    """Deployed subnets by config name (``Public-1``), matched on their Name tag."""
    deployed = view.by_physical_id("AWS::EC2::Subnet")
    described = ec2.describe_subnets(SubnetIds=list(deployed))["Subnets"] if deployed else []
    by_tag = {_tag(s, "Name"): s for s in described}
    return {
        spec.name: by_tag[_subnet_name(cfg, spec.name)]
        for spec in cfg.network.subnets
        if _subnet_name(cfg, spec.name) in by_tag
    }


def route_table_of(
    view: StackView, ec2: Any, cfg: TradaiConfig, tier: SubnetTier, subnets: dict[str, dict]
) -> dict | None:
    """The deployed route table associated with exactly the subnets of ``tier``."""
    wanted = {subnets[s.name]["SubnetId"] for s in cfg.network.subnets_of(tier) if s.name in subnets}
    deployed = view.by_physical_id("AWS::EC2::RouteTable")
    described = ec2.describe_route_tables(RouteTableIds=list(deployed))["RouteTables"] if deployed else []
    return next((t for t in described if wanted and _associated(t) == wanted), None)


def nat_group(view: StackView, ctx: CheckContext, subnets: dict[str, dict]) -> dict | None:
    """The deployed Auto Scaling group that launches into the NAT subnet of the config."""
    nat_subnet = subnets.get(ctx.cfg.nat.subnet, {}).get("SubnetId")
    names = [r.physical_id for r in view.of_type("AWS::AutoScaling::AutoScalingGroup")]
    groups = (
        ctx.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=names)["AutoScalingGroups"]
        if names
        else []
    )
    return next((g for g in groups if g["VPCZoneIdentifier"].split(",") == [nat_subnet]), None)


def _vpc(view, ec2, cfg, findings) -> str | None:
    vpcs = view.of_type("AWS::EC2::VPC")
    if len(vpcs) != 1:
        findings.fail(None, "VPCs in the stack", 1, len(vpcs))
        return vpcs[0].physical_id if vpcs else None
    vpc, net = vpcs[0], cfg.network
    described = ec2.describe_vpcs(VpcIds=[vpc.physical_id])["Vpcs"][0]
    findings.expect(vpc.logical_id, "CIDR", net.vpc_cidr, described["CidrBlock"])
    # Both DNS attributes are kept through patch 27.
    for key, expected in (("EnableDnsSupport", net.dns_support), ("EnableDnsHostnames", net.dns_hostnames)):
        answer = ec2.describe_vpc_attribute(VpcId=vpc.physical_id, Attribute=key[0].lower() + key[1:])
        findings.expect(vpc.logical_id, key, expected, answer[key]["Value"])
    return vpc.physical_id


def _subnets(view, ec2, cfg, findings, vpc_id) -> dict[str, dict]:
    found = deployed_subnets(view, ec2, cfg)
    logical = {r.physical_id: r.logical_id for r in view.of_type("AWS::EC2::Subnet")}
    for spec in cfg.network.subnets:
        name = _subnet_name(cfg, spec.name)
        subnet = found.get(spec.name)
        if subnet is None:
            findings.missing(f"subnet {name} ({spec.cidr}, {spec.availability_zone})")
            continue
        lid = logical.pop(subnet["SubnetId"])
        findings.ok(lid, f"Name {name}")
        findings.expect(lid, "CIDR", spec.cidr, subnet["CidrBlock"])
        findings.expect(lid, "AZ", spec.availability_zone, subnet["AvailabilityZone"])
        findings.expect(lid, "VPC", vpc_id, subnet["VpcId"])
    for lid in logical.values():
        findings.fail(lid, "subnet Name tag", "one of the config's subnets", "another name")
    return found


def _internet_gateway(view, ec2, findings, vpc_id) -> str | None:
    igws = view.of_type("AWS::EC2::InternetGateway")
    if not findings.expect(None, "internet gateways", 1, len(igws)):
        return igws[0].physical_id if igws else None
    igw = igws[0]
    described = ec2.describe_internet_gateways(InternetGatewayIds=[igw.physical_id])["InternetGateways"][0]
    findings.expect(igw.logical_id, "attached to", [vpc_id], [a["VpcId"] for a in described["Attachments"]])
    for attachment in view.of_type("AWS::EC2::VPCGatewayAttachment"):
        findings.expect(
            attachment.logical_id,
            "attaches",
            (igw.physical_id, vpc_id),
            (
                view.resolve(attachment.properties.get("InternetGatewayId")),
                view.resolve(attachment.properties.get("VpcId")),
            ),
        )
    return igw.physical_id


def _route_tables(view, ec2, cfg, findings, subnets, igw_id) -> dict[SubnetTier, str]:
    tiers = sorted({s.tier for s in cfg.network.subnets}, key=lambda t: t.value)
    deployed = view.by_physical_id("AWS::EC2::RouteTable")
    findings.expect(None, "route tables", len(tiers), len(deployed))
    described = {
        t["RouteTableId"]: t
        for t in (ec2.describe_route_tables(RouteTableIds=list(deployed))["RouteTables"] if deployed else [])
    }
    tables = {}
    for tier in tiers:
        names = [s.name for s in cfg.network.subnets_of(tier)]
        table = route_table_of(view, ec2, cfg, tier, subnets)
        if table is None:
            findings.missing(f"{tier.value} route table associated with exactly {', '.join(names)}")
            continue
        lid, default = deployed[table["RouteTableId"]].logical_id, default_route(table)
        tables[tier] = table["RouteTableId"]
        findings.ok(lid, f"{tier.value} table of {', '.join(names)}")
        if tier is SubnetTier.PUBLIC:
            findings.expect(lid, f"{DEFAULT_ROUTE} via", igw_id, (default or {}).get("GatewayId"))
        else:
            findings.expect(
                lid,
                "internet gateway routes",
                [],
                [r["DestinationCidrBlock"] for r in table["Routes"] if r.get("GatewayId") == igw_id],
            )
        if tier is SubnetTier.DATABASE:
            findings.expect(lid, f"{DEFAULT_ROUTE} route", None, default)
    for assoc in view.of_type("AWS::EC2::SubnetRouteTableAssociation"):
        table = described.get(view.resolve(assoc.properties.get("RouteTableId")), {})
        subnet = view.resolve(assoc.properties.get("SubnetId"))
        findings.holds(
            assoc.logical_id,
            f"{subnet} associated with {table.get('RouteTableId')}",
            subnet in _associated(table),
            sorted(_associated(table)),
        )
    for route in view.of_type("AWS::EC2::Route"):
        props = route.properties
        table = described.get(view.resolve(props.get("RouteTableId")), {})
        wanted = {k: view.resolve(props[k]) for k in ROUTE_TARGETS if k in props}
        present = any(
            r.get("DestinationCidrBlock") == props.get("DestinationCidrBlock")
            and all(r.get(k) == v for k, v in wanted.items())
            for r in table.get("Routes", [])
        )
        findings.holds(
            route.logical_id,
            f"route {props.get('DestinationCidrBlock')} -> {', '.join(wanted.values())} in {table.get('RouteTableId')}",
            present,
            table.get("Routes"),
        )
    return tables


def _gateway_endpoints(view, ec2, cfg, findings, private_table) -> None:
    deployed = view.by_physical_id("AWS::EC2::VPCEndpoint")
    described = ec2.describe_vpc_endpoints(VpcEndpointIds=list(deployed))["VpcEndpoints"] if deployed else []
    for service in cfg.network.gateway_endpoints:
        name = f"com.amazonaws.{cfg.network.region}.{service}"
        endpoint = next((e for e in described if e["ServiceName"] == name), None)
        if endpoint is None:
            findings.missing(f"gateway endpoint {name}")
            continue
        lid = deployed[endpoint["VpcEndpointId"]].logical_id
        findings.expect(lid, "type", "Gateway", endpoint["VpcEndpointType"])
        findings.expect(lid, "route tables (private)", [private_table], endpoint["RouteTableIds"])


def _security_groups(view, ec2, cfg, findings, vpc_id) -> dict[str, str]:
    """Check each config group's name and ingress; return group ids by config key."""
    deployed = view.by_physical_id("AWS::EC2::SecurityGroup")
    described = ec2.describe_security_groups(GroupIds=list(deployed))["SecurityGroups"] if deployed else []
    by_name = {g["GroupName"]: g for g in described}
    ids = {spec.key: by_name[spec.name]["GroupId"] for spec in cfg.security_groups if spec.name in by_name}
    for spec in cfg.security_groups:
        group = by_name.get(spec.name)
        if group is None:
            findings.missing(f"security group {spec.name}")
            continue
        lid = deployed[group["GroupId"]].logical_id
        findings.ok(lid, f"name {spec.name}")
        findings.expect(lid, "VPC", vpc_id, group["VpcId"])
        expected = _expected_rules(spec.ingress(), ids)
        actual = _permissions(group["IpPermissions"])
        if expected == actual:
            findings.ok(lid, f"{len(expected)} ingress rules")
        else:
            findings.fail(
                lid,
                "ingress rules",
                f"also {[_rule_text(k) for k in sorted(expected - actual)]}",
                f"unexpected {[_rule_text(k) for k in sorted(actual - expected)]}",
            )
        egress = _expected_rules(spec.egress(), ids)
        actual = _permissions(group["IpPermissionsEgress"]) - {NO_TRAFFIC}
        findings.expect(lid, "egress rules", sorted(map(_rule_text, egress)), sorted(map(_rule_text, actual)))
    groups = {g["GroupId"]: g for g in described}
    names = {spec.name: spec for spec in cfg.security_groups}
    for rule in view.of_type("AWS::EC2::SecurityGroupEgress"):
        [kept] = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule.physical_id])["SecurityGroupRules"]
        group = groups.get(kept["GroupId"], {})
        peer = kept.get("CidrIpv4") or kept.get("ReferencedGroupInfo", {}).get("GroupId")
        key = _rule_key(kept["IpProtocol"], kept["FromPort"], kept["ToPort"], peer)
        spec = names.get(group.get("GroupName"))
        findings.holds(
            rule.logical_id,
            f"egress {_rule_text(key)} of {group.get('GroupName')} is a config rule of that group",
            spec is not None and key in _expected_rules(spec.egress(), ids),
            "not in the config",
        )
    for rule in view.of_type("AWS::EC2::SecurityGroupIngress"):
        props = rule.properties
        group = groups.get(view.resolve(props.get("GroupId")), {})
        key = _rule_key(
            props.get("IpProtocol"),
            props.get("FromPort"),
            props.get("ToPort"),
            props.get("CidrIp") or view.resolve(props.get("SourceSecurityGroupId")),
        )
        findings.holds(
            rule.logical_id,
            f"{_rule_text(key)} in {group.get('GroupName')}",
            key in _permissions(group.get("IpPermissions", [])),
            "rule absent",
        )
    return ids


def _nat(view, ctx, findings, subnets, groups) -> None:
    cfg, nat, ec2 = ctx.cfg, ctx.cfg.nat, ctx.client("ec2")
    group = nat_group(view, ctx, subnets)
    if group is None:
        findings.missing(f"NAT Auto Scaling group in subnet {nat.subnet}")
    else:
        resource = view.by_physical_id("AWS::AutoScaling::AutoScalingGroup")[group["AutoScalingGroupName"]]
        lid = resource.logical_id
        findings.ok(lid, f"subnet {nat.subnet}")
        findings.expect(
            lid,
            "min/max/desired",
            (nat.asg_min, nat.asg_max, nat.asg_desired),
            (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]),
        )
        findings.expect(lid, "running instances", nat.asg_desired, len(group["Instances"]))
        findings.expect(lid, "health check grace s", nat.health_check_grace_seconds, group["HealthCheckGracePeriod"])
        hooks = ctx.client("autoscaling").describe_lifecycle_hooks(AutoScalingGroupName=group["AutoScalingGroupName"])
        findings.expect(
            lid,
            "launch lifecycle hooks (heartbeat s, default result)",
            [(nat.lifecycle_heartbeat_seconds, "ABANDON")],
            [
                (h.get("HeartbeatTimeout"), h.get("DefaultResult"))
                for h in hooks["LifecycleHooks"]
                if h["LifecycleTransition"] == LAUNCHING
            ],
        )
        _launch_template(view, ctx, findings, group["LaunchTemplate"], groups.get("nat"))
    addresses = view.of_type("AWS::EC2::EIP")
    if findings.expect(None, "Elastic IPs", 1, len(addresses)):
        described = ec2.describe_addresses(PublicIps=[addresses[0].physical_id])["Addresses"][0]
        findings.expect(addresses[0].logical_id, "domain", "vpc", described["Domain"])
    function = cfg.function_name(nat.route_function)
    if function not in {r.physical_id for r in view.of_type("AWS::Lambda::Function")}:
        findings.missing(f"Lambda function {function}")


def _launch_template(view, ctx, findings, spec: dict, nat_group_id: str | None) -> None:
    nat = ctx.cfg.nat
    checked = check_launch_template(
        view, ctx, findings, spec, owner="NAT", instance_type=nat.instance_type, ami_parameter=nat.ami_ssm_parameter
    )
    if checked is None:
        return
    lid, data = checked
    attached = set(data.get("SecurityGroupIds", [])) | {
        g for eni in data.get("NetworkInterfaces", []) for g in eni.get("Groups", [])
    }
    findings.holds(lid, "NAT security group attached", nat_group_id in attached, sorted(attached))


def _subnet_name(cfg: TradaiConfig, name: str) -> str:
    return cfg.naming.name(name.lower())


def _tag(resource: dict, key: str) -> str | None:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == key), None)


def _associated(table: dict) -> set[str]:
    return {a["SubnetId"] for a in table.get("Associations", []) if a.get("SubnetId")}


def default_route(table: dict) -> dict | None:
    return next((r for r in table["Routes"] if r.get("DestinationCidrBlock") == DEFAULT_ROUTE), None)


def _expected_rules(rules: Iterable[SgRule], ids: dict[str, str]) -> set[tuple]:
    """Config rules as rule keys, a peer group by its deployed id."""
    return {
        _rule_key(r.protocol, r.from_port, r.to_port, r.peer_cidr or ids.get(r.peer_group, r.peer_group))  # type: ignore[arg-type]
        for r in rules
    }


def _rule_key(protocol: Any, from_port: Any, to_port: Any, peer: Any) -> tuple:
    return (str(protocol).lower(), int(from_port), int(to_port), peer)


def _rule_text(key: tuple) -> str:
    protocol, from_port, to_port, peer = key
    return f"{protocol} {from_port}-{to_port} {peer}"


def _permissions(permissions: list[dict]) -> set[tuple]:
    """Flatten EC2 IpPermissions to (protocol, from, to, cidr-or-group-id)."""
    return {
        _rule_key(p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1), peer)
        for p in permissions
        for peer in [r["CidrIp"] for r in p.get("IpRanges", [])] + [g["GroupId"] for g in p.get("UserIdGroupPairs", [])]
    }
