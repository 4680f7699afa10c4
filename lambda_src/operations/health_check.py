"""Handler of `tradai-health-check` (EventBridge schedule, every 2 minutes, in the VPC; entry point
``operations.health_check.handler``).

Discovers every instance of each HEALTH_TARGETS service in the Cloud Map namespace and probes them all
concurrently (HTTP GET of the target's path; 2xx/3xx pass). Writes one tradai-health-state item per service
(see ``health``) with a conditional write, publishes ServiceHealthy and ProbeLatency per service, and
notifies (shared.notify, through the item's pending notice) when a status changes. A service whose
discovery or state write fails transiently does not stop the others; the invocation fails at the end.
Input: the scheduled event (only logged). Output: {"services": {name: status}, "changed": [names]}.
Env: HEALTH_STATE_TABLE, SERVICE_NAMESPACE, HEALTH_TARGETS, PROBE_TIMEOUT_SECONDS, HEALTH_TTL_MINUTES,
NOTIFICATIONS_TABLE, ALERTS_TOPIC_ARN.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from shared.aws import cached_client, is_transient
from shared.notify import Notifier

from . import contract, probes
from .aws_access import CloudMap, StateTable
from .common import Failures, error_text, log_trigger
from .health import Endpoint, Observation, ProbeResult, decide, endpoint
from .observability import emit, logger, metrics, tracer
from .outbox import Outbox
from .settings import HealthCheckSettings, HealthTarget, health_check_settings

MAX_WORKERS = 32


@functools.cache
def settings() -> HealthCheckSettings:
    return health_check_settings(os.environ)


@functools.cache
def checker() -> Checker:
    config, dynamodb = settings(), cached_client("dynamodb")
    return Checker(
        config,
        CloudMap(cached_client("servicediscovery"), config.namespace),
        StateTable(dynamodb, config.health_table, "service_name", "checked_at"),
        Outbox(Notifier(dynamodb, cached_client("sns"), config.notifier), dynamodb),
    )


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    log_trigger(event)
    return checker().run(context.function_name)


Discovered = list[Endpoint] | str | Exception  # endpoints, a non-transient discovery error, or a failure


@dataclass
class Checker:
    settings: HealthCheckSettings
    cloud_map: CloudMap
    states: StateTable
    outbox: Outbox
    probe: Callable[[str | None, str | None, float], ProbeResult] = probes.probe
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def run(self, source: str) -> dict[str, Any]:
        targets = self.settings.targets
        with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
            discovered = dict(zip((t.service for t in targets), pool.map(self._discover, targets)))
            observations = self._observe(pool, targets, discovered)
        failures, statuses, changed = Failures("services"), {}, []
        for target in targets:
            with failures.guard(target.service, service_name=target.service):
                found = discovered[target.service]
                if isinstance(found, Exception):
                    raise found
                observation = observations[target.service]
                statuses[target.service] = observation.status
                self._publish_metrics(observation)
                if self._record(observation, source):
                    changed.append(target.service)
        result = {"services": statuses, "changed": changed}
        logger.info("health check finished", extra=result)
        failures.raise_if_any()
        return result

    def _discover(self, target: HealthTarget) -> Discovered:
        try:
            return [endpoint(instance, target.port) for instance in self.cloud_map.instances(target.service)]
        except ClientError as exc:
            if is_transient(exc):
                return exc
            return f"Cloud Map discovery failed: {error_text(exc)}"
        except Exception as exc:  # noqa: BLE001 - raised for this service by run, after the others
            return exc

    def _observe(
        self, pool: ThreadPoolExecutor, targets: tuple[HealthTarget, ...], discovered: dict[str, Discovered]
    ) -> dict[str, Observation]:
        """Probe every instance of every discovered service at once."""
        timeout = self.settings.probe_timeout_seconds
        futures = {
            t.service: [pool.submit(self.probe, e.url(t.path), e.problem, timeout) for e in found]
            for t in targets
            if isinstance(found := discovered[t.service], list)
        }
        observations = {
            service: Observation(service, tuple(f.result() for f in submitted))
            for service, submitted in futures.items()
        }
        observations.update(
            {
                service: Observation(service, discovery_error=found)
                for service, found in discovered.items()
                if isinstance(found, str)
            }
        )
        return observations

    def _record(self, observation: Observation, source: str) -> bool:
        """Write the service's state (sending a notice an earlier run left); True when its status changed."""
        service = observation.service
        previous = self.states.get(service)
        if previous is not None:
            self.outbox.flush(self.states.table, {"service_name": service}, previous)
        decision = decide(previous, observation, self.now(), self.settings.ttl_minutes, source)
        if not self.states.replace(decision.item, previous):
            logger.warning(
                "another invocation recorded this service meanwhile; its result stands",
                extra={"service_name": service, "status": observation.status},
            )
            return False
        log = logger.warning if observation.status != contract.HEALTHY else logger.info
        log(
            "service checked",
            extra={
                "service_name": service,
                "status": observation.status,
                "healthy_instances": observation.healthy_instances,
                "instances": len(observation.probes),
                "error": observation.error,
            },
        )
        if decision.notice is None:
            return False
        self.outbox.send(self.states.table, {"service_name": service}, decision.notice)
        return True

    @staticmethod
    def _publish_metrics(observation: Observation) -> None:
        healthy = 1 if observation.status == contract.HEALTHY else 0
        emit(
            contract.METRIC_SERVICE_HEALTHY, MetricUnit.Count, healthy, contract.DIMENSION_SERVICE, observation.service
        )
        if observation.latency_ms is not None:
            emit(
                contract.METRIC_PROBE_LATENCY,
                MetricUnit.Milliseconds,
                observation.latency_ms,
                contract.DIMENSION_SERVICE,
                observation.service,
            )
