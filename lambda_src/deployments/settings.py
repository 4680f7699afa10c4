"""The deployer's settings, read from the environment and validated once per cold start.

``deployer_settings`` raises shared.settings.SettingsError naming the first bad variable, its value and what
is allowed (TRADING_MODES errors also say which mode and field).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import settings as env_
from shared.settings import Env, SettingsError

from . import contract

__all__ = ["DeployerSettings", "ModeTarget", "SettingsError", "deployer_settings"]

CLUSTER = r"(arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster/)?[A-Za-z0-9_-]{1,255}"
FAMILY = re.compile(r"[A-Za-z0-9_-]{1,255}")
CAPACITY_PROVIDER = re.compile(r"[A-Za-z0-9_-]{1,255}")
DISCOVERY_SERVICE_ID = re.compile(r"srv-[a-z0-9]{1,64}")
BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
ENVIRONMENTS = ("dev", "staging", "prod")
MAX_HEALTH_TIMEOUT_SECONDS = 24 * 60 * 60
MODES_ALLOWED = (
    'a JSON object with exactly the modes "dry-run" and "live", each {"family": <task definition '
    'family>, "capacity_provider": <e.g. FARGATE_SPOT>, "discovery_service_id": "srv-...", '
    '"port": 1-65535}'
)


@dataclass(frozen=True)
class ModeTarget:
    """Where one trading mode runs: task definition family, capacity provider, Cloud Map service and port."""

    family: str
    capacity_provider: str
    discovery_service_id: str
    port: int


@dataclass(frozen=True)
class DeployerSettings:
    trading_table: str
    deployments_table: str
    config_versions_table: str
    configs_bucket: str
    cluster: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    environment: str
    deployment_ttl_days: int
    health_timeout_seconds: int
    modes: Mapping[str, ModeTarget]

    def mode(self, mode: str) -> ModeTarget:
        return self.modes[mode]


def deployer_settings(env: Env) -> DeployerSettings:
    return DeployerSettings(
        trading_table=env_.table_name(env, contract.ENV_TRADING_TABLE),
        deployments_table=env_.table_name(env, contract.ENV_DEPLOYMENTS_TABLE),
        config_versions_table=env_.table_name(env, contract.ENV_CONFIG_VERSIONS_TABLE),
        configs_bucket=env_.required(env, contract.ENV_CONFIGS_BUCKET, BUCKET, "an S3 bucket name"),
        cluster=env_.required(env, contract.ENV_ECS_CLUSTER, CLUSTER, "an ECS cluster ARN (or name)"),
        subnets=env_.subnets(env, contract.ENV_TASK_SUBNETS),
        security_groups=env_.security_groups(env, contract.ENV_TASK_SECURITY_GROUPS),
        environment=env_.one_of(env, contract.ENV_ENVIRONMENT, ENVIRONMENTS),
        deployment_ttl_days=env_.ttl_days(env, contract.ENV_DEPLOYMENT_TTL_DAYS),
        health_timeout_seconds=env_.positive_int(
            env, contract.ENV_HEALTH_TIMEOUT_SECONDS, maximum=MAX_HEALTH_TIMEOUT_SECONDS, unit="seconds"
        ),
        modes=trading_modes(env),
    )


def trading_modes(env: Env) -> dict[str, ModeTarget]:
    """TRADING_MODES: mode -> ModeTarget, for exactly the two trading modes."""
    name = contract.ENV_MODES
    try:
        data = json.loads(env.get(name, ""))
    except ValueError:
        raise env_.invalid(env, name, MODES_ALLOWED) from None
    if not isinstance(data, dict) or set(data) != {contract.DRY_RUN, contract.LIVE}:
        raise env_.invalid(env, name, MODES_ALLOWED)
    return {mode: _mode_target(env, mode, spec) for mode, spec in data.items()}


def _mode_target(env: Env, mode: str, spec: Any) -> ModeTarget:
    def field(key: str, pattern: re.Pattern) -> str:
        value = spec.get(key) if isinstance(spec, dict) else None
        if not (isinstance(value, str) and pattern.fullmatch(value)):
            raise env_.invalid(
                env, contract.ENV_MODES, f"{MODES_ALLOWED}; {mode}.{key}={value!r} must match ^{pattern.pattern}$"
            )
        return value

    family, provider = field("family", FAMILY), field("capacity_provider", CAPACITY_PROVIDER)
    service_id = field("discovery_service_id", DISCOVERY_SERVICE_ID)
    port = spec.get("port")
    if isinstance(port, str) and port.isascii() and port.isdigit():
        port = int(port)
    if not (isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535):
        raise env_.invalid(env, contract.ENV_MODES, f"{MODES_ALLOWED}; {mode}.port={port!r} must be 1-65535")
    return ModeTarget(family, provider, service_id, port)
