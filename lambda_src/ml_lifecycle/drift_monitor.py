"""Handler of `tradai-drift-monitor` (EventBridge schedule every 12 h, in the VPC; entry point
``ml_lifecycle.drift_monitor.handler``).

For every registered model with a champion (alias CHAMPION_ALIAS): read the drift files from the results
bucket, compute data drift (PSI) and model drift (score drop versus the champion run's PERFORMANCE_METRIC;
see drift.py) and write the model's tradai-drift-state item (status OK | DRIFTED | INSUFFICIENT_DATA,
drifted, data_drift, feature_psi, invalid_features, model_drift, baseline_score, observed_score, reasons,
checked_at, expires_at, drifted_since, ...).

Idempotency: ``checked_at`` is the scheduled event's ``time`` (EventBridge redelivers the same event on a
retry; a manual invocation without it uses the clock), so a duplicate invocation writes the same items.

Alerts, once per incident: an incident is a champion version's drift from the first drifted check until a
check finds it within the thresholds (OK) or another version is the champion; INSUFFICIENT_DATA keeps it
open. Its start is kept in the item as ``drifted_since`` and the notice id is
``drift#<model>#v<version>#<drifted_since>``. Every drifted check sends that notice through shared.notify,
which records and alerts it once (a publish that failed is completed by the next check; a notice older than
the notifications' 30-day retention is alerted again, as a reminder).

One model's failure does not stop the others: the handler raises at the end, the first transient error as
it is (AWS or MLflow; EventBridge's async retry repeats the check), else DriftCheckFailed.
Output: {"checked_at", "models", "drifted": [...], "insufficient_data": [...], "failed": [...]}.
Env: MLFLOW_TRACKING_URI, MLFLOW_CREDENTIALS_SECRET_ARN (optional), CHAMPION_ALIAS, PERFORMANCE_METRIC,
RESULTS_BUCKET, DRIFT_STATE_TABLE, DRIFT_PSI_THRESHOLD, PERFORMANCE_DROP_THRESHOLD, STATE_TTL_DAYS,
NOTIFICATIONS_TABLE, ALERTS_TOPIC_ARN.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import aws as shared_aws
from shared.aws import cached_client
from shared.clock import iso, parse_iso
from shared.notify import Notice, notifier_from_env

from . import contract, drift, mlflow as mlflow_
from .drift_inputs import DriftInputs, current_key, reference_key
from .observability import METRIC_MODEL_DATA_DRIFT, METRIC_MODELS_DRIFTED, logger, metrics, tracer
from .settings import DriftSettings, drift_settings
from .state import DriftStates, decimal

PSI_PLACES = 6


class DriftCheckFailed(Exception):
    """Some models could not be checked for a permanent reason (the others were)."""


@functools.cache
def settings() -> DriftSettings:
    return drift_settings(os.environ)


@functools.cache
def drift_states() -> DriftStates:
    return DriftStates(cached_client("dynamodb"), settings().drift_table)


@functools.cache
def drift_inputs() -> DriftInputs:
    return DriftInputs(cached_client("s3"), settings().results_bucket)


def transient(exc: BaseException) -> bool:
    return mlflow_.is_transient(exc) or (isinstance(exc, Exception) and shared_aws.is_transient(exc))


def checked_at(event: Any) -> datetime:
    """The scheduled time of the EventBridge event (same on a redelivery); now for a manual invocation."""
    time = event.get("time") if isinstance(event, dict) else None
    if time is None:
        return datetime.now(UTC)
    try:
        if not isinstance(time, str):
            raise TypeError(time)
        return parse_iso(time)
    except (TypeError, ValueError):
        raise ValueError(f"time={time!r}: an ISO-8601 UTC timestamp (the scheduled event's time) is required") from None


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        moment = checked_at(event)
    except ValueError as exc:
        logger.error(str(exc))
        raise
    config, client = settings(), mlflow_.client()
    models = [model["name"] for model in client.registered_models()]
    drifted: list[str] = []
    insufficient: list[str] = []
    failures: dict[str, Exception] = {}
    for name in models:
        try:
            status = check_model(name, moment, context.function_name, config, client)
        except Exception as exc:  # noqa: BLE001 - one model's failure must not stop the others
            failures[name] = exc
            logger.exception("drift check failed", extra={"model_name": name, "transient": transient(exc)})
            continue
        if status == contract.DRIFT_DETECTED:
            drifted.append(name)
        elif status == contract.DRIFT_INSUFFICIENT_DATA:
            insufficient.append(name)
    metrics.add_metric(name=METRIC_MODELS_DRIFTED, unit=MetricUnit.Count, value=len(drifted))
    logger.info(
        "drift check done",
        extra={
            "models": len(models),
            "drifted": drifted,
            "insufficient_data": insufficient,
            "failed": sorted(failures),
        },
    )
    if failures:
        first_transient = next((exc for exc in failures.values() if transient(exc)), None)
        if first_transient is not None:
            raise first_transient
        raise DriftCheckFailed(
            f"{len(failures)} of {len(models)} models not checked: "
            + "; ".join(f"{name}: {exc}" for name, exc in sorted(failures.items()))
        )
    return {
        "checked_at": iso(moment),
        "models": len(models),
        "drifted": drifted,
        "insufficient_data": insufficient,
        "failed": [],
    }


def check_model(name: str, moment: datetime, source: str, config: DriftSettings, client: mlflow_.Mlflow) -> str:
    """Assess one model, write its drift-state item and send the incident's notice; returns the status."""
    champion = client.version_by_alias(name, config.champion_alias)
    version: str | None = str(champion["version"]) if champion else None
    current_doc = None
    if champion is None:
        assessment = drift.insufficient(f"no version has the alias {config.champion_alias}")
    else:
        assessment, current_doc = _assess(name, champion, config, client)
    previous = drift_states().get(name)
    since = _incident_start(assessment, previous, version, iso(moment))
    item = _item(name, version, assessment, moment, config, since, current_doc)
    if not drift_states().put(item):
        logger.warning(
            "a newer drift check is stored; this one is not written",
            extra={"model_name": name, "checked_at": item["checked_at"]},
        )
        return assessment.status
    log = logger.warning if assessment.status != contract.DRIFT_OK else logger.info
    log(
        "model drift checked",
        extra={
            "model_name": name,
            "model_version": version,
            "status": assessment.status,
            "data_drift": assessment.data_drift,
            "model_drift": assessment.model_drift,
            "reasons": list(assessment.reasons),
        },
    )
    if assessment.data_drift is not None:
        with single_metric(
            name=METRIC_MODEL_DATA_DRIFT,
            unit=MetricUnit.NoUnit,
            value=assessment.data_drift,
            namespace=contract.METRICS_NAMESPACE,
            default_dimensions={"service": contract.SERVICE},
        ) as metric:
            metric.add_dimension(name="model_name", value=name)
    if assessment.drifted:
        _alert(name, version, assessment, since, source)
    return assessment.status


