"""Handler of `tradai-model-rollback` (invoked synchronously by backend-api; entry point
``ml_lifecycle.model_rollback.handler``).

Input: {"model_name", optional "version" (digits), "reason" (1-500 characters), "requested_by",
optional "request_id"}. The target is ``version`` (it must exist and be READY) or, without one, the
version the champion replaced: its VERSION_TAG_PREVIOUS_CHAMPION tag. A target that is the champion
already is a no-op (rolled_back false, nothing recorded). Otherwise the champion alias moves to the target,
tradai-rollback-state records it (current_version, previous_version, last_*, rollback_count, history) and a
alert goes out through shared.notify (a production model changed by hand: the on-call must know).

No ping-pong: a rollback does not tag the target, so its previous-champion tag still names the version
*it* replaced when it was promoted; repeated rollbacks without a version walk back through the promotion
history instead of toggling between two versions.

Idempotency: the request key is "request#<request_id>", else a hash of (model_name, the requested
version or "previous", requested_by, reason, UTC minute); a request whose key is in the model's history
(current or previous minute) is a replay: it finishes an interrupted alias move (only when the champion is
still the recorded from_version), re-sends the notice (recorded once) and answers as the first time. The
history entry is written before the alias moves, so a retry never resolves "previous" a second time.
Output: {"model_name", "from_version", "to_version", "rolled_back"}.
Errors: ValueError naming the field (bad input, unknown model or version, no previous champion).
Env: MLFLOW_TRACKING_URI, MLFLOW_CREDENTIALS_SECRET_ARN (optional), CHAMPION_ALIAS, ROLLBACK_STATE_TABLE,
NOTIFICATIONS_TABLE, ALERTS_TOPIC_ARN.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aws import cached_client
from shared.clock import iso
from shared.notify import Notice, notifier_from_env

from . import contract, mlflow as mlflow_
from .observability import logger, metrics, tracer
from .retraining import MODEL_NAME, VERSION
from .settings import RollbackSettings, rollback_settings
from .state import Rollbacks

__all__ = ["RollbackRequest", "handler", "parse_request", "request_keys"]

REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
REASON_MAX = 500
REQUESTED_BY_MAX = 256


@dataclass(frozen=True)
class RollbackRequest:
    model_name: str
    version: str | None
    reason: str
    requested_by: str
    request_id: str | None = None


def _text(event: Mapping[str, Any], field: str, limit: int, what: str) -> str:
    value = event.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}={value!r}: {what} is required")
    if len(value.strip()) > limit or any(ord(char) < 32 and char not in "\t\n" for char in value):
        raise ValueError(f"{field}: at most {limit} characters without control characters (got {len(value.strip())})")
    return value.strip()


def parse_request(event: Any) -> RollbackRequest:
    """The invocation payload; ValueError naming the bad field."""
    if not isinstance(event, dict):
        raise ValueError(f"input must be a JSON object, got {type(event).__name__}")
    name = event.get("model_name")
    if not isinstance(name, str) or not MODEL_NAME.fullmatch(name) or not name.strip():
        raise ValueError(f"model_name={name!r}: a registered model name (1-256 printable characters) is required")
    version = event.get("version")
    if version is not None and (not isinstance(version, str) or not VERSION.fullmatch(version)):
        raise ValueError(
            f'version={version!r}: a model version string like "3" (or no version: the previous champion) is required'
        )
    reason = _text(event, "reason", REASON_MAX, "a reason (1-500 characters)")
    requested_by = _text(event, "requested_by", REQUESTED_BY_MAX, "who requests the rollback")
    request_id = event.get("request_id")
    if request_id is not None and (not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id)):
        raise ValueError(f"request_id={request_id!r}: 1-128 characters [A-Za-z0-9_.:-], or leave it out")
    return RollbackRequest(name, version, reason, requested_by, request_id)


def request_keys(request: RollbackRequest, now: datetime) -> tuple[str, ...]:
    """The request's idempotency keys, the one to record first (module docstring)."""
    if request.request_id:
        return (f"request#{request.request_id}",)
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)

    def key(moment: datetime) -> str:
        text = "\x1f".join(
            (
                request.model_name,
                request.version or "previous",
                request.requested_by,
                request.reason,
                moment.strftime("%Y-%m-%dT%H:%M"),
            )
        )
        return "auto#" + hashlib.sha256(text.encode()).hexdigest()[:32]

    return key(minute), key(minute - timedelta(minutes=1))


