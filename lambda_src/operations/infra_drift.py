"""Handler of `tradai-infra-drift-detector` (EventBridge schedule, every 6 hours, outside the VPC; entry point
``operations.infra_drift.handler``).

Starts CloudFormation drift detection of every STACK_NAMES stack, polls the detections until they finish
(bounded by DETECTION_TIMEOUT_SECONDS and by the invocation's remaining time less a reserve for
recording), reads the MODIFIED and DELETED resources of drifted stacks and drops the RUNTIME_MANAGED
ones. Records one tradai-infra-drift-state item per stack (see ``drift``; no TTL) and notifies new drift
(alert) and a return to IN_SYNC (notice). A stack that is missing, fails or times out is recorded UNKNOWN
and the invocation fails after every stack is recorded. Publishes DriftedStacks.
Input: the scheduled event (only logged). Output: {"stacks": {name: drift_status}, "new_drift": [names]}.
Env: INFRA_DRIFT_TABLE, STACK_NAMES, RUNTIME_MANAGED, DETECTION_TIMEOUT_SECONDS, NOTIFICATIONS_TABLE,
ALERTS_TOPIC_ARN.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aws import cached_client, error_code
from shared.notify import Notifier

from . import contract
from .aws_access import CloudFormation, StateTable
from .common import Failures, error_text, log_trigger
from .drift import Outcome, decide, finished, outcome, unknown
from .observability import logger, metrics, tracer
from .outbox import Outbox
from .settings import DriftSettings, drift_settings

POLL_SECONDS = 5.0
RESERVE_SECONDS = 30.0  # of the invocation's time, kept for reading drifts, recording and notifying


class DriftUnknown(Exception):
    """The drift of a stack could not be determined (recorded UNKNOWN with this error)."""


@functools.cache
def settings() -> DriftSettings:
    return drift_settings(os.environ)


@functools.cache
def detector() -> DriftDetector:
    config, dynamodb = settings(), cached_client("dynamodb")
    return DriftDetector(
        config,
        CloudFormation(cached_client("cloudformation")),
        StateTable(dynamodb, config.drift_table, "stack_name", "last_check"),
        Outbox(Notifier(dynamodb, cached_client("sns"), config.notifier), dynamodb),
    )


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    log_trigger(event)
    return detector().run(context.get_remaining_time_in_millis() / 1000, context.function_name)


@dataclass
class DriftDetector:
    settings: DriftSettings
    cloudformation: CloudFormation
    records: StateTable
    outbox: Outbox
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def run(self, remaining_seconds: float, source: str) -> dict[str, Any]:
        budget = max(0.0, min(self.settings.timeout_seconds, remaining_seconds - RESERVE_SECONDS))
        outcomes = self._detect(self.monotonic() + budget, budget)
        failures, new_drift = Failures("stacks"), []
        for stack in self.settings.stacks:
            with failures.guard(stack, stack_name=stack):
                if self._record(stack, outcomes[stack], source):
                    new_drift.append(stack)
            if outcomes[stack].drift_status == contract.DRIFT_UNKNOWN:
                failures.add(stack, DriftUnknown(outcomes[stack].error))
        statuses = {stack: outcomes[stack].drift_status for stack in self.settings.stacks}
        drifted = sum(status == contract.DRIFTED for status in statuses.values())
        metrics.add_metric(contract.METRIC_DRIFTED_STACKS, MetricUnit.Count, drifted)
        result = {"stacks": statuses, "new_drift": new_drift}
        logger.info("drift detection finished", extra=result)
        failures.raise_if_any()
        return result

    def _detect(self, deadline: float, budget: float) -> dict[str, Outcome]:
        """Start every detection, then poll them until all are final or the deadline passes."""
        outcomes: dict[str, Outcome] = {}
        running: dict[str, str] = {}
        for stack in self.settings.stacks:
            try:
                running[stack] = self.cloudformation.detect(stack)
            except Exception as exc:  # noqa: BLE001 - recorded UNKNOWN; the run fails at its end
                outcomes[stack] = self._failed(stack, "DetectStackDrift", exc)
        while running:
            for stack, detection_id in list(running.items()):
                try:
                    status = self.cloudformation.detection(detection_id)
                    if not finished(status):
                        continue
                    drifts = (
                        self.cloudformation.drifted_resources(stack)
                        if status.get("StackDriftStatus") == contract.DRIFTED
                        else []
                    )
                    outcomes[stack] = outcome(stack, status, drifts, self.settings.runtime_managed)
                except Exception as exc:  # noqa: BLE001 - recorded UNKNOWN; the run fails at its end
                    outcomes[stack] = self._failed(stack, "reading the drift detection", exc, detection_id)
                del running[stack]
            left = deadline - self.monotonic()
            if not running or left <= 0:
                break
            self.sleep(min(POLL_SECONDS, left))
        for stack, detection_id in running.items():
            logger.error(
                "drift detection did not finish in time", extra={"stack_name": stack, "detection_id": detection_id}
            )
            outcomes[stack] = unknown(
                f"drift detection {detection_id} did not finish within {budget:.0f} s", detection_id
            )
        return outcomes

    @staticmethod
    def _failed(stack: str, step: str, exc: Exception, detection_id: str | None = None) -> Outcome:
        logger.error(
            f"{step} failed",
            extra={"stack_name": stack, "error_code": error_code(exc), "error": str(exc), "detection_id": detection_id},
        )
        return unknown(f"{step} failed: {error_text(exc)}", detection_id)

    def _record(self, stack: str, result: Outcome, source: str) -> bool:
        """Write the stack's record (sending a notice an earlier run left); True when it alerts new drift."""
        previous = self.records.get(stack)
        if previous is not None:
            self.outbox.flush(self.records.table, {"stack_name": stack}, previous)
        decision = decide(stack, result, previous, self.now(), source)
        if not self.records.replace(decision.item, previous):
            logger.warning(
                "another invocation recorded this stack meanwhile; its result stands",
                extra={"stack_name": stack, "drift_status": result.drift_status},
            )
            return False
        log = logger.warning if result.drift_status == contract.DRIFTED else logger.info
        log(
            "stack drift recorded",
            extra={
                "stack_name": stack,
                "drift_status": result.drift_status,
                "drifted": [r.logical_id for r in result.drifted],
                "ignored": [r.logical_id for r in result.ignored],
            },
        )
        if decision.notice is None:
            return False
        self.outbox.send(self.records.table, {"stack_name": stack}, decision.notice)
        return decision.notice.alert
