"""Handler of `tradai-compare-models-<env>` (Step Functions tasks CompareCandidate and CompareShadow; entry point
``ml_lifecycle.compare_models.handler``).

Scores are the PERFORMANCE_METRIC of a version's source run (higher is better); "better" is
retraining.judge: score >= champion score + MIN_IMPROVEMENT x |champion score|; no finite challenger score is
never better, no champion score to beat lets any finite score pass.

phase "candidate" — input {"phase", "retraining_id", "model_name", "champion_version": str | null}.
The challenger is the newest version tagged job_id=<retraining_id> (none: NoChallenger). Better: the shadow
test item <retraining_id>-shadow is created RUNNING (conditional put; a replay keeps the first) and
retraining-state becomes SHADOW_TESTING; else REJECTED. Output {"better", "challenger_version",
"champion_version", "metric", "challenger_score", "champion_score", "test_id" (when better), "reason"}.

phase "shadow" — input {"phase", "retraining_id", "model_name", "champion_version", "challenger_version",
"test_id"}. The shadow score is the metric of the newest run tagged job_id=<test_id> in the experiment named
after the model (none: NoShadowRun), judged against the champion score recorded by the candidate phase.
The shadow item moves RUNNING → PASSED | FAILED (conditional; a replay answers from the stored item);
retraining-state becomes REJECTED when it failed. Output {"better", "challenger_version",
"champion_version", "shadow_score", "champion_score", "test_id", "reason"}.

Both phases: retraining-state writes are conditional on retraining_id (another one: StaleRetraining) and
recorded once (candidate_at, shadow_at); a replay returns the recorded answer and writes nothing. Scores are
null when missing or not finite (never NaN). Malformed input raises ValueError naming the field; transient
MLflow errors are raised as MlflowUnavailable (worth a Retry), AWS errors as botocore raises them.
Env: MLFLOW_TRACKING_URI, MLFLOW_CREDENTIALS_SECRET_ARN (optional), PERFORMANCE_METRIC, MIN_IMPROVEMENT
(default 0.02), SHADOW_TEST_STATE_TABLE, RETRAINING_STATE_TABLE, STATE_TTL_DAYS.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aws import cached_client

from . import contract, mlflow
from .observability import logger, metrics, tracer
from .retraining import (
    CompareRequest,
    NoChallenger,
    NoShadowRun,
    ShadowTestNotFound,
    StaleRetraining,
    challenger_of,
    compare_input,
    finite,
    judge,
    latest_run_id,
    shadow_test_id,
)
from .retraining_settings import CompareSettings, compare_settings
from .retraining_state import Retrainings, ShadowTests, owned

METRIC_CHALLENGER_BETTER = "ChallengersBetter"
METRIC_CHALLENGER_REJECTED = "ChallengersRejected"
METRIC_SHADOW_PASSED = "ShadowTestsPassed"
METRIC_SHADOW_FAILED = "ShadowTestsFailed"
CANDIDATE_MARKER, SHADOW_MARKER = "candidate_at", "shadow_at"


@functools.cache
def settings() -> CompareSettings:
    """Read and validated once per cold start."""
    return compare_settings(os.environ)


@functools.cache
def retrainings() -> Retrainings:
    return Retrainings(cached_client("dynamodb"), settings().retraining_table, settings().ttl_days)


@functools.cache
def shadow_tests() -> ShadowTests:
    return ShadowTests(cached_client("dynamodb"), settings().shadow_table, settings().ttl_days)


def _score(client: mlflow.Mlflow, run_id: str | None, metric: str) -> float | None:
    """The run's finite metric, or None (no run, run gone, no metric, NaN)."""
    if not run_id:
        return None
    try:
        return finite(client.run_metric(run_id, metric))
    except mlflow.MlflowError as exc:
        if exc.error_code == mlflow.RESOURCE_DOES_NOT_EXIST:
            return None
        raise


