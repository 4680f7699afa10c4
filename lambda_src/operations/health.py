"""Pure decisions of the health check (no AWS or network calls).

A service is HEALTHY when every registered instance passes its probe, DEGRADED when some do, UNHEALTHY
when none do, when none is registered or when discovery failed. Its tradai-health-state item keeps
``since`` (when the current status began) and ``previous_status`` (the status before it) across checks.
A notice goes out only when the status changes: an alert for every change except the first-ever check
of a HEALTHY service (no notice); a change back to HEALTHY is the recovery alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.clock import iso
from shared.notify import Notice

from . import contract
from .outbox import Decision, pending

MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Endpoint:
    """Where to probe one Cloud Map instance; ``problem`` says why it cannot be probed."""

    instance_id: str
    host: str | None
    port: int | None
    problem: str | None = None

    def url(self, path: str) -> str | None:
        return f"http://{self.host}:{self.port}{path}" if self.problem is None else None


def endpoint(instance: dict[str, Any], default_port: int | None) -> Endpoint:
    """The probe target of a DiscoverInstances instance: AWS_INSTANCE_IPV4 and AWS_INSTANCE_PORT attributes
    (SRV registrations carry both; for A registrations without a port, the target's configured port)."""
    attributes = instance.get("Attributes") or {}
    instance_id = str(instance.get("InstanceId", "?"))
    host, raw_port = attributes.get(contract.ATTR_INSTANCE_IPV4), attributes.get(contract.ATTR_INSTANCE_PORT)
    if raw_port is None:
        port = default_port
    else:
        port = int(raw_port) if str(raw_port).isdigit() and 0 < int(raw_port) < 65536 else None
    if not host:
        return Endpoint(instance_id, None, port, f"instance {instance_id} has no {contract.ATTR_INSTANCE_IPV4}")
    if port is None:
        why = (
            f"invalid {contract.ATTR_INSTANCE_PORT} {raw_port!r}"
            if raw_port is not None
            else f"no {contract.ATTR_INSTANCE_PORT} and no port configured for the service"
        )
        return Endpoint(instance_id, host, None, f"instance {instance_id}: {why}")
    return Endpoint(instance_id, host, port)


@dataclass(frozen=True)
class ProbeResult:
    url: str | None
    passed: bool
    latency_ms: int | None
    error: str | None


@dataclass(frozen=True)
class Observation:
    """One check of one service: its probes, or why its instances could not be discovered."""

    service: str
    probes: tuple[ProbeResult, ...] = ()
    discovery_error: str | None = None

    @property
    def healthy_instances(self) -> int:
        return sum(probe.passed for probe in self.probes)

    @property
    def status(self) -> str:
        if self.discovery_error or self.healthy_instances == 0:
            return contract.UNHEALTHY
        return contract.HEALTHY if self.healthy_instances == len(self.probes) else contract.DEGRADED

    @property
    def latency_ms(self) -> int | None:
        """The fastest passing probe."""
        return min((p.latency_ms for p in self.probes if p.passed and p.latency_ms is not None), default=None)

    @property
    def error(self) -> str | None:
        if self.discovery_error:
            text = self.discovery_error
        elif not self.probes:
            text = "no instances registered in Cloud Map"
        else:
            text = "; ".join(f"{p.url or 'unprobed'}: {p.error}" for p in self.probes if not p.passed)
        return (text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "...") or None


def decide(
    previous: dict[str, Any] | None, observation: Observation, now: datetime, ttl_minutes: int, source: str
) -> Decision:
    """The service's new tradai-health-state item and the notice of its status change, if any."""
    prior = previous or {}
    status, before = observation.status, prior.get("status")
    changed = status != before
    item = {
        "service_name": observation.service,
        "status": status,
        "latency_ms": observation.latency_ms,
        "instances": len(observation.probes),
        "healthy_instances": observation.healthy_instances,
        "checked_at": iso(now),
        "since": iso(now) if changed or not prior.get("since") else prior["since"],
        "previous_status": before if changed else prior.get("previous_status"),
        "last_error": observation.error,
        "expires_at": int((now + timedelta(minutes=ttl_minutes)).timestamp()),
    }
    if not changed or (previous is None and status == contract.HEALTHY):
        return Decision(item)
    notice = transition_notice(item, source)
    return Decision({**item, contract.ATTR_PENDING_NOTICE: pending(notice)}, notice)


def transition_notice(item: dict[str, Any], source: str) -> Notice:
    service, status, since, before = item["service_name"], item["status"], item["since"], item["previous_status"]
    counts = f"{item['healthy_instances']}/{item['instances']} instances healthy"
    if status == contract.HEALTHY:
        subject = f"TradAI {service} recovered (HEALTHY)"
    else:
        subject = f"TradAI {service} {status} ({counts})"
    lines = [f"Service {service} is {status} since {since} (before: {before or 'not checked yet'}).", counts]
    if item["latency_ms"] is not None:
        lines.append(f"fastest passing probe: {item['latency_ms']} ms")
    if item["last_error"]:
        lines.append(f"errors: {item['last_error']}")
    return Notice(
        notification_id=f"health#{service}#{status}#{since}",
        source=source,
        subject=subject,
        message="\n".join(lines),
        alert=True,
        attributes={
            "kind": "health",
            "service_name": service,
            "status": status,
            "previous_status": before,
            "since": since,
        },
    )