def _assess(
    name: str, champion: Mapping[str, Any], config: DriftSettings, client: mlflow_.Mlflow
) -> tuple[drift.Assessment, drift.DriftFile | None]:
    version = str(champion["version"])
    missing: list[str] = []
    files: dict[str, drift.DriftFile | None] = {}
    for label, key in (("reference.json", reference_key(name, version)), ("current.json", current_key(name))):
        files[label] = None
        try:
            document = drift_inputs().read(key)
            if document is None:
                missing.append(f"no {label} at s3://{config.results_bucket}/{key}")
            else:
                files[label] = drift.parse_drift_file(document, label)
        except ValueError as exc:
            logger.error("invalid drift input", extra={"model_name": name, "key": key, "error": str(exc)})
            missing.append(f"invalid {label}: {exc}")
    current = files["current.json"]
    if current is None:
        return drift.insufficient(*missing), None
    baseline, why = _baseline(client, champion, config.performance_metric)
    return drift.assess(
        files["reference.json"],
        current,
        baseline,
        config.performance_metric,
        config.psi_threshold,
        config.drop_threshold,
        tuple(missing),
        why,
    ), current


def _baseline(client: mlflow_.Mlflow, champion: Mapping[str, Any], metric: str) -> tuple[float | None, str | None]:
    """The champion run's training score, or None and why."""
    run_id = champion.get("run_id")
    if not run_id:
        return None, f"no baseline: champion v{champion['version']} has no source run"
    try:
        return client.run_metric(run_id, metric), None
    except mlflow_.MlflowError as exc:
        if exc.error_code == mlflow_.RESOURCE_DOES_NOT_EXIST:
            return None, f"no baseline: the champion's run {run_id} does not exist"
        raise


def _incident_start(
    assessment: drift.Assessment, previous: Mapping[str, Any] | None, version: str | None, now: str
) -> str | None:
    """drifted_since of the open incident after this check (module docstring), or None."""
    ongoing = previous.get("drifted_since") if previous and str(previous.get("model_version")) == version else None
    if assessment.drifted:
        return ongoing or now
    if assessment.status == contract.DRIFT_INSUFFICIENT_DATA:
        return ongoing
    return None


def _item(
    name: str,
    version: str | None,
    assessment: drift.Assessment,
    moment: datetime,
    config: DriftSettings,
    since: str | None,
    current: drift.DriftFile | None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "model_name": name,
        "status": assessment.status,
        "drifted": assessment.drifted,
        "reasons": list(assessment.reasons),
        "checked_at": iso(moment),
        "expires_at": int((moment + timedelta(days=config.state_ttl_days)).timestamp()),
        "metric": config.performance_metric,
        "psi_threshold": Decimal(repr(config.psi_threshold)),
        "drop_threshold": Decimal(repr(config.drop_threshold)),
        "feature_psi": {feature: decimal(value, PSI_PLACES) for feature, value in assessment.feature_psi.items()},
        "model_drift": decimal(assessment.model_drift, PSI_PLACES),
        "baseline_score": decimal(assessment.baseline_score),
        "observed_score": decimal(assessment.observed_score),
    }
    optional = {
        "model_version": version,
        "data_drift": decimal(assessment.data_drift, PSI_PLACES),
        "invalid_features": assessment.invalid_features or None,
        "drifted_since": since,
        "current_generated_at": current.generated_at if current else None,
    }
    item.update({key: value for key, value in optional.items() if value is not None})
    return item


def _alert(name: str, version: str | None, assessment: drift.Assessment, since: str | None, source: str) -> None:
    notification_id = f"drift#{name}#v{version}#{since}"
    lines = [f"Model {name} v{version} (champion) drifted.", *assessment.reasons, f"drifted since: {since}"]
    delivery = notifier_from_env().send(
        Notice(
            notification_id=notification_id,
            source=source,
            subject=f"TradAI model drift: {name} v{version}",
            message="\n".join(lines),
            alert=True,
            attributes={"model_name": name, "model_version": version, "status": assessment.status},
        )
    )
    if delivery.published:
        logger.info(
            "drift alert published",
            extra={"model_name": name, "notification_id": notification_id, "message_id": delivery.message_id},
        )