def _version_score(client: mlflow.Mlflow, model_name: str, version: str, metric: str) -> float | None:
    try:
        run_id = client.version(model_name, version).get("run_id")
    except mlflow.MlflowError as exc:
        if exc.error_code == mlflow.RESOURCE_DOES_NOT_EXIST:
            logger.warning("champion version not found in MLflow: it has no score", extra={"champion_version": version})
            return None
        raise
    return _score(client, run_id, metric)


# --- candidate ---------------------------------------------------------------------------------------------


def candidate_output(item: Mapping[str, Any]) -> dict[str, Any]:
    """The candidate answer as recorded on the retraining-state item (or a shadow-test item)."""
    better = item.get(
        "candidate_better",
        item.get("status") in (contract.SHADOW_RUNNING, contract.SHADOW_PASSED, contract.SHADOW_FAILED),
    )
    answer = {
        "better": better is True,
        "challenger_version": item.get("challenger_version"),
        "champion_version": item.get("champion_version"),
        "metric": item.get("metric"),
        "challenger_score": finite(item.get("challenger_score")),
        "champion_score": finite(item.get("champion_score")),
        "reason": item.get("candidate_reason", ""),
    }
    if answer["better"]:
        answer["test_id"] = item["test_id"]
    return answer


def compare_candidate(request: CompareRequest, config: CompareSettings) -> dict[str, Any]:
    model_name, retraining, metric = request.model_name, request.retraining_id, config.performance_metric
    item = retrainings().get(model_name)
    owned(item, model_name, retraining)
    assert item is not None  # owned raised otherwise
    if item.get(CANDIDATE_MARKER):
        logger.info("replayed candidate comparison: returning the recorded answer")
        return candidate_output(item)
    test_id = shadow_test_id(retraining)
    test = shadow_tests().get(test_id)  # exists: an earlier attempt judged the challenger better
    if test is None:
        client = mlflow.client()
        challenger = challenger_of(client.versions(model_name), retraining)
        if challenger is None:
            raise NoChallenger(
                f"model {model_name!r}: no version tagged {contract.VERSION_TAG_JOB_ID}={retraining}; "
                "training registered nothing"
            )
        challenger_score = _score(client, challenger.get("run_id"), metric)
        champion_score = (
            _version_score(client, model_name, request.champion_version, metric) if request.champion_version else None
        )
        verdict = judge(challenger_score, champion_score, config.min_improvement, metric, request.champion_version)
        fields = {
            "challenger_version": str(challenger["version"]),
            "champion_version": request.champion_version,
            "metric": metric,
            "challenger_score": challenger_score,
            "champion_score": champion_score,
            "candidate_better": verdict.better,
            "candidate_reason": verdict.reason,
        }
        if verdict.better:
            created, test = shadow_tests().create(
                test_id, model_name, {key: value for key, value in fields.items() if key != "candidate_better"}
            )
            if not created:
                logger.info("shadow test created concurrently: keeping the first", extra={"test_id": test_id})
    answer = candidate_output(test) if test is not None else candidate_output(fields)
    record = {
        key: answer[key]
        for key in ("challenger_version", "champion_version", "metric", "challenger_score", "champion_score")
    }
    written, stored = retrainings().record(
        model_name,
        retraining,
        CANDIDATE_MARKER,
        {
            **record,
            "candidate_better": answer["better"],
            "candidate_reason": answer["reason"],
            "reason": answer["reason"],
            "test_id": answer.get("test_id"),
        },
        status=contract.SHADOW_TESTING if answer["better"] else contract.REJECTED,
    )
    if not written:
        logger.info("candidate comparison recorded concurrently: returning the recorded answer")
        return candidate_output(stored)
    metrics.add_metric(
        METRIC_CHALLENGER_BETTER if answer["better"] else METRIC_CHALLENGER_REJECTED, MetricUnit.Count, 1
    )
    logger.info("challenger " + ("better: shadow test" if answer["better"] else "rejected"), extra=answer)
    return answer


