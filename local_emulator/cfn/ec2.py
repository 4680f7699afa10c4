"""``AWS::EC2::SecurityGroupEgress`` (patch 16): the rule, authorized in moto's EC2 backend, replacing the
group's default allow-all as CloudFormation does; a group's
inline egress rules (patch 23); a VPC's DNS attributes (patch 27)."""

from __future__ import annotations

from moto.ec2.models import ec2_backends
from moto.ec2.models.security_groups import SecurityGroup, SecurityGroupRule
from moto.ec2.models.vpcs import VPC

from .base import AddedResource, then_apply


def egress_rule(group_id: str, properties: dict) -> dict:
    """``authorize_security_group_egress`` arguments of a CloudFormation egress rule."""
    description = {"Description": properties["Description"]} if "Description" in properties else {}
    peers = {
        "ip_ranges": ("CidrIp", "CidrIp"),
        "source_groups": ("DestinationSecurityGroupId", "GroupId"),
        "prefix_list_ids": ("DestinationPrefixListId", "PrefixListId"),
    }
    return {
        "group_name_or_id": group_id,
        "ip_protocol": str(properties["IpProtocol"]),
        "from_port": properties.get("FromPort"),
        "to_port": properties.get("ToPort"),
        **{
            argument: [{key: properties[prop], **description}] if prop in properties else []
            for argument, (prop, key) in peers.items()
        },
    }


class SecurityGroupEgress(AddedResource):
    TYPE = "AWS::EC2::SecurityGroupEgress"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> SecurityGroupEgress:
        backend = ec2_backends[account_id][region_name]
        rule = egress_rule(properties["GroupId"], properties)
        [created], group = backend.authorize_security_group_egress(**rule)
        # CloudFormation strips a group's default allow-all egress once another egress rule is added (what CDK
        # relies on when it drops its no-traffic placeholder); EC2's API, and so moto, keep it.
        group.egress_rules = [r for r in group.egress_rules if not _allows_all(r)]

        def revoke() -> None:  # moto's stack delete may have deleted the group first
            if backend.get_security_group_by_name_or_id(rule["group_name_or_id"]):
                backend.revoke_security_group_egress(**rule)

        return cls(created.id, {"Id": created.id}, revoke)


def _allows_all(rule: SecurityGroupRule) -> bool:
    """EC2's default egress rule of a new group (all protocols to 0.0.0.0/0 or ::/0)."""
    return (
        rule.ip_protocol == "-1"
        and not rule.source_group
        and rule.ip_range in ({"CidrIp": "0.0.0.0/0"}, {"CidrIpv6": "::/0"})
    )


def _inline_egress(group: SecurityGroup, properties: dict, account_id: str, region_name: str) -> None:
    """Patch 23: a group's inline ``SecurityGroupEgress`` replaces its default allow-all rule (moto
    ignored the property and kept allow-all)."""
    if "SecurityGroupEgress" not in properties:
        return
    group.egress_rules = []
    for rule in properties["SecurityGroupEgress"]:
        ec2_backends[account_id][region_name].authorize_security_group_egress(**egress_rule(group.id, rule))


def _dns(vpc: VPC, properties: dict, account_id: str, region_name: str) -> None:
    """Patch 27: a VPC's EnableDnsSupport and EnableDnsHostnames (moto ignored both)."""
    for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
        if attribute in properties:
            setattr(
                vpc,
                "enable_dns_" + attribute.removeprefix("EnableDns").lower(),
                str(properties[attribute]).lower() == "true",
            )


MODELS = (SecurityGroupEgress,)
PATCHES = (
    (SecurityGroup, "create_from_cloudformation_json", then_apply(SecurityGroup, _inline_egress)),
    (VPC, "create_from_cloudformation_json", then_apply(VPC, _dns)),
)
