"""The backtest functions' settings, read from the environment and validated once per cold start.

One loader per function; each raises shared.settings.SettingsError naming the first bad variable.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import settings as env_
from shared.settings import Env, SettingsError

from . import contract

__all__ = [
    "ConsumerSettings",
    "EcsTarget",
    "OrphanScannerSettings",
    "SettingsError",
    "consumer_settings",
    "data_collection_url",
    "ecs_cluster",
    "orphan_scanner_settings",
    "workflow_table",
]

CLUSTER = r"(arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster/)?[A-Za-z0-9_-]{1,255}"
FAMILY = r"[A-Za-z0-9_-]{1,255}"
CAPACITY_PROVIDER = r"[A-Za-z0-9_-]{1,255}"
URL = env_.HTTP_ORIGIN + r"(/[^\s]*)?"
DEFAULT_TASK_PREFIX = "strategy-"  # spec 2.4


@dataclass(frozen=True)
class EcsTarget:
    """Where and how a strategy container runs (ecs launch mode, orphan scanner)."""

    cluster: str
    task_family: str
    capacity_provider: str = ""
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsumerSettings:
    launch_mode: str
    workflow_table: str
    idempotency_table: str
    run_ttl_days: int
    ecs: EcsTarget | None  # ecs mode only
    state_machine_arn: str | None  # stepfunctions mode only


@dataclass(frozen=True)
class OrphanScannerSettings:
    workflow_table: str
    cluster: str
    task_family: str
    stuck_after_minutes: int


def consumer_settings(env: Env) -> ConsumerSettings:
    """LAUNCH_MODE decides what else is needed: the ECS target (ecs) or STEP_FUNCTIONS_ARN (stepfunctions)."""
    mode = env_.one_of(env, contract.ENV_LAUNCH_MODE, contract.LAUNCH_MODES, default=contract.LAUNCH_ECS)
    tables = (workflow_table(env), env_.table_name(env, contract.ENV_IDEMPOTENCY_TABLE))
    ttl_days = env_.ttl_days(env, contract.ENV_RUN_TTL_DAYS)
    if mode == contract.LAUNCH_STEPFUNCTIONS:
        arn = env_.state_machine_arn(env, contract.ENV_STEP_FUNCTIONS_ARN)
        return ConsumerSettings(mode, *tables, ttl_days, ecs=None, state_machine_arn=arn)
    return ConsumerSettings(mode, *tables, ttl_days, ecs=_ecs_launch_target(env), state_machine_arn=None)


def _ecs_launch_target(env: Env) -> EcsTarget:
    family = _task_family(env)
    prefix = env_.optional(
        env, contract.ENV_ECS_TASK_PREFIX, DEFAULT_TASK_PREFIX, FAMILY, "a task definition family prefix"
    )
    if not family.startswith(prefix):
        raise env_.invalid(
            env,
            contract.ENV_ECS_TASK_PREFIX,
            f"a prefix of {contract.ENV_TASK_FAMILY} ({family!r}), default {DEFAULT_TASK_PREFIX!r}",
        )
    return EcsTarget(
        cluster=ecs_cluster(env),
        task_family=family,
        capacity_provider=env_.required(
            env, contract.ENV_CAPACITY_PROVIDER, CAPACITY_PROVIDER, "a capacity provider name, e.g. FARGATE_SPOT"
        ),
        subnets=env_.subnets(env, contract.ENV_TASK_SUBNETS),
        security_groups=env_.security_groups(env, contract.ENV_TASK_SECURITY_GROUPS),
    )


def workflow_table(env: Env) -> str:
    return env_.table_name(env, contract.ENV_WORKFLOW_TABLE)


def ecs_cluster(env: Env) -> str:
    return env_.required(env, contract.ENV_ECS_CLUSTER, CLUSTER, "an ECS cluster ARN (or name)")


def _task_family(env: Env) -> str:
    return env_.required(
        env,
        contract.ENV_TASK_FAMILY,
        FAMILY,
        "a task definition family name (no revision), e.g. strategy-container-dev",
    )


def data_collection_url(env: Env) -> str:
    return env_.required(
        env,
        contract.ENV_DATA_COLLECTION_URL,
        URL,
        "an http(s) URL, e.g. http://data-collection.tradai-dev.local:8002/api/v1/data/sync",
    )


def orphan_scanner_settings(env: Env) -> OrphanScannerSettings:
    return OrphanScannerSettings(
        workflow_table=workflow_table(env),
        cluster=ecs_cluster(env),
        task_family=_task_family(env),
        stuck_after_minutes=env_.positive_int(
            env, contract.ENV_STUCK_AFTER_MINUTES, maximum=7 * 24 * 60, unit="minutes"
        ),
    )
