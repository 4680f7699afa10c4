"""Handler of `tradai-update-nat-routes` (entry point `nat_routes.handler.handler`).

EventBridge forwards the Auto Scaling "EC2 Instance-launch Lifecycle Action" of the NAT
instance group. The handler validates the event, waits for the instance to be `running`,
points the 0.0.0.0/0 route of every table in ROUTE_TABLE_IDS at it, then completes the
lifecycle action with CONTINUE, or with ABANDON (the group replaces the instance) when the
instance never runs, the configuration is invalid or a route call fails.

Routes target the instance's primary network interface (device index 0), not its instance
id: CreateRoute/ReplaceRoute with InstanceId fail once an instance has several interfaces,
and AWS resolves an instance target to that interface anyway. Routes created by others with
an InstanceId target are still recognised, via their InstanceId or their interface's
attachment.

A route owned by a *different* instance that is running and was launched later than ours is
left alone (the alterNAT race rule): that newer NAT instance has taken over, and its own
lifecycle event manages the routes.

Environment:
    ROUTE_TABLE_IDS      required, comma-separated route table ids
    WAIT_DELAY_SECONDS   waiter delay between DescribeInstances polls (default 5)
    WAIT_MAX_ATTEMPTS    waiter attempts (default 20; 5 s x 20 fits the 120 s timeout)
    LOG_LEVEL            default INFO
    AWS_REGION / AWS_DEFAULT_REGION, and optionally AWS_ENDPOINT_URL (read when invoked)

Returns a dict whose `status` is "continued", "abandoned" or "rejected" (malformed event)
and whose `lifecycle_action_result` is the result sent (None if none was accepted). Only a
failing CompleteLifecycleAction raises (see LifecycleAction.complete), so the asynchronous
invoke is retried and finally lands in the dead-letter queue.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from shared.observability import emit_metric, get_logger

LOGGER = get_logger("nat_routes")

EXPECTED_DETAIL_TYPE = "EC2 Instance-launch Lifecycle Action"
DETAIL_FIELDS = (
    "EC2InstanceId",
    "AutoScalingGroupName",
    "LifecycleHookName",
    "LifecycleActionToken",
)
DEFAULT_ROUTE = "0.0.0.0/0"
METRIC_NAMESPACE = "TradAI/NatInstance"
CONTINUE = "CONTINUE"
ABANDON = "ABANDON"
NO_ACTIVE_ACTION = "No active Lifecycle Action"
TOKEN_LENGTH = 36  # CompleteLifecycleAction's LifecycleActionToken constraint (a UUID)
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
_BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=15
)


class Abandon(Exception):
    """Stop processing and complete the lifecycle action with ABANDON."""

    def __init__(self, reason: str, **fields: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fields = fields


@dataclass(frozen=True)
class LifecycleAction:
    """Identifiers of one pending lifecycle action (token and/or instance id)."""

    auto_scaling_group_name: str
    hook_name: str
    token: str | None
    instance_id: str | None

    @property
    def log_fields(self) -> dict[str, str | None]:
        return {
            "auto_scaling_group_name": self.auto_scaling_group_name,
            "lifecycle_hook_name": self.hook_name,
            "instance_id": self.instance_id,
        }

    def complete(self, autoscaling: Any, result: str) -> str | None:
        """Call CompleteLifecycleAction; return `result`, or None if no action is pending any more.

        "No active Lifecycle Action" (already completed by a duplicate delivery, timed out, or
        the instance is gone) is only a warning, since a retry cannot change it. Any other
        failure is logged and re-raised.
        """
        params = {
            "AutoScalingGroupName": self.auto_scaling_group_name,
            "LifecycleHookName": self.hook_name,
            "LifecycleActionResult": result,
        }
        if self.token:
            params["LifecycleActionToken"] = self.token
        if self.instance_id:
            params["InstanceId"] = self.instance_id
        try:
            autoscaling.complete_lifecycle_action(**params)
        except (ClientError, BotoCoreError) as exc:
            fields = {
                **self.log_fields,
                "lifecycle_action_result": result,
                "error_code": _error_code(exc),
                "error": str(exc),
            }
            if NO_ACTIVE_ACTION in str(exc):
                LOGGER.warning("lifecycle action is no longer pending", extra=fields)
                return None
            LOGGER.error("CompleteLifecycleAction failed", extra=fields)
            raise
        LOGGER.info(
            "lifecycle action completed",
            extra={**self.log_fields, "lifecycle_action_result": result},
        )
        return result


@dataclass(frozen=True)
class NatInstance:
    """The running instance the routes must point at."""

    instance_id: str
    network_interface_id: str
    launch_time: datetime


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Update the NAT routes for a launch lifecycle event and complete the lifecycle action."""
    identifiers, problem = parse_event(event)
    if problem:
        return _reject(identifiers, problem)

    action = LifecycleAction(
        auto_scaling_group_name=identifiers["AutoScalingGroupName"],
        hook_name=identifiers["LifecycleHookName"],
        token=identifiers["LifecycleActionToken"],
        instance_id=identifiers["EC2InstanceId"],
    )
    LOGGER.info(
        "lifecycle event received",
        extra={**action.log_fields, "aws_request_id": getattr(context, "aws_request_id", None)},
    )
    dimensions = {"AutoScalingGroupName": action.auto_scaling_group_name}
    ec2 = _client("ec2")
    autoscaling = _client("autoscaling")
    routes: list[dict[str, str | None]] = []
    try:
        route_table_ids, waiter_config = load_config()
        nat = _wait_until_running(ec2, action.instance_id, waiter_config)
        for route_table_id in route_table_ids:
            try:
                routes.append(ensure_default_route(ec2, route_table_id, nat))
            except (ClientError, BotoCoreError) as exc:
                raise Abandon(
                    f"route update failed for {route_table_id}",
                    route_table_id=route_table_id,
                    error_code=_error_code(exc),
                    error=str(exc),
                ) from exc
    except Abandon as exc:
        LOGGER.error(exc.reason, extra={**action.log_fields, **exc.fields})
        emit_metric(METRIC_NAMESPACE, "RouteUpdateFailed", 1, "Count", dimensions)
        completed = action.complete(autoscaling, ABANDON)
        return {
            "status": "abandoned",
            "reason": exc.reason,
            **exc.fields,
            "instance_id": action.instance_id,
            "lifecycle_action_result": completed,
            "routes": routes,
        }

    changed = sum(route["action"] in ("created", "replaced") for route in routes)
    emit_metric(METRIC_NAMESPACE, "RouteUpdated", changed, "Count", dimensions)
    completed = action.complete(autoscaling, CONTINUE)
    return {
        "status": "continued",
        "instance_id": action.instance_id,
        "lifecycle_action_result": completed,
        "routes": routes,
    }