# --- shadow ------------------------------------------------------------------------------------------------


def shadow_output(test: Mapping[str, Any]) -> dict[str, Any]:
    """The shadow answer as recorded on the shadow-test item."""
    return {
        "better": test.get("status") == contract.SHADOW_PASSED,
        "challenger_version": test.get("challenger_version"),
        "champion_version": test.get("champion_version"),
        "shadow_score": finite(test.get("shadow_score")),
        "champion_score": finite(test.get("champion_score")),
        "test_id": test.get("test_id"),
        "reason": test.get("reason", ""),
    }


def _matching_test(test: Mapping[str, Any] | None, request: CompareRequest) -> Mapping[str, Any]:
    if test is None:
        raise ShadowTestNotFound(
            f"shadow test {request.test_id} does not exist: the candidate phase did not judge the challenger better"
        )
    for field in ("model_name", "challenger_version", "champion_version"):
        if test.get(field) != getattr(request, field):
            raise ValueError(
                f"{field}={getattr(request, field)!r}: shadow test {request.test_id} is for {test.get(field)!r}"
            )
    return test


def compare_shadow(request: CompareRequest, config: CompareSettings) -> dict[str, Any]:
    model_name, retraining, metric = request.model_name, request.retraining_id, config.performance_metric
    test_id = request.test_id
    assert test_id is not None  # compare_input requires it in the shadow phase
    item = retrainings().get(model_name)
    owned(item, model_name, retraining)
    assert item is not None  # owned raised otherwise
    test = _matching_test(shadow_tests().get(test_id), request)
    if item.get(SHADOW_MARKER):
        logger.info("replayed shadow comparison: returning the recorded answer")
        return shadow_output(test)
    if test.get("status") == contract.SHADOW_RUNNING:
        client = mlflow.client()
        run_id = latest_run_id(client.runs_tagged(model_name, contract.RUN_TAG_JOB_ID, test_id))
        if run_id is None:
            raise NoShadowRun(
                f"experiment {model_name!r}: no run tagged {contract.RUN_TAG_JOB_ID}={test_id}; "
                "the shadow backtest logged nothing"
            )
        shadow_score = _score(client, run_id, metric)
        verdict = judge(
            shadow_score,
            test.get("champion_score"),
            config.min_improvement,
            metric,
            request.champion_version,
            candidate_label="shadow run",
        )
        status = contract.SHADOW_PASSED if verdict.better else contract.SHADOW_FAILED
        changed, test = shadow_tests().finish(
            test, status, {"shadow_score": shadow_score, "reason": verdict.reason, "shadow_run_id": run_id}
        )
        if not changed:
            logger.info("shadow test finished concurrently: keeping the first verdict")
    answer = shadow_output(test)
    written, _stored = retrainings().record(
        model_name,
        retraining,
        SHADOW_MARKER,
        {
            "shadow_better": answer["better"],
            "shadow_score": answer["shadow_score"],
            "shadow_reason": answer["reason"],
            "reason": answer["reason"],
        },
        status=None if answer["better"] else contract.REJECTED,
    )
    if written:
        metrics.add_metric(METRIC_SHADOW_PASSED if answer["better"] else METRIC_SHADOW_FAILED, MetricUnit.Count, 1)
    logger.info("shadow test " + ("passed" if answer["better"] else "failed"), extra=answer)
    return answer


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    config = settings()
    try:
        request = compare_input(event)
    except ValueError as exc:
        logger.error(f"rejected compare-models input: {exc}", extra={"input": event})
        raise
    logger.append_keys(phase=request.phase, retraining_id=request.retraining_id, model_name=request.model_name)
    try:
        if request.phase == contract.PHASE_CANDIDATE:
            return compare_candidate(request, config)
        return compare_shadow(request, config)
    except (ValueError, LookupError, StaleRetraining) as exc:  # LookupError: NoChallenger, NoShadowRun, ...
        logger.error(str(exc), extra={"error": type(exc).__name__})
        raise
