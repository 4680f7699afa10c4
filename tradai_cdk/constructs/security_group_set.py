"""Security groups built from rule tables, with SG-to-SG references resolved."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from ..config.model import SecurityGroupSpec, SgRule


class SecurityGroupSet(Construct):
    """One SG per spec, exactly the listed rules and no allow-all egress.

    A group with no egress rules keeps CDK's deny-all marker rule that matches no
    traffic, so it can send nothing.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        groups: Sequence[SecurityGroupSpec],
        name_tag: Callable[[str], str],
    ):
        super().__init__(scope, construct_id)
        self.groups: dict[str, ec2.SecurityGroup] = {}
        for spec in groups:
            group = ec2.SecurityGroup(
                self,
                spec.key.capitalize(),
                vpc=vpc,
                security_group_name=spec.name,
                description=spec.description,
                allow_all_outbound=False,
            )
            cdk.Tags.of(group).add("Name", name_tag(f"{spec.key}-sg"))
            self.groups[spec.key] = group
        for spec in groups:
            for rule in spec.rules:
                self._add_rule(self.groups[spec.key], rule)

    def __getitem__(self, key: str) -> ec2.SecurityGroup:
        return self.groups[key]

    def _add_rule(self, group: ec2.SecurityGroup, rule: SgRule) -> None:
        peer: ec2.IPeer
        if rule.peer_cidr:
            peer = ec2.Peer.ipv4(rule.peer_cidr)
        else:
            assert rule.peer_group is not None  # validation: a rule has a peer CIDR or a peer group
            peer = self.groups[rule.peer_group]
        port = ec2.Port(
            protocol=ec2.Protocol(rule.protocol.upper()),
            from_port=rule.from_port,
            to_port=rule.to_port,
            string_representation=f"{rule.protocol} {rule.from_port}-{rule.to_port}",
        )
        if rule.direction == "ingress":
            group.add_ingress_rule(peer, port, rule.description)
        else:
            group.add_egress_rule(peer, port, rule.description)
