"""Settings of the retraining functions (retraining-scheduler, check-retraining-needed, compare-models), read
from the environment and validated once per cold start (the handlers cache them).

Each loader raises shared.settings.SettingsError naming the first bad variable, its value and what is
allowed. The MLflow variables (MLFLOW_TRACKING_URI, MLFLOW_CREDENTIALS_SECRET_ARN) are validated by
``mlflow.client_from_env``; CHAMPION_ALIAS (default champion), the table names and the metric key follow
``settings`` (the family's loaders).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import settings as env_
from shared.settings import Env, SettingsError

from . import contract
from .settings import METRIC_KEY, champion_alias

__all__ = [
    "CheckSettings",
    "CompareSettings",
    "SchedulerSettings",
    "SettingsError",
    "check_settings",
    "compare_settings",
    "scheduler_settings",
]

DEFAULT_WINDOW_HOURS = 6
DEFAULT_STALE_AFTER_HOURS = 24
DEFAULT_MIN_IMPROVEMENT = 0.02


@dataclass(frozen=True)
class SchedulerSettings:
    retraining_table: str
    state_machine_arn: str
    window_hours: int
    stale_after_hours: int  # a non-terminal retraining not updated for this long is replaced
    ttl_days: int


@dataclass(frozen=True)
class CheckSettings:
    champion_alias: str
    drift_table: str
    retraining_table: str
    max_model_age_days: int
    shadow_window_days: int
    ttl_days: int


@dataclass(frozen=True)
class CompareSettings:
    performance_metric: str
    min_improvement: float  # fraction of |champion score|
    shadow_table: str
    retraining_table: str
    ttl_days: int


def _ttl_days(env: Env) -> int:
    return env_.ttl_days(env, contract.ENV_STATE_TTL_DAYS)


def scheduler_settings(env: Env) -> SchedulerSettings:
    window = env_.positive_int(
        env, contract.ENV_SCHEDULE_WINDOW_HOURS, default=DEFAULT_WINDOW_HOURS, maximum=7 * 24, unit="hours"
    )
    stale = env_.positive_int(
        env, contract.ENV_RETRAINING_STALE_AFTER_HOURS, default=DEFAULT_STALE_AFTER_HOURS, maximum=30 * 24, unit="hours"
    )
    return SchedulerSettings(
        retraining_table=env_.table_name(env, contract.ENV_RETRAINING_TABLE),
        state_machine_arn=env_.state_machine_arn(env, contract.ENV_RETRAINING_STATE_MACHINE_ARN),
        window_hours=window,
        stale_after_hours=stale,
        ttl_days=_ttl_days(env),
    )


def check_settings(env: Env) -> CheckSettings:
    return CheckSettings(
        champion_alias=champion_alias(env),
        drift_table=env_.table_name(env, contract.ENV_DRIFT_TABLE),
        retraining_table=env_.table_name(env, contract.ENV_RETRAINING_TABLE),
        max_model_age_days=env_.positive_int(env, contract.ENV_MAX_MODEL_AGE_DAYS, maximum=3650, unit="days"),
        shadow_window_days=env_.positive_int(env, contract.ENV_SHADOW_WINDOW_DAYS, maximum=365, unit="days"),
        ttl_days=_ttl_days(env),
    )


def compare_settings(env: Env) -> CompareSettings:
    return CompareSettings(
        performance_metric=env_.required(
            env, contract.ENV_PERFORMANCE_METRIC, METRIC_KEY, "an MLflow metric key, e.g. sharpe"
        ),
        min_improvement=env_.number(
            env, contract.ENV_MIN_IMPROVEMENT, default=DEFAULT_MIN_IMPROVEMENT, minimum=0.0, maximum=10.0
        ),
        shadow_table=env_.table_name(env, contract.ENV_SHADOW_TABLE),
        retraining_table=env_.table_name(env, contract.ENV_RETRAINING_TABLE),
        ttl_days=_ttl_days(env),
    )