def parse_event(event: Any) -> tuple[dict[str, str], str | None]:
    """Return the non-empty detail identifiers found and a description of what is wrong, if anything."""
    if not isinstance(event, dict):
        return {}, f"event must be a JSON object, got {type(event).__name__}"
    detail = event.get("detail")
    if not isinstance(detail, dict):
        if detail is None:
            return {}, "event has no 'detail' object"
        return {}, f"event 'detail' must be a JSON object, got {type(detail).__name__}"

    identifiers = {
        key: detail[key]
        for key in DETAIL_FIELDS
        if isinstance(detail.get(key), str) and detail[key].strip()
    }
    problems = []
    detail_type = event.get("detail-type")
    if detail_type != EXPECTED_DETAIL_TYPE:
        problems.append(f"detail-type is {detail_type!r}, expected {EXPECTED_DETAIL_TYPE!r}")
    missing = [key for key in DETAIL_FIELDS if key not in identifiers]
    if missing:
        problems.append(f"missing or empty detail field(s): {', '.join(missing)}")
    token = identifiers.get("LifecycleActionToken")
    if token is not None and len(token) != TOKEN_LENGTH:
        # botocore would refuse it client-side; the instance id can still identify the action.
        del identifiers["LifecycleActionToken"]
        problems.append(f"LifecycleActionToken is not a {TOKEN_LENGTH}-character token")
    return identifiers, "; ".join(problems) or None


