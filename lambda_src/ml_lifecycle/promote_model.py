"""Handler of `tradai-promote-model` (Step Functions task of the retraining workflow, in the VPC; entry point
``ml_lifecycle.promote_model.handler``).

Input: {"retraining_id", "model_name", "strategy", "challenger_version", "champion_version" (null: none)}.
Steps, each safe to repeat (a replay changes nothing and answers the same):
1. The model's tradai-retraining-state item must belong to ``retraining_id`` (else StaleRetraining, before
   anything changes); the challenger version must exist, be READY and, when it carries a job_id tag, have
   been trained by this retraining.
2. Unless the challenger already has the champion alias: tag it VERSION_TAG_PREVIOUS_CHAMPION = the current
   champion (when there is one; tagged before the alias moves, so a replay finds it), then move the alias.
   The current champion is read from MLflow; ``champion_version`` (the compared one) only warns when it
   differs.
3. tradai-deployments record {strategy_name, deployment_id "model#<model>#<retraining_id>", environment,
   created_at, kind "model-promotion", model_name, version, previous_version, retraining_id, ttl}: a
   conditional put, a replay keeps (and answers with) the first record.
4. tradai-retraining-state → PROMOTED (condition retraining_id = :id, once: marker promoted_at).
Output: {"promoted": true, "version", "previous_version", "deployment_id", "already_champion"}.
Errors: ValueError naming the bad field; StaleRetraining; MLflow/AWS errors as raised (transient MLflow
ones as MlflowUnavailable).
Env: MLFLOW_TRACKING_URI, MLFLOW_CREDENTIALS_SECRET_ARN (optional), CHAMPION_ALIAS, TRADAI_ENV,
DEPLOYMENTS_TABLE, RETRAINING_STATE_TABLE, DEPLOYMENT_TTL_DAYS, STATE_TTL_DAYS.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aws import cached_client
from shared.clock import iso

from . import contract, mlflow as mlflow_
from .observability import logger, metrics, tracer
from .retraining import StaleRetraining, retraining_input, version_field
from .retraining_state import Retrainings, owned
from .settings import PromoteSettings, promote_settings
from .state import Deployments

__all__ = ["PromoteRequest", "StaleRetraining", "handler", "parse_request"]

STRATEGY = re.compile(r"[^\x00-\x1f\x7f]{1,256}")
KIND = "model-promotion"
PROMOTED_MARKER = "promoted_at"


@dataclass(frozen=True)
class PromoteRequest:
    retraining_id: str
    model_name: str
    strategy: str
    challenger_version: str
    champion_version: str | None

    @property
    def deployment_id(self) -> str:
        return f"model#{self.model_name}#{self.retraining_id}"


def parse_request(event: Any) -> PromoteRequest:
    """The task input; ValueError naming the bad field."""
    retraining_id, model_name = retraining_input(event)
    strategy = event.get("strategy")
    if not isinstance(strategy, str) or not strategy.strip() or not STRATEGY.fullmatch(strategy):
        raise ValueError(f"strategy={strategy!r}: the strategy name (1-256 printable characters) is required")
    return PromoteRequest(
        retraining_id,
        model_name,
        strategy,
        version_field(event, "challenger_version", False),
        version_field(event, "champion_version", True),
    )


@functools.cache
def settings() -> PromoteSettings:
    return promote_settings(os.environ)


@functools.cache
def deployments() -> Deployments:
    return Deployments(cached_client("dynamodb"), settings().deployments_table)


@functools.cache
def retrainings() -> Retrainings:
    return Retrainings(cached_client("dynamodb"), settings().retraining_table, settings().state_ttl_days)


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_request(event)
        logger.append_keys(retraining_id=request.retraining_id, model_name=request.model_name)
        return promote(request, settings(), mlflow_.client())
    except (ValueError, StaleRetraining) as exc:
        logger.error(str(exc))
        raise


def promote(request: PromoteRequest, config: PromoteSettings, client: mlflow_.Mlflow) -> dict[str, Any]:
    name, challenger = request.model_name, request.challenger_version
    owned(retrainings().get(name), name, request.retraining_id)
    version = _challenger(client, request)
    current = client.version_by_alias(name, config.champion_alias)
    current_version = str(current["version"]) if current else None
    already = current_version == challenger
    if already:
        previous = mlflow_.tags(version).get(contract.VERSION_TAG_PREVIOUS_CHAMPION) or request.champion_version
        logger.info("challenger is the champion already; alias unchanged", extra={"version": challenger})
    else:
        previous = current_version
        if current_version != request.champion_version:
            logger.warning(
                "the champion changed since the comparison; the current one is replaced",
                extra={"compared_champion": request.champion_version, "current": current_version},
            )
        if previous is not None:
            client.set_version_tag(name, challenger, contract.VERSION_TAG_PREVIOUS_CHAMPION, previous)
        client.set_alias(name, config.champion_alias, challenger)
        logger.info("champion alias moved", extra={"version": challenger, "previous_version": previous})
    now = datetime.now(UTC)
    record: dict[str, Any] = {
        "strategy_name": request.strategy,
        "deployment_id": request.deployment_id,
        "environment": config.environment,
        "created_at": iso(now),
        "kind": KIND,
        "model_name": name,
        "version": challenger,
        "previous_version": previous,
        "retraining_id": request.retraining_id,
        "ttl": int((now + timedelta(days=config.deployment_ttl_days)).timestamp()),
    }
    written, record = deployments().record({key: value for key, value in record.items() if value is not None})
    if not written:
        logger.info("deployment recorded already; first record kept", extra={"deployment_id": request.deployment_id})
    previous = record.get("previous_version")
    changed, _ = retrainings().record(
        name,
        request.retraining_id,
        PROMOTED_MARKER,
        {
            "promoted_version": challenger,
            "previous_version": previous,
            "deployment_id": request.deployment_id,
            "reason": f"promoted v{challenger}" + (f" (previous champion v{previous})" if previous else ""),
        },
        status=contract.PROMOTED,
    )
    if not changed:
        logger.info("retraining marked PROMOTED already")
    return {
        "promoted": True,
        "version": record.get("version", challenger),
        "previous_version": previous,
        "deployment_id": request.deployment_id,
        "already_champion": already,
    }


def _challenger(client: mlflow_.Mlflow, request: PromoteRequest) -> dict[str, Any]:
    """The challenger's model version; ValueError when it is missing, not READY or from another run."""
    name, challenger = request.model_name, request.challenger_version
    version = mlflow_.ready_version(client, name, challenger, "challenger_version")
    job_id = mlflow_.tags(version).get(contract.VERSION_TAG_JOB_ID)
    if job_id not in (None, request.retraining_id):
        raise ValueError(
            f"challenger_version={challenger!r}: trained by {contract.VERSION_TAG_JOB_ID}={job_id!r}, "
            f"not by retraining {request.retraining_id}"
        )
    return version
