"""The AWS calls of the NAT failover: EC2 reads and writes, the lifecycle action, the continuation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import error_code

from . import contract
from .plan import Holder, Instance, LaunchAction

DEFAULT_ROUTE = "0.0.0.0/0"
ROUTE_TARGET_KEYS = (
    "InstanceId",
    "NetworkInterfaceId",
    "NatGatewayId",
    "GatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "EgressOnlyInternetGatewayId",
    "CarrierGatewayId",
    "LocalGatewayId",
    "CoreNetworkArn",
)
NO_ACTIVE_ACTION = "No active Lifecycle Action"


@dataclass(frozen=True)
class NatAws:
    """Thin wrappers over the ec2, autoscaling and lambda clients; errors propagate as botocore raises them."""

    ec2: Any
    autoscaling: Any
    lambda_: Any

    def instance(self, instance_id: str) -> Instance | None:
        """The instance, or None if EC2 no longer knows it."""
        try:
            reservations = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        except ClientError as exc:
            if error_code(exc) == "InvalidInstanceID.NotFound":
                return None
            raise
        raw = next((i for r in reservations for i in r["Instances"]), None)
        if raw is None:
            return None
        tags = {t["Key"]: t["Value"] for t in raw.get("Tags", [])}
        primary = next(
            (
                ni["NetworkInterfaceId"]
                for ni in raw.get("NetworkInterfaces", [])
                if ni.get("Attachment", {}).get("DeviceIndex") == 0
            ),
            None,
        )
        return Instance(
            raw["InstanceId"],
            raw["State"]["Name"],
            raw["LaunchTime"],
            primary,
            tags.get(contract.BOOT_TAG_KEY),
            raw.get("SourceDestCheck", True),
        )

    def route_holder(self, route_table_id: str) -> Holder | None:
        """What the table's 0.0.0.0/0 route targets, or None when the table has no such route."""
        table = self.ec2.describe_route_tables(RouteTableIds=[route_table_id])["RouteTables"][0]
        route = next((r for r in table["Routes"] if r.get("DestinationCidrBlock") == DEFAULT_ROUTE), None)
        if route is None:
            return None
        target = next((route[key] for key in ROUTE_TARGET_KEYS if route.get(key)), "unknown")
        owner_id = route.get("InstanceId") or self._interface_owner(route.get("NetworkInterfaceId"))
        owner = self.instance(owner_id) if owner_id else None
        return Holder(target, owner, blackholed=route.get("State") == "blackhole")

    def address_holder(self, allocation_id: str) -> Holder | None:
        """The instance the Elastic IP is associated with, or None when it is free."""
        address = self.ec2.describe_addresses(AllocationIds=[allocation_id])["Addresses"][0]
        owner_id = address.get("InstanceId") or self._interface_owner(address.get("NetworkInterfaceId"))
        if not owner_id:
            return None
        return Holder(owner_id, self.instance(owner_id))

    def disable_source_dest_check(self, instance_id: str) -> None:
        self.ec2.modify_instance_attribute(InstanceId=instance_id, SourceDestCheck={"Value": False})

    def associate_address(self, allocation_id: str, instance_id: str) -> None:
        self.ec2.associate_address(AllocationId=allocation_id, InstanceId=instance_id, AllowReassociation=True)

    def point_default_route(self, route_table_id: str, interface_id: str, *, create: bool) -> None:
        """CreateRoute or ReplaceRoute 0.0.0.0/0 to the interface (an instance target fails with several ENIs)."""
        call = self.ec2.create_route if create else self.ec2.replace_route
        call(RouteTableId=route_table_id, DestinationCidrBlock=DEFAULT_ROUTE, NetworkInterfaceId=interface_id)

    def complete(self, action: LaunchAction, result: str) -> bool:
        """CompleteLifecycleAction; False when the action is no longer pending (done, timed out, instance gone)."""
        params = {
            "AutoScalingGroupName": action.group_name,
            "LifecycleHookName": action.hook_name,
            "LifecycleActionResult": result,
            "InstanceId": action.instance_id,
        }
        if action.token:
            params["LifecycleActionToken"] = action.token
        try:
            self.autoscaling.complete_lifecycle_action(**params)
        except ClientError as exc:
            if NO_ACTIVE_ACTION in str(exc):
                return False
            raise
        return True

    def continue_later(self, function_arn: str, event: dict, continuation: int) -> None:
        """Invoke this function again asynchronously with the same event, one continuation further."""
        payload = {**event, contract.CONTINUATION_KEY: continuation}
        self.lambda_.invoke(FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(payload))

    def _interface_owner(self, interface_id: str | None) -> str | None:
        if not interface_id:
            return None
        try:
            interfaces = self.ec2.describe_network_interfaces(NetworkInterfaceIds=[interface_id])
        except ClientError as exc:
            if error_code(exc) == "InvalidNetworkInterfaceID.NotFound":
                return None
            raise
        first: dict[str, Any] = next(iter(interfaces["NetworkInterfaces"]), {})
        return first.get("Attachment", {}).get("InstanceId")