def load_config() -> tuple[list[str], dict[str, int]]:
    """Read ROUTE_TABLE_IDS and the waiter settings; raise Abandon when they are invalid."""
    raw = os.environ.get("ROUTE_TABLE_IDS", "")
    route_table_ids = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not route_table_ids:
        raise Abandon(
            "configuration error: ROUTE_TABLE_IDS is missing or empty "
            "(expected comma-separated route table ids)",
            error_code="ConfigurationError",
        )
    invalid = [rtb for rtb in route_table_ids if not rtb.startswith("rtb-")]
    if invalid:
        raise Abandon(
            f"configuration error: ROUTE_TABLE_IDS has invalid id(s): {', '.join(invalid)}",
            error_code="ConfigurationError",
        )
    waiter_config = {
        "Delay": _positive_int_env("WAIT_DELAY_SECONDS", 5),
        "MaxAttempts": _positive_int_env("WAIT_MAX_ATTEMPTS", 20),
    }
    return route_table_ids, waiter_config


def ensure_default_route(
    ec2: Any, route_table_id: str, nat: NatInstance
) -> dict[str, str | None]:
    """Make the 0.0.0.0/0 route of one table target `nat` unless a newer NAT owns it."""
    table = ec2.describe_route_tables(RouteTableIds=[route_table_id])["RouteTables"][0]
    route = next(
        (r for r in table["Routes"] if r.get("DestinationCidrBlock") == DEFAULT_ROUTE), None
    )
    action, reason = _plan_route(ec2, route, nat)
    if action == "created":
        ec2.create_route(
            RouteTableId=route_table_id,
            DestinationCidrBlock=DEFAULT_ROUTE,
            NetworkInterfaceId=nat.network_interface_id,
        )
    elif action == "replaced":
        ec2.replace_route(
            RouteTableId=route_table_id,
            DestinationCidrBlock=DEFAULT_ROUTE,
            NetworkInterfaceId=nat.network_interface_id,
        )
    outcome = {
        "route_table_id": route_table_id,
        "action": action,
        "reason": reason,
        "previous_target": _route_target(route),
    }
    LOGGER.log(
        logging.WARNING if action == "skipped" else logging.INFO,
        f"route {action}",
        extra={**outcome, "instance_id": nat.instance_id, "target": nat.network_interface_id},
    )
    return outcome


def _plan_route(ec2: Any, route: dict | None, nat: NatInstance) -> tuple[str, str]:
    """Decide between created / replaced / unchanged / skipped for an existing default route."""
    if route is None:
        return "created", "no 0.0.0.0/0 route"
    target = _route_target(route)
    if route.get("State") == "blackhole":
        return "replaced", f"route to {target} is blackholed"
    owner = _route_owner(ec2, route, nat)
    if owner == nat.instance_id:
        return "unchanged", "route already targets this instance"
    if owner is None:
        return "replaced", f"route targets {target}, not a live instance"
    instance = _describe_instance(ec2, owner)
    state = instance["State"]["Name"] if instance else "not found"
    if state != "running":
        return "replaced", f"route targets instance {owner} which is {state}"
    if instance["LaunchTime"] > nat.launch_time:
        return "skipped", f"route targets newer running instance {owner}"
    return "replaced", f"route targets older running instance {owner}"


def _route_owner(ec2: Any, route: dict, nat: NatInstance) -> str | None:
    """Return the id of the instance a route sends traffic to, if any."""
    if route.get("InstanceId"):
        return route["InstanceId"]
    interface_id = route.get("NetworkInterfaceId")
    if not interface_id:
        return None
    if interface_id == nat.network_interface_id:
        return nat.instance_id
    try:
        interfaces = ec2.describe_network_interfaces(NetworkInterfaceIds=[interface_id])
    except ClientError as exc:
        if _error_code(exc) == "InvalidNetworkInterfaceID.NotFound":
            return None
        raise
    attachment = next(iter(interfaces["NetworkInterfaces"]), {}).get("Attachment", {})
    return attachment.get("InstanceId")


