"""The ML lifecycle functions' settings, read from the environment and validated once per cold start.

One loader per function; each raises shared.settings.SettingsError naming the first bad variable. The MLflow
client has its own loader (``mlflow.client_from_env``); notifications use ``shared.notify.notifier_settings``.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import settings as env_
from shared.settings import Env, SettingsError

from . import contract

__all__ = [
    "DriftSettings",
    "PromoteSettings",
    "RollbackSettings",
    "SettingsError",
    "champion_alias",
    "drift_settings",
    "promote_settings",
    "rollback_settings",
]

BUCKET_NAME = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
# MLflow aliases: letters, digits, _ and -; not "latest" and not v<digits> (those name versions).
ALIAS = r"(?!latest$)(?![vV]\d+$)[A-Za-z0-9_-]{1,255}"
METRIC_KEY = r"[A-Za-z0-9_./ -]{1,250}"
ENVIRONMENTS = ("dev", "staging", "prod")
DEFAULT_CHAMPION_ALIAS = "champion"
DEFAULT_PSI_THRESHOLD = 0.2
DEFAULT_DROP_THRESHOLD = 0.2


@dataclass(frozen=True)
class DriftSettings:
    champion_alias: str
    performance_metric: str
    results_bucket: str
    drift_table: str
    psi_threshold: float
    drop_threshold: float
    state_ttl_days: int


@dataclass(frozen=True)
class PromoteSettings:
    champion_alias: str
    environment: str
    deployments_table: str
    retraining_table: str
    deployment_ttl_days: int
    state_ttl_days: int


@dataclass(frozen=True)
class RollbackSettings:
    champion_alias: str
    rollback_table: str


def champion_alias(env: Env) -> str:
    return env_.optional(
        env,
        contract.ENV_CHAMPION_ALIAS,
        DEFAULT_CHAMPION_ALIAS,
        ALIAS,
        "an MLflow alias (letters, digits, _ and -; not latest or v<n>), default champion",
    )


def drift_settings(env: Env) -> DriftSettings:
    return DriftSettings(
        champion_alias=champion_alias(env),
        performance_metric=env_.required(
            env, contract.ENV_PERFORMANCE_METRIC, METRIC_KEY, "an MLflow metric key, e.g. sharpe_ratio"
        ),
        results_bucket=env_.required(env, contract.ENV_RESULTS_BUCKET, BUCKET_NAME, "an S3 bucket name"),
        drift_table=env_.table_name(env, contract.ENV_DRIFT_TABLE),
        psi_threshold=env_.number(env, contract.ENV_PSI_THRESHOLD, DEFAULT_PSI_THRESHOLD, minimum=0.0, maximum=10.0),
        drop_threshold=env_.number(
            env, contract.ENV_PERFORMANCE_DROP_THRESHOLD, DEFAULT_DROP_THRESHOLD, minimum=0.0, maximum=10.0
        ),
        state_ttl_days=env_.ttl_days(env, contract.ENV_STATE_TTL_DAYS),
    )


def promote_settings(env: Env) -> PromoteSettings:
    return PromoteSettings(
        champion_alias=champion_alias(env),
        environment=env_.one_of(env, contract.ENV_ENVIRONMENT, ENVIRONMENTS),
        deployments_table=env_.table_name(env, contract.ENV_DEPLOYMENTS_TABLE),
        retraining_table=env_.table_name(env, contract.ENV_RETRAINING_TABLE),
        deployment_ttl_days=env_.ttl_days(env, contract.ENV_DEPLOYMENT_TTL_DAYS),
        state_ttl_days=env_.ttl_days(env, contract.ENV_STATE_TTL_DAYS),
    )


def rollback_settings(env: Env) -> RollbackSettings:
    return RollbackSettings(
        champion_alias=champion_alias(env), rollback_table=env_.table_name(env, contract.ENV_ROLLBACK_TABLE)
    )
