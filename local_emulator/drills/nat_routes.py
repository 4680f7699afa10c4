"""NAT failover drill: launch events for the NAT instance and its replacement move the EIP and default route.

moto runs no user data, so the drill plays the instance's boot: BOOT_SECONDS after the launch
event it tags the instance ready, as the boot script does once forwarding is verified. The
handler must wait for that tag before it touches the EIP or the route; it polls every
POLL_SECONDS for the drill (the deployed POLL_INTERVAL_SECONDS overridden: the boot is
played in seconds, not minutes). After the failover, the scheduled route audit runs and must
find every private default route usable.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lambda_src.nat_routes import contract
from tradai_cdk.config.model import SubnetTier

from .. import ACCOUNT, REGION, patches
from ..smoke import foundation
from ..smoke.model import CheckContext
from .invoke import DrillFailure
from .support import scheduled_event

LAUNCHING = foundation.LAUNCHING
BOOT_SECONDS = 1
POLL_SECONDS = 1  # the handler's POLL_INTERVAL_SECONDS for the drill's launch events (a positive whole number)
PHASES = ("event_emitted", "ready_seen", "address_associated", "route_switched", "hook_completed")


def failover_then_audit(ctx: CheckContext, invoke: Callable[..., Any]) -> str:
    """``failover``, then the scheduled audit of the routes it left."""
    detail = failover(ctx, invoke)
    outcome = invoke(scheduled_event("nat-route-audit"))
    if outcome.result != {"status": "audited", "unusable": {}}:
        raise DrillFailure(f"route audit after the failover answered {outcome.result}; log: {outcome.log[-2000:]}")
    return f"{detail}\n      route audit (scheduled event) after the replacement: every route usable"


def failover(ctx: CheckContext, invoke: Callable[..., Any]) -> str:
    """Hook the current NAT instance, terminate it, hook the replacement; check route + CONTINUE each time."""
    view = ctx.views["Foundation"]
    ec2, autoscaling = ctx.client("ec2"), ctx.client("autoscaling")
    subnets = foundation.deployed_subnets(view, ec2, ctx.cfg)
    table = foundation.route_table_of(view, ec2, ctx.cfg, SubnetTier.PRIVATE, subnets)
    group = foundation.nat_group(view, ctx, subnets)
    if table is None or group is None:
        raise DrillFailure("no private route table or NAT Auto Scaling group deployed")
    hook = _launch_hook(view, group["AutoScalingGroupName"])
    first, first_timeline = _launch(ctx, invoke, group, hook, table["RouteTableId"])
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=first, ShouldDecrementDesiredCapacity=False)
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group["AutoScalingGroupName"]])[
        "AutoScalingGroups"
    ][0]
    second, second_timeline = _launch(ctx, invoke, group, hook, table["RouteTableId"])
    if second == first:
        raise DrillFailure(f"the group did not replace terminated instance {first}")
    return (
        f"{table['RouteTableId']} {foundation.DEFAULT_ROUTE} and the EIP -> {first}, after replacement -> "
        f"{second}; lifecycle hook {hook} completed with CONTINUE both times, only after the ready tag "
        f"(played {BOOT_SECONDS} s after each launch event; the handler polling every {POLL_SECONDS} s)\n"
        f"      first launch:  {first_timeline}\n      replacement:   {second_timeline}"
    )


def _launch(ctx: CheckContext, invoke, group: dict, hook: str, table_id: str) -> tuple[str, str]:
    """Send the launch event of the group's instance; return its id and timeline once EIP, route and hook are right."""
    instance_id = group["Instances"][0]["InstanceId"]
    token = str(uuid.uuid4())
    ec2 = ctx.client("ec2")
    boot = threading.Timer(
        BOOT_SECONDS,
        lambda: ec2.create_tags(
            Resources=[instance_id], Tags=[{"Key": contract.BOOT_TAG_KEY, "Value": contract.BOOT_READY}]
        ),
    )
    boot.start()
    try:
        outcome = invoke(
            _launch_event(group, hook, instance_id, token),
            env_overrides={contract.ENV_POLL_INTERVAL: str(POLL_SECONDS)},
        )
    finally:
        boot.cancel()
    if outcome.result.get("status") != "continued":
        raise DrillFailure(f"handler returned {outcome.result}; log: {outcome.log[-2000:]}")
    timeline = outcome.result["timeline"]
    if "ready_seen" not in timeline or timeline["ready_seen"] > timeline["route_switched"]:
        raise DrillFailure(f"route switched before readiness: {timeline}")
    route = foundation.default_route(ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0])
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    interfaces = {eni["NetworkInterfaceId"] for eni in instance["NetworkInterfaces"]}
    if route is None or not (route.get("InstanceId") == instance_id or route.get("NetworkInterfaceId") in interfaces):
        raise DrillFailure(f"{table_id} {foundation.DEFAULT_ROUTE} route is {route}, not via {instance_id}")
    expected = {
        "AutoScalingGroupName": group["AutoScalingGroupName"],
        "LifecycleHookName": hook,
        "LifecycleActionToken": token,
        "InstanceId": instance_id,
        "LifecycleActionResult": "CONTINUE",
    }
    if expected not in patches.LIFECYCLE_ACTIONS:
        raise DrillFailure(f"no CompleteLifecycleAction {expected}; recorded {patches.LIFECYCLE_ACTIONS}")
    if instance["SourceDestCheck"] is not False:
        raise DrillFailure(f"source/dest check still on for {instance_id}")
    addresses = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [instance_id]}])["Addresses"]
    if not addresses:
        raise DrillFailure(f"the Elastic IP is not associated with {instance_id}")
    return instance_id, _render(timeline)


def _render(timeline: dict[str, str]) -> str:
    """``event +0s -> ready_seen +2s -> ...``: seconds after the event for each phase."""
    start = datetime.fromisoformat(timeline.get("event_emitted") or timeline["received"])
    return " -> ".join(
        f"{phase.removesuffix('_seen')} +{(datetime.fromisoformat(timeline[phase]) - start).seconds}s"
        for phase in PHASES
        if phase in timeline
    )


def _launch_hook(view, group_name: str) -> str:
    """The launch hook declared on the group in the template (moto does not keep hooks)."""
    group = view.by_physical_id("AWS::AutoScaling::AutoScalingGroup")[group_name]
    hooks = [
        h["LifecycleHookName"]
        for h in group.properties.get("LifecycleHookSpecificationList", [])
        if h.get("LifecycleTransition") == LAUNCHING
    ]
    if not hooks:
        raise DrillFailure(f"{group.logical_id} declares no {LAUNCHING} lifecycle hook")
    return hooks[0]


def _launch_event(group: dict, hook: str, instance_id: str, token: str) -> dict:
    """The EventBridge event Auto Scaling emits for a launch lifecycle action."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "EC2 Instance-launch Lifecycle Action",
        "source": "aws.autoscaling",
        "account": ACCOUNT,
        "region": REGION,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [group["AutoScalingGroupARN"]],
        "detail": {
            "LifecycleActionToken": token,
            "AutoScalingGroupName": group["AutoScalingGroupName"],
            "LifecycleHookName": hook,
            "EC2InstanceId": instance_id,
            "LifecycleTransition": LAUNCHING,
        },
    }