@functools.cache
def settings() -> RollbackSettings:
    return rollback_settings(os.environ)


@functools.cache
def rollbacks() -> Rollbacks:
    return Rollbacks(cached_client("dynamodb"), settings().rollback_table)


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_request(event)
        logger.append_keys(model_name=request.model_name, requested_by=request.requested_by)
        return roll_back(request, settings(), mlflow_.client(), context.function_name, datetime.now(UTC))
    except ValueError as exc:
        logger.error(str(exc))
        raise


def roll_back(
    request: RollbackRequest, config: RollbackSettings, client: mlflow_.Mlflow, source: str, now: datetime
) -> dict[str, Any]:
    name, alias = request.model_name, config.champion_alias
    keys = request_keys(request, now)
    try:
        client.model(name)
    except mlflow_.MlflowError as exc:
        if exc.error_code == mlflow_.RESOURCE_DOES_NOT_EXIST:
            raise ValueError(f"model_name={name!r}: no such registered model") from None
        raise
    champion = client.version_by_alias(name, alias)
    champion_version = str(champion["version"]) if champion else None
    recorded = Rollbacks.entry(rollbacks().get(name), keys)
    if recorded is None:
        target = _target(client, request, champion, alias)
        if target == champion_version:
            logger.info("the target is the champion already; nothing to roll back", extra={"version": target})
            return {"model_name": name, "from_version": target, "to_version": target, "rolled_back": False}
        entry: dict[str, Any] = {
            "at": iso(now),
            "from_version": champion_version,
            "to_version": target,
            "reason": request.reason,
            "requested_by": request.requested_by,
            "request_key": keys[0],
        }
        # When the append fails, the same request was recorded concurrently.
        recorded = entry if rollbacks().append(name, entry) else Rollbacks.entry(rollbacks().get(name), keys) or entry
    else:
        logger.info("rollback request recorded before; finishing it", extra={"request_key": recorded["request_key"]})
    from_version, to_version = recorded.get("from_version"), recorded["to_version"]
    if champion_version == from_version and champion_version != to_version:
        client.set_alias(name, alias, to_version)
        logger.warning(
            "champion rolled back",
            extra={"from_version": from_version, "to_version": to_version, "reason": request.reason},
        )
    elif champion_version != to_version:
        logger.warning(
            "the champion moved since this rollback was recorded; alias left alone",
            extra={"champion": champion_version, "to_version": to_version},
        )
    _notify(name, recorded, source)
    return {"model_name": name, "from_version": from_version, "to_version": to_version, "rolled_back": True}


def _target(client: mlflow_.Mlflow, request: RollbackRequest, champion: Mapping[str, Any] | None, alias: str) -> str:
    """The version to roll back to; ValueError when it does not exist or cannot be determined."""
    name, target = request.model_name, request.version
    if target is None:
        if champion is None:
            raise ValueError(f"model_name={name!r}: no version has the alias {alias}; name the version to roll back to")
        target = mlflow_.tags(champion).get(contract.VERSION_TAG_PREVIOUS_CHAMPION)
        if not target:
            raise ValueError(
                f"model_name={name!r}: champion v{champion['version']} has no "
                f"{contract.VERSION_TAG_PREVIOUS_CHAMPION} tag (no previous champion); name the "
                "version to roll back to"
            )
    field = "version" if request.version else contract.VERSION_TAG_PREVIOUS_CHAMPION
    return str(mlflow_.ready_version(client, name, target, field)["version"])


def _notify(name: str, entry: Mapping[str, Any], source: str) -> None:
    from_version, to_version = entry.get("from_version"), entry["to_version"]
    lines = [
        f"Model {name}: champion rolled back from v{from_version or '-'} to v{to_version}.",
        f"reason: {entry['reason']}",
        f"requested by: {entry['requested_by']}",
        f"at: {entry['at']}",
    ]
    notifier_from_env().send(
        Notice(
            notification_id=f"rollback#{name}#{entry['request_key']}",
            source=source,
            subject=f"TradAI model rollback: {name} v{from_version or '-'} -> v{to_version}",
            message="\n".join(lines),
            alert=True,
            attributes={
                "model_name": name,
                "from_version": from_version,
                "to_version": to_version,
                "requested_by": entry["requested_by"],
            },
        )
    )
