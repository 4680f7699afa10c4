"""The operations functions' settings, read from the environment and validated once per cold start.

One loader per function; each raises shared.settings.SettingsError naming the first bad variable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from shared import settings as env_
from shared.notify import NotifierSettings, notifier_settings
from shared.settings import Env, SettingsError

from . import contract

__all__ = [
    "DriftSettings",
    "HealthCheckSettings",
    "HealthTarget",
    "HeartbeatSettings",
    "SettingsError",
    "drift_settings",
    "health_check_settings",
    "heartbeat_settings",
]

NAMESPACE = r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*"
SERVICE_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,126}"
HEALTH_PATH = r"/[^\s#]*"
STACK_NAME = r"[A-Za-z][A-Za-z0-9-]{0,127}"
LOGICAL_ID = r"[A-Za-z0-9]{1,255}"
TARGETS_ALLOWED = (
    'a JSON list of {"service": "<Cloud Map service name>", "path": "/<health path>"} objects, '
    'optionally with "port" (1-65535, used when Cloud Map records none); service names unique'
)


@dataclass(frozen=True)
class HealthTarget:
    service: str
    path: str
    port: int | None = None


@dataclass(frozen=True)
class HealthCheckSettings:
    health_table: str
    namespace: str
    targets: tuple[HealthTarget, ...]
    probe_timeout_seconds: float
    ttl_minutes: int
    notifier: NotifierSettings


@dataclass(frozen=True)
class HeartbeatSettings:
    trading_table: str
    stale_minutes: int
    notifier: NotifierSettings


@dataclass(frozen=True)
class DriftSettings:
    drift_table: str
    stacks: tuple[str, ...]
    runtime_managed: frozenset[tuple[str, str]]  # (stack name, logical resource id)
    timeout_seconds: int
    notifier: NotifierSettings


def health_check_settings(env: Env) -> HealthCheckSettings:
    return HealthCheckSettings(
        health_table=env_.table_name(env, contract.ENV_HEALTH_TABLE),
        namespace=env_.required(
            env, contract.ENV_SERVICE_NAMESPACE, NAMESPACE, "a Cloud Map namespace name, e.g. tradai-dev.local"
        ),
        targets=_targets(env),
        probe_timeout_seconds=env_.number(
            env, contract.ENV_PROBE_TIMEOUT_SECONDS, default=5.0, minimum=0.1, maximum=20.0
        ),
        ttl_minutes=env_.positive_int(env, contract.ENV_HEALTH_TTL_MINUTES, maximum=7 * 24 * 60, unit="minutes"),
        notifier=notifier_settings(env),
    )


def heartbeat_settings(env: Env) -> HeartbeatSettings:
    return HeartbeatSettings(
        trading_table=env_.table_name(env, contract.ENV_TRADING_TABLE),
        stale_minutes=env_.positive_int(env, contract.ENV_HEARTBEAT_STALE_MINUTES, maximum=24 * 60, unit="minutes"),
        notifier=notifier_settings(env),
    )


def drift_settings(env: Env) -> DriftSettings:
    stacks = env_.csv(
        env, contract.ENV_STACK_NAMES, STACK_NAME, "comma-separated CloudFormation stack names", max_items=50
    )
    return DriftSettings(
        drift_table=env_.table_name(env, contract.ENV_INFRA_DRIFT_TABLE),
        stacks=stacks,
        runtime_managed=_runtime_managed(env, stacks),
        timeout_seconds=env_.positive_int(
            env, contract.ENV_DETECTION_TIMEOUT_SECONDS, default=240, maximum=840, unit="seconds"
        ),
        notifier=notifier_settings(env),
    )


def _targets(env: Env) -> tuple[HealthTarget, ...]:
    name = contract.ENV_HEALTH_TARGETS
    try:
        raw: Any = json.loads(env.get(name, ""))
    except ValueError:
        raise env_.invalid(env, name, TARGETS_ALLOWED) from None
    if not isinstance(raw, list) or not raw:
        raise env_.invalid(env, name, TARGETS_ALLOWED)
    parsed = [_target(entry) for entry in raw]
    targets = tuple(target for target in parsed if target is not None)
    if len(targets) != len(parsed) or len({t.service for t in targets}) != len(targets):
        raise env_.invalid(env, name, TARGETS_ALLOWED)
    return targets


def _target(entry: Any) -> HealthTarget | None:
    if not isinstance(entry, dict) or set(entry) - {"service", "path", "port"}:
        return None
    service, path, port = entry.get("service"), entry.get("path"), entry.get("port")
    if not (
        isinstance(service, str)
        and re.fullmatch(SERVICE_NAME, service)
        and isinstance(path, str)
        and re.fullmatch(HEALTH_PATH, path)
    ):
        return None
    if port is not None and not (type(port) is int and 1 <= port <= 65535):
        return None
    return HealthTarget(service, path, port)


def _runtime_managed(env: Env, stacks: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    """RUNTIME_MANAGED: empty or unset is none; each entry names one of STACK_NAMES."""
    if not env.get(contract.ENV_RUNTIME_MANAGED, "").strip():
        return frozenset()
    allowed = f"comma-separated <stack name>/<logical resource id>, the stack one of {contract.ENV_STACK_NAMES}"
    entries = env_.csv(env, contract.ENV_RUNTIME_MANAGED, f"{STACK_NAME}/{LOGICAL_ID}", allowed)
    pairs = frozenset((stack, logical_id) for stack, logical_id in (entry.split("/", 1) for entry in entries))
    if any(stack not in stacks for stack, _ in pairs):
        raise env_.invalid(env, contract.ENV_RUNTIME_MANAGED, allowed)
    return pairs
