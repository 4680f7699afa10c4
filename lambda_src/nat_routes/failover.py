"""One launch lifecycle action, end to end: wait for readiness, hand the EIP and the routes to the
new instance, complete the action. Decisions come from ``plan``, AWS calls from ``aws_access``.

Failure policy:
- the instance cannot become ready, a configuration or permission error, a refused call: ABANDON
  (the group replaces the instance), RouteUpdateFailed metric, error log;
- a transient AWS error (throttling, 5xx, connection): re-raised, so Lambda's asynchronous retry
  runs the (idempotent) failover again and, finally, the event lands in the dead-letter queue;
- still booting when this invocation's time runs out: the same event goes to a new asynchronous
  invocation (bounded by the readiness budget and MAX_CONTINUATIONS).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import error_code, is_transient

from . import contract
from .aws_access import NatAws
from .observability import logger, metrics
from .plan import Instance, LaunchAction, Readiness, assess_readiness, plan_takeover
from .settings import Settings

MAX_CONTINUATIONS = 5
CONTINUE, ABANDON = "CONTINUE", "ABANDON"


class Abandon(Exception):
    """Stop and complete the lifecycle action with ABANDON."""

    def __init__(self, reason: str, **fields: Any):
        super().__init__(reason)
        self.reason = reason
        self.fields = fields


class Failover:
    """Runs one action; ``timeline`` records when each phase happened (UTC, ISO 8601)."""

    def __init__(
        self,
        action: LaunchAction,
        settings: Settings,
        aws: NatAws,
        context: Any,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], datetime] | None = None,
    ):
        self.action, self.settings, self.aws, self.context = action, settings, aws, context
        self.sleep = sleep or time.sleep
        self.now = now or (lambda: datetime.now(UTC))
        self.timeline: dict[str, str] = {}
        if action.event_time:
            self._mark("event_emitted", action.event_time)
        self._mark("received")

    def run(self, event: dict) -> dict[str, Any]:
        try:
            instance = self._wait_until_ready(event)
            if instance is None:
                return self._result("waiting", continuation=self.action.continuation + 1)
            with self._aws_step("disable source/dest check"):
                if instance.source_dest_check:
                    self.aws.disable_source_dest_check(instance.instance_id)
            self._mark("source_dest_check_off")
            address = self._take_address(instance)
            self._mark("address_associated")
            routes = [self._take_route(table, instance) for table in self.settings.route_table_ids]
            self._mark("route_switched")
        except Abandon as exc:
            return self._abandon(exc)
        switched = sum(route["action"] in ("created", "replaced") for route in routes)
        metrics.add_metric(contract.METRIC_ROUTE_UPDATED, MetricUnit.Count, switched)
        if switched and self.action.event_time:
            seconds = (self.now() - self.action.event_time).total_seconds()
            metrics.add_metric(contract.METRIC_SECONDS_TO_SWITCH, MetricUnit.Seconds, seconds)
        completed = self._complete(CONTINUE)
        logger.info("failover timeline", extra={"timeline": self.timeline})
        return self._result("continued", lifecycle_action_result=completed, address=address, routes=routes)

    def _wait_until_ready(self, event: dict) -> Instance | None:
        """Poll until READY; raise Abandon on FAILED; None once the wait was handed to a new invocation."""
        while True:
            with self._aws_step("describe instance"):
                instance = self.aws.instance(self.action.instance_id)
            readiness, why = assess_readiness(instance, self.now(), self.settings.ready_timeout_seconds)
            if readiness is Readiness.READY:
                self._mark("ready_seen")
                logger.info("instance ready", extra={"instance_id": self.action.instance_id, "reason": why})
                return instance
            if readiness is Readiness.FAILED:
                raise Abandon(
                    f"instance {self.action.instance_id} will not forward: {why}", error_code="InstanceNotReady"
                )
            if self._seconds_left() < self.settings.poll_interval_seconds + contract.SWITCH_RESERVE_SECONDS:
                self._continue_later(event, why)
                return None
            logger.debug("waiting for readiness", extra={"reason": why})
            self.sleep(self.settings.poll_interval_seconds)

    def _continue_later(self, event: dict, why: str) -> None:
        nxt = self.action.continuation + 1
        if nxt > MAX_CONTINUATIONS:
            raise Abandon(
                f"instance {self.action.instance_id} still not ready after {nxt} invocations: {why}",
                error_code="InstanceNotReady",
            )
        with self._aws_step("hand the wait to a new invocation"):
            self.aws.continue_later(self.context.invoked_function_arn, event, nxt)
        logger.info(
            "still booting; the wait continues in a new invocation",
            extra={"instance_id": self.action.instance_id, "reason": why, "continuation": nxt},
        )
        return None

    def _take_address(self, instance: Instance) -> dict[str, Any]:
        allocation = self.settings.eip_allocation_id
        with self._aws_step("associate the Elastic IP"):
            holder = self.aws.address_holder(allocation)
            action, reason = plan_takeover(holder, instance)
            if action in ("created", "replaced"):
                self.aws.associate_address(allocation, instance.instance_id)
        outcome = {
            "allocation_id": allocation,
            "action": action,
            "reason": reason,
            "previous_target": holder.target if holder else None,
        }
        logger.info(f"Elastic IP {action}", extra={**outcome, "instance_id": instance.instance_id})
        return outcome

    def _take_route(self, route_table_id: str, instance: Instance) -> dict[str, Any]:
        """Point one table's default route at the instance; a concurrent CreateRoute is re-planned once."""
        with self._aws_step(f"route update of {route_table_id}", route_table_id=route_table_id):
            holder = self.aws.route_holder(route_table_id)
            action, reason = plan_takeover(holder, instance)
            try:
                self._apply_route(route_table_id, instance, action)
            except ClientError as exc:
                if error_code(exc) != "RouteAlreadyExists":
                    raise
                holder = self.aws.route_holder(route_table_id)
                action, reason = plan_takeover(holder, instance)
                reason = f"{reason} (created concurrently)"
                self._apply_route(route_table_id, instance, "replaced" if action == "created" else action)
        outcome = {
            "route_table_id": route_table_id,
            "action": action,
            "reason": reason,
            "previous_target": holder.target if holder else None,
        }
        log = logger.warning if action == "skipped" else logger.info
        log(
            f"route {action}",
            extra={**outcome, "instance_id": instance.instance_id, "target": instance.primary_interface_id},
        )
        return outcome

    def _apply_route(self, route_table_id: str, instance: Instance, action: str) -> None:
        if action not in ("created", "replaced"):
            return
        if instance.primary_interface_id is None:
            raise Abandon(
                f"instance {instance.instance_id} has no primary network interface",
                error_code="NoPrimaryNetworkInterface",
            )
        self.aws.point_default_route(route_table_id, instance.primary_interface_id, create=action == "created")

    def _abandon(self, exc: Abandon) -> dict[str, Any]:
        logger.error(exc.reason, extra={**self._log_fields(), **exc.fields})
        metrics.add_metric(contract.METRIC_ROUTE_UPDATE_FAILED, MetricUnit.Count, 1)
        completed = self._complete(ABANDON)
        return self._result("abandoned", reason=exc.reason, lifecycle_action_result=completed, **exc.fields)

    def _complete(self, result: str) -> str | None:
        """Complete the action; transient failures are re-raised, a vanished action is only a warning."""
        try:
            accepted = self.aws.complete(self.action, result)
        except (ClientError, BotoCoreError) as exc:
            logger.error(
                "CompleteLifecycleAction failed",
                extra={
                    **self._log_fields(),
                    "lifecycle_action_result": result,
                    "error_code": error_code(exc),
                    "error": str(exc),
                },
            )
            raise
        self._mark("hook_completed")
        if not accepted:
            logger.warning(
                "lifecycle action is no longer pending", extra={**self._log_fields(), "lifecycle_action_result": result}
            )
            return None
        logger.info("lifecycle action completed", extra={**self._log_fields(), "lifecycle_action_result": result})
        return result

    @contextlib.contextmanager
    def _aws_step(self, step: str, **fields: Any) -> Iterator[None]:
        """Transient AWS errors propagate (async retry); any other AWS error abandons, naming the step."""
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                logger.warning(
                    f"{step}: transient AWS error, left to the asynchronous retry",
                    extra={**self._log_fields(), "error_code": error_code(exc), "error": str(exc)},
                )
                raise
            raise Abandon(f"{step} failed", error_code=error_code(exc), error=str(exc), **fields) from exc

    def _seconds_left(self) -> float:
        return self.context.get_remaining_time_in_millis() / 1000

    def _mark(self, phase: str, when: datetime | None = None) -> None:
        self.timeline.setdefault(phase, (when or self.now()).isoformat(timespec="seconds"))

    def _log_fields(self) -> dict[str, Any]:
        return {
            "auto_scaling_group_name": self.action.group_name,
            "lifecycle_hook_name": self.action.hook_name,
            "instance_id": self.action.instance_id,
            "continuation": self.action.continuation,
        }

    def _result(self, status: str, **fields: Any) -> dict[str, Any]:
        return {"status": status, "instance_id": self.action.instance_id, **fields, "timeline": self.timeline}
