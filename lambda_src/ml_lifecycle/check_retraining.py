"""Handler of `tradai-check-retraining-needed-<env>` (Step Functions task CheckRetrainingNeeded, result at
$.check; entry point ``ml_lifecycle.check_retraining.handler``).

Input: {"retraining_id", "model_name"}. Retraining is needed when the model has no CHAMPION_ALIAS version, the
drift-state item says the champion version drifted, or the champion version is older than
MAX_MODEL_AGE_DAYS (retraining.retraining_need). Output: {"needed": bool, "reason": str, "strategy": the
model's "strategy" tag or its name, "champion_version": str | null, "shadow_timerange": "YYYYMMDD-YYYYMMDD"
(the SHADOW_WINDOW_DAYS whole UTC days ending yesterday, freqtrade end-exclusive)}.

The answer is recorded once on the retraining-state item (status TRAINING or NOT_NEEDED, checked_at),
conditional on its retraining_id (an item that does not exist yet, a manual start, is created): a replay
returns the recorded answer and writes nothing; an item of another retraining_id raises StaleRetraining.
A malformed input or an unknown model raises ValueError naming the field; transient MLflow errors are raised as
MlflowUnavailable (worth a Retry), AWS errors as botocore raises them.
Env: MLFLOW_TRACKING_URI, MLFLOW_CREDENTIALS_SECRET_ARN (optional), CHAMPION_ALIAS, DRIFT_STATE_TABLE,
RETRAINING_STATE_TABLE, MAX_MODEL_AGE_DAYS, SHADOW_WINDOW_DAYS, STATE_TTL_DAYS.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aws import cached_client

from . import contract, mlflow
from .observability import logger, metrics, tracer
from .retraining import StaleRetraining, retraining_input, retraining_need, shadow_timerange
from .retraining_settings import CheckSettings, check_settings
from .retraining_state import Retrainings, owned
from .state import DriftStates

METRIC_NEEDED = "RetrainingsNeeded"
MARKER = "checked_at"


def now() -> datetime:
    return datetime.now(UTC)


@functools.cache
def settings() -> CheckSettings:
    """Read and validated once per cold start."""
    return check_settings(os.environ)


@functools.cache
def retrainings() -> Retrainings:
    return Retrainings(cached_client("dynamodb"), settings().retraining_table, settings().ttl_days)


@functools.cache
def drift_states() -> DriftStates:
    return DriftStates(cached_client("dynamodb"), settings().drift_table)


def output_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """The check's answer as recorded on the retraining-state item."""
    return {
        "needed": item.get("needed") is True,
        "reason": item.get("check_reason", ""),
        "strategy": item.get("strategy"),
        "champion_version": item.get("champion_version"),
        "shadow_timerange": item.get("shadow_timerange"),
    }


def _model(client: mlflow.Mlflow, model_name: str) -> dict[str, Any]:
    try:
        return client.model(model_name)
    except mlflow.MlflowError as exc:
        if exc.error_code == mlflow.RESOURCE_DOES_NOT_EXIST:
            raise ValueError(f"model_name={model_name!r}: no such registered model in MLflow") from None
        raise


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    config = settings()
    try:
        retraining, model_name = retraining_input(event)
    except ValueError as exc:
        logger.error(f"rejected check-retraining input: {exc}", extra={"input": event})
        raise
    logger.append_keys(retraining_id=retraining, model_name=model_name)
    try:
        return check(retraining, model_name, config)
    except (ValueError, StaleRetraining) as exc:
        logger.error(str(exc), extra={"error": type(exc).__name__})
        raise


def check(retraining: str, model_name: str, config: CheckSettings) -> dict[str, Any]:
    item = retrainings().get(model_name)
    owned(item, model_name, retraining, allow_missing=True)
    if item and item.get(MARKER):
        logger.info("replayed check: returning the recorded answer", extra={"checked_at": item[MARKER]})
        return output_of(item)

    client = mlflow.client()
    at = now()
    model = _model(client, model_name)
    strategy = mlflow.tags(model).get(contract.MODEL_TAG_STRATEGY, "").strip() or model_name
    champion = client.version_by_alias(model_name, config.champion_alias)
    drift = drift_states().get(model_name) if champion else None
    needed, reason = retraining_need(champion, drift, at, config.max_model_age_days)
    result = {
        "needed": needed,
        "reason": reason,
        "strategy": strategy,
        "champion_version": str(champion["version"]) if champion else None,
        "shadow_timerange": shadow_timerange(at, config.shadow_window_days),
    }

    written, stored = retrainings().record(
        model_name,
        retraining,
        MARKER,
        {
            "needed": needed,
            "check_reason": reason,
            "reason": reason,
            "strategy": strategy,
            "champion_version": result["champion_version"],
            "shadow_timerange": result["shadow_timerange"],
        },
        status=contract.TRAINING if needed else contract.NOT_NEEDED,
        create=True,
    )
    if not written:
        logger.info("check recorded concurrently: returning the recorded answer")
        return output_of(stored)
    metrics.add_metric(METRIC_NEEDED, MetricUnit.Count, int(needed))
    logger.info("retraining " + ("needed" if needed else "not needed"), extra=result)
    return result
