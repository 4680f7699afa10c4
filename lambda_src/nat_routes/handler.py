"""Handler of `tradai-update-nat-routes` (entry point ``nat_routes.handler.handler``).

EventBridge delivers the NAT group's "EC2 Instance-launch Lifecycle Action". The handler waits
until the new instance has tagged itself ready (its boot configured and verified forwarding),
turns its source/dest check off, moves the static Elastic IP and the private route tables'
0.0.0.0/0 to it, and completes the lifecycle action: CONTINUE, or ABANDON so the group replaces
an instance that cannot forward. See ``failover`` for the failure policy.

An EventBridge "Scheduled Event" runs the route audit instead (``audit``): it publishes RoutesUnusable,
the number of private route tables whose default route cannot carry traffic, and changes nothing.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import aws

from . import audit, contract
from .aws_access import NatAws
from .failover import Failover
from .observability import logger, metrics, tracer
from .plan import InvalidEvent, LaunchAction, parse_event
from .settings import ConfigurationError, Settings, load_settings


@functools.cache
def settings() -> Settings:
    """Read and validated once per execution environment (cold start)."""
    return load_settings(os.environ)


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if audit.is_scheduled(event):
        return _audit()
    try:
        action = parse_event(event)
    except InvalidEvent as exc:
        return _reject(str(exc), _identified(exc.identifiers))
    metrics.add_dimension(contract.DIMENSION_GROUP, action.group_name)
    logger.append_keys(instance_id=action.instance_id, lifecycle_hook_name=action.hook_name)
    try:
        config = settings()
    except ConfigurationError as exc:
        return _reject(str(exc), action)
    if (action.group_name, action.hook_name) != (config.group_name, config.hook_name):
        logger.warning(
            "not this function's lifecycle hook; ignored",
            extra={"auto_scaling_group_name": action.group_name, "expected": [config.group_name, config.hook_name]},
        )
        return {"status": "ignored", "instance_id": action.instance_id}
    logger.info("lifecycle event received", extra={"continuation": action.continuation})
    return Failover(action, config, _nat_aws(), context).run(event)


def _audit() -> dict[str, Any]:
    """Count the private route tables whose default route is missing, blackholed or on a dead instance."""
    config = settings()  # a configuration error fails the invocation: the audit alarm treats that as unusable
    metrics.add_dimension(contract.DIMENSION_GROUP, config.group_name)
    problems = audit.unusable_routes(_nat_aws(), config.route_table_ids)
    metrics.add_metric(contract.METRIC_ROUTES_UNUSABLE, MetricUnit.Count, len(problems))
    for table, problem in problems.items():
        logger.error("private default route cannot carry traffic", extra={"route_table_id": table, "problem": problem})
    if not problems:
        logger.info(
            "private default routes reach a running NAT instance",
            extra={"route_table_ids": list(config.route_table_ids)},
        )
    return {"status": "audited", "unusable": problems}


def _identified(found: dict[str, str]) -> LaunchAction | None:
    """The action a malformed event still names, if it is this function's own hook."""
    try:
        config = settings()
    except ConfigurationError:
        return None
    if (found.get("AutoScalingGroupName"), found.get("LifecycleHookName")) != (
        config.group_name,
        config.hook_name,
    ) or "EC2InstanceId" not in found:
        return None
    return LaunchAction(
        config.group_name, config.hook_name, found["EC2InstanceId"], found.get("LifecycleActionToken"), 0, None
    )


def _reject(problem: str, action: LaunchAction | None) -> dict[str, Any]:
    """Log what is wrong and ABANDON the action when it is known: retrying cannot fix the event."""
    logger.error(f"rejected lifecycle event: {problem}", extra={"reason": problem})
    metrics.add_metric(contract.METRIC_ROUTE_UPDATE_FAILED, MetricUnit.Count, 1)
    result = None
    if action is not None:
        try:
            result = "ABANDON" if _nat_aws().complete(action, "ABANDON") else None
        except Exception as exc:  # noqa: BLE001 - logged; the hook's default result (ABANDON) applies anyway
            logger.error("CompleteLifecycleAction failed", extra={"error_code": aws.error_code(exc), "error": str(exc)})
    return {"status": "rejected", "reason": problem, "lifecycle_action_result": result}


def _nat_aws() -> NatAws:
    return NatAws(aws.client("ec2"), aws.client("autoscaling"), aws.client("lambda"))