def _route_target(route: dict | None) -> str | None:
    """Return the first target id of a route (instance, interface, gateway...)."""
    if route is None:
        return None
    return next((route[key] for key in ROUTE_TARGET_KEYS if route.get(key)), None)


def _wait_until_running(ec2: Any, instance_id: str, waiter_config: dict[str, int]) -> NatInstance:
    """Wait for `running` and return the instance's primary interface and launch time."""
    started = time.monotonic()
    try:
        ec2.get_waiter("instance_running").wait(
            InstanceIds=[instance_id], WaiterConfig=waiter_config
        )
    except WaiterError as exc:
        raise Abandon(
            f"instance {instance_id} did not reach running",
            error_code="InstanceNotRunning",
            error=str(exc),
            waited_seconds=round(time.monotonic() - started, 1),
        ) from exc
    try:
        instance = _describe_instance(ec2, instance_id)
    except (ClientError, BotoCoreError) as exc:
        raise Abandon(
            f"could not describe instance {instance_id}",
            error_code=_error_code(exc),
            error=str(exc),
        ) from exc
    if instance is None:
        raise Abandon(f"instance {instance_id} disappeared", error_code="InvalidInstanceID.NotFound")
    primary = next(
        (
            interface["NetworkInterfaceId"]
            for interface in instance.get("NetworkInterfaces", [])
            if interface.get("Attachment", {}).get("DeviceIndex") == 0
        ),
        None,
    )
    if primary is None:
        raise Abandon(
            f"instance {instance_id} has no primary network interface",
            error_code="NoPrimaryNetworkInterface",
        )
    waited = round(time.monotonic() - started, 1)
    LOGGER.info(
        f"instance running after {waited} s",
        extra={"instance_id": instance_id, "network_interface_id": primary, "waited_seconds": waited},
    )
    return NatInstance(instance_id, primary, instance["LaunchTime"])


def _describe_instance(ec2: Any, instance_id: str) -> dict | None:
    """Return the DescribeInstances entry of an instance, or None if it no longer exists."""
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as exc:
        if _error_code(exc) == "InvalidInstanceID.NotFound":
            return None
        raise
    return next((i for r in reservations for i in r["Instances"]), None)


def _reject(identifiers: dict[str, str], problem: str) -> dict[str, Any]:
    """Log a malformed event and ABANDON its lifecycle action when it can be identified.

    A failing CompleteLifecycleAction is logged but not re-raised: retrying a malformed event
    cannot succeed, and the hook's heartbeat timeout applies its default result anyway.
    """
    asg_name = identifiers.get("AutoScalingGroupName")
    hook_name = identifiers.get("LifecycleHookName")
    token = identifiers.get("LifecycleActionToken")
    instance_id = identifiers.get("EC2InstanceId")
    LOGGER.error(
        f"rejected lifecycle event: {problem}",
        extra={
            "reason": problem,
            "auto_scaling_group_name": asg_name,
            "lifecycle_hook_name": hook_name,
            "instance_id": instance_id,
        },
    )
    emit_metric(
        METRIC_NAMESPACE,
        "RouteUpdateFailed",
        1,
        "Count",
        {"AutoScalingGroupName": asg_name or "unknown"},
    )
    result = None
    if asg_name and hook_name and (token or instance_id):
        action = LifecycleAction(asg_name, hook_name, token, instance_id)
        try:
            result = action.complete(_client("autoscaling"), ABANDON)
        except (ClientError, BotoCoreError):
            result = None
    return {"status": "rejected", "reason": problem, "lifecycle_action_result": result}


def _positive_int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise Abandon(
            f"configuration error: {name}={raw!r} is not a positive integer",
            error_code="ConfigurationError",
        )
    return int(raw)


def _client(service: str) -> Any:
    """Create a client per invocation so AWS_ENDPOINT_URL / region changes take effect."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client(service, region_name=region, config=_BOTO_CONFIG)


def _error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "Unknown")
    return type(exc).__name__
