"""drift-monitor (EventBridge schedule) against moto (S3, DynamoDB, SNS) and the FakeMlflow."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import pytest

from ml_lifecycle import contract, drift_monitor
from ml_lifecycle.mlflow import MlflowUnavailable
from shared.settings import SettingsError

from .ml_fixtures import (DRIFT_TABLE, METRIC, NOTIFICATIONS_TABLE, RESULTS_BUCKET, Context, cold_start,  # noqa: F401
                          emf_metrics, error_logs, fake_mlflow, ml_env, ml_logs, scheduled_event)

T0, T1, T2, T3 = "2026-12-01T00:00:00Z", "2026-12-01T12:00:00Z", "2026-12-02T00:00:00Z", "2026-12-02T12:00:00Z"
REFERENCE = {"rsi_14": [50, 50], "volume": [25, 25, 25, 25]}
STABLE = {"rsi_14": [60, 40], "volume": [25, 25, 25, 25]}  # max PSI 0.1*ln(1.5) = 0.0405
SHIFTED = {"rsi_14": [50, 50], "volume": [10, 20, 30, 40]}  # max PSI 0.2282


def features(counts: dict) -> dict:
    return {name: {"edges": [float(edge) for edge in range(len(c) + 1)], "counts": c} for name, c in counts.items()}


def write_reference(env, model: str, version: str, counts: dict = REFERENCE) -> None:
    env.put_json(f"drift/{model}/v{version}/reference.json",
                 {"generated_at": "2026-11-01T00:00:00Z", "features": features(counts)})


def write_current(env, model: str, counts: dict = STABLE, score: float | None = 1.45) -> None:
    env.put_json(f"drift/{model}/current.json",
                 {"generated_at": "2026-11-30T23:00:00Z", "features": features(counts),
                  "performance": {} if score is None else {METRIC: score, "max_drawdown": 0.12}})


def monitored(env, model: str = "momentum", baseline: float = 1.5, current: dict = STABLE,
              score: float | None = 1.45) -> str:
    """A champion with both drift files; returns its version."""
    version = env.champion(model, metric=baseline)
    write_reference(env, model, version)
    write_current(env, model, current, score)
    return version


def check(time: str = T0):
    return drift_monitor.handler(scheduled_event(time), Context(function_name="tradai-drift-monitor-dev"))


def notifications(env) -> list[dict]:
    return env.items(NOTIFICATIONS_TABLE)


# --- outcomes --------------------------------------------------------------------------------------------------

def test_a_healthy_model_gets_an_ok_item_and_no_alert(ml_env):
    version = monitored(ml_env)

    result = check()

    assert result == {"checked_at": "2026-12-01T00:00:00.000Z", "models": 1, "drifted": [], "insufficient_data": [],
                      "failed": []}
    item = ml_env.item(DRIFT_TABLE, "momentum")
    assert item["model_version"] == version and item["status"] == contract.DRIFT_OK and item["drifted"] is False
    assert item["data_drift"] == pytest.approx(0.040547)
    assert item["feature_psi"] == {"rsi_14": pytest.approx(0.040547), "volume": 0}
    assert item["model_drift"] == pytest.approx(1 / 30, abs=1e-6)
    assert (item["baseline_score"], item["observed_score"]) == (1.5, 1.45)
    assert item["checked_at"] == "2026-12-01T00:00:00.000Z"
    assert item["expires_at"] == int(datetime(2026, 12, 31, tzinfo=timezone.utc).timestamp())  # + STATE_TTL_DAYS
    assert item["current_generated_at"] == "2026-11-30T23:00:00Z"
    assert "drifted_since" not in item and item["reasons"][0].startswith("no drift")
    assert notifications(ml_env) == [] and ml_env.alerts() == []


def test_data_drift_alerts_once_per_incident(ml_env):
    version = monitored(ml_env, current=SHIFTED)

    assert check(T0)["drifted"] == ["momentum"]
    item = ml_env.item(DRIFT_TABLE, "momentum")
    assert item["status"] == contract.DRIFT_DETECTED and item["drifted"] is True
    assert item["data_drift"] == pytest.approx(0.228217)
    assert item["reasons"] == ["data drift: PSI 0.2282 > 0.2 (feature volume)"]
    assert item["drifted_since"] == "2026-12-01T00:00:00.000Z"
    alerts = ml_env.alerts()
    assert len(alerts) == 1 and alerts[0]["Subject"] == f"TradAI model drift: momentum v{version}"
    assert "data drift: PSI 0.2282 > 0.2 (feature volume)" in alerts[0]["Message"]
    [note] = notifications(ml_env)
    assert note["notification_id"] == f"drift#momentum#v{version}#2026-12-01T00:00:00.000Z"
    assert note["alert"] is True and note["alert_sent_at"]

    check(T1)  # still drifted: the same incident

    assert ml_env.item(DRIFT_TABLE, "momentum")["drifted_since"] == "2026-12-01T00:00:00.000Z"
    assert ml_env.item(DRIFT_TABLE, "momentum")["checked_at"] == "2026-12-01T12:00:00.000Z"
    assert ml_env.alerts() == [] and len(notifications(ml_env)) == 1


def test_a_new_incident_after_recovery_alerts_again(ml_env):
    monitored(ml_env, current=SHIFTED)
    check(T0)
    ml_env.alerts()
    write_current(ml_env, "momentum", STABLE)
    check(T1)
    assert "drifted_since" not in ml_env.item(DRIFT_TABLE, "momentum")

    write_current(ml_env, "momentum", SHIFTED)
    check(T2)

    assert ml_env.item(DRIFT_TABLE, "momentum")["drifted_since"] == "2026-12-02T00:00:00.000Z"
    assert len(ml_env.alerts()) == 1 and len(notifications(ml_env)) == 2


def test_insufficient_data_keeps_the_incident_open(ml_env):
    monitored(ml_env, current=SHIFTED)
    check(T0)
    ml_env.alerts()
    ml_env.client("s3").delete_object(Bucket=RESULTS_BUCKET, Key="drift/momentum/current.json")
    check(T1)
    assert ml_env.item(DRIFT_TABLE, "momentum")["status"] == contract.DRIFT_INSUFFICIENT_DATA

    write_current(ml_env, "momentum", SHIFTED)
    check(T2)

    assert ml_env.item(DRIFT_TABLE, "momentum")["drifted_since"] == "2026-12-01T00:00:00.000Z"
    assert ml_env.alerts() == [] and len(notifications(ml_env)) == 1


def test_a_new_champion_version_is_a_new_incident(ml_env):
    monitored(ml_env, current=SHIFTED)
    check(T0)
    ml_env.alerts()
    version = ml_env.champion("momentum", metric=1.5)
    write_reference(ml_env, "momentum", version)  # the same reference: the live data still differs

    check(T1)

    item = ml_env.item(DRIFT_TABLE, "momentum")
    assert item["model_version"] == version == "2" and item["drifted_since"] == "2026-12-01T12:00:00.000Z"
    assert len(ml_env.alerts()) == 1


def test_model_drift_from_the_champion_run_score(ml_env):
    monitored(ml_env, baseline=2.0, current=STABLE, score=1.2)

    check()

    item = ml_env.item(DRIFT_TABLE, "momentum")
    assert item["drifted"] is True and item["model_drift"] == pytest.approx(0.4)
    assert item["reasons"] == ["model drift: sharpe_ratio dropped 40.0% (2 -> 1.2) > 20%"]
    assert (item["baseline_score"], item["observed_score"]) == (2, 1.2)
    assert len(ml_env.alerts()) == 1


def test_thresholds_come_from_the_environment(ml_env):
    monitored(ml_env, current=STABLE)
    ml_env.set_env(DRIFT_PSI_THRESHOLD="0.01")

    assert check()["drifted"] == ["momentum"]
    assert ml_env.item(DRIFT_TABLE, "momentum")["psi_threshold"] == 0.01


# --- missing or bad inputs ----------------------------------------------------------------------------------------

def test_no_champion_is_insufficient_data(ml_env):
    ml_env.version("momentum", metric=1.5)  # registered, never promoted

    assert check()["insufficient_data"] == ["momentum"]

    item = ml_env.item(DRIFT_TABLE, "momentum")
    assert item["status"] == contract.DRIFT_INSUFFICIENT_DATA and item["drifted"] is False
    assert item["reasons"] == ["no version has the alias champion"] and "model_version" not in item
    assert notifications(ml_env) == []


def test_no_current_file_is_insufficient_data(ml_env):
    version = ml_env.champion("momentum")
    write_reference(ml_env, "momentum", version)

    check()

    item = ml_env.item(DRIFT_TABLE, "momentum")
    assert item["status"] == contract.DRIFT_INSUFFICIENT_DATA and item["model_version"] == version
    assert item["reasons"] == [f"no current.json at s3://{RESULTS_BUCKET}/drift/momentum/current.json"]
    assert item["model_drift"] is None and "data_drift" not in item
    assert ml_env.alerts() == []


def test_no_reference_for_the_champion_version_is_insufficient_data(ml_env):
    ml_env.champion("momentum")
    write_reference(ml_env, "momentum", "7")  # another version's
    write_current(ml_env, "momentum")

    check()

    item = ml_env.item(DRIFT_TABLE, "momentum")
    assert item["status"] == contract.DRIFT_INSUFFICIENT_DATA
    assert item["reasons"][0] == f"no reference.json at s3://{RESULTS_BUCKET}/drift/momentum/v1/reference.json"
    assert item["model_drift"] == pytest.approx(1 / 30, abs=1e-6)  # the score was still compared


def test_invalid_json_is_insufficient_data_and_logged(ml_env, ml_logs):
    version = ml_env.champion("momentum")
    write_reference(ml_env, "momentum", version)
    ml_env.put_json("drift/momentum/current.json", "{not json")

    check()

    item = ml_env.item(DRIFT_TABLE, "momentum")
    assert item["status"] == contract.DRIFT_INSUFFICIENT_DATA
    assert item["reasons"][0].startswith("invalid current.json: s3://")
    assert error_logs(ml_logs)


def test_invalid_features_are_reported_and_the_rest_compared(ml_env):
    version = ml_env.champion("momentum", metric=1.5)
    write_reference(ml_env, "momentum", version)
    current = features(STABLE)
    current["volume"]["edges"] = [0.0, 2.0, 4.0, 6.0, 8.0]  # re-binned: not comparable
    current["rsi_14"]["counts"] = [60, float("nan")]
    ml_env.put_json("drift/momentum/current.json", json.dumps({"features": current, "performance": {METRIC: 1.5}}))

    check()

    item = ml_env.item(DRIFT_TABLE, "momentum")
    assert item["feature_psi"] == {}
    assert set(item["invalid_features"]) == {"rsi_14", "volume"}
    assert "bin edges differ" in item["invalid_features"]["volume"]
    assert "NaN" in item["invalid_features"]["rsi_14"]
    assert item["status"] == contract.DRIFT_INSUFFICIENT_DATA


def test_a_champion_run_without_the_metric_has_no_model_drift(ml_env):
    version = ml_env.champion("momentum", metric=None)
    write_reference(ml_env, "momentum", version)
    write_current(ml_env, "momentum", SHIFTED)

    check()

    item = ml_env.item(DRIFT_TABLE, "momentum")
    assert item["status"] == contract.DRIFT_DETECTED and item["model_drift"] is None
    assert item["baseline_score"] is None and item["observed_score"] == 1.45
    assert "no baseline: the champion's run has no metric sharpe_ratio" in item["reasons"]


# --- idempotency and ordering ----------------------------------------------------------------------------------------

def test_a_duplicate_invocation_changes_nothing(ml_env):
    monitored(ml_env, current=SHIFTED)
    first = check(T0)
    item = ml_env.item(DRIFT_TABLE, "momentum")
    [note] = notifications(ml_env)

    assert check(T0) == first

    assert ml_env.item(DRIFT_TABLE, "momentum") == item
    assert notifications(ml_env) == [note]
    assert len(ml_env.alerts()) == 1


def test_a_late_duplicate_does_not_overwrite_a_newer_check(ml_env, ml_logs):
    monitored(ml_env, current=SHIFTED)
    check(T1)
    newer = ml_env.item(DRIFT_TABLE, "momentum")

    check(T0)

    assert ml_env.item(DRIFT_TABLE, "momentum") == newer
    assert any("newer drift check" in record.getMessage() for record in ml_logs.records)


def test_a_failed_alert_is_sent_by_the_retry(ml_env):
    monitored(ml_env, current=SHIFTED)
    ml_env.fail("sns", "Publish", "InternalError", status=500)

    with pytest.raises(Exception, match="InternalError"):
        check(T0)
    assert ml_env.item(DRIFT_TABLE, "momentum")["drifted"] is True and ml_env.alerts() == []

    check(T0)  # EventBridge's retry of the same event

    assert len(ml_env.alerts()) == 1 and notifications(ml_env)[0]["alert_sent_at"]


# --- failures ------------------------------------------------------------------------------------------------------

def test_one_models_transient_failure_does_not_stop_the_others(ml_env, ml_logs):
    monitored(ml_env, "alpha")
    monitored(ml_env, "beta")
    ml_env.mlflow.fail_next(503, endpoint="registered-models/alias")  # alpha's champion lookup

    with pytest.raises(MlflowUnavailable):
        check()

    assert ml_env.item(DRIFT_TABLE, "alpha") is None
    assert ml_env.item(DRIFT_TABLE, "beta")["status"] == contract.DRIFT_OK
    assert error_logs(ml_logs)

    assert check()["failed"] == []  # the retry checks both
    assert ml_env.item(DRIFT_TABLE, "alpha")["status"] == contract.DRIFT_OK


def test_a_permanent_failure_is_raised_after_the_others(ml_env):
    monitored(ml_env, "alpha")
    monitored(ml_env, "beta")
    ml_env.fail("s3", "GetObject", "AccessDenied")  # alpha's reference

    with pytest.raises(drift_monitor.DriftCheckFailed, match="1 of 2 models not checked: alpha: .*AccessDenied"):
        check()

    assert ml_env.item(DRIFT_TABLE, "beta")["status"] == contract.DRIFT_OK


def test_a_transient_dynamodb_error_is_raised(ml_env):
    monitored(ml_env)
    ml_env.fail("dynamodb", "PutItem", "ProvisionedThroughputExceededException", status=500)

    with pytest.raises(Exception, match="ProvisionedThroughputExceededException"):
        check()


def test_mlflow_down_raises_before_anything_is_written(ml_env):
    monitored(ml_env)
    ml_env.mlflow.fail_next(503)

    with pytest.raises(MlflowUnavailable):
        check()
    assert ml_env.items(DRIFT_TABLE) == []


def test_no_models_is_a_quiet_success(ml_env):
    assert check() == {"checked_at": "2026-12-01T00:00:00.000Z", "models": 0, "drifted": [],
                       "insufficient_data": [], "failed": []}


@pytest.mark.parametrize("time, shown", [("yesterday", "'yesterday'"), ("2026-12-01T00:00:00", "'2026-12-01T00:00:00'"),
                                         (1764547200, "1764547200")])
def test_a_malformed_event_time_is_a_value_error(ml_env, ml_logs, time, shown):
    with pytest.raises(ValueError, match=f"^time={shown}: an ISO-8601 UTC timestamp"):
        check(time)
    assert error_logs(ml_logs)


def test_a_manual_invocation_uses_the_clock(ml_env):
    monitored(ml_env)

    result = drift_monitor.handler({}, Context())

    assert result["checked_at"] > "2026-"


@pytest.mark.parametrize("name, value", [
    (contract.ENV_PERFORMANCE_METRIC, None), (contract.ENV_RESULTS_BUCKET, "Not_A_Bucket"),
    (contract.ENV_PSI_THRESHOLD, "-1"), (contract.ENV_STATE_TTL_DAYS, "0"), (contract.ENV_CHAMPION_ALIAS, "latest"),
    (contract.ENV_MLFLOW_TRACKING_URI, None),
])
def test_bad_settings_name_the_variable(ml_env, name, value):
    ml_env.set_env(**{name: value})

    with pytest.raises(SettingsError, match=f"^configuration error: {name}="):
        check()


def test_metrics(ml_env, capsys):
    monitored(ml_env, "alpha", current=SHIFTED)
    monitored(ml_env, "beta")
    ml_env.champion("gamma")  # no drift files: no data drift metric
    capsys.readouterr()

    check()

    found = emf_metrics(capsys)
    assert [m["value"] for m in found if m["name"] == "ModelsDrifted"] == [1]
    per_model = {m["dimensions"]["model_name"]: m["value"] for m in found if m["name"] == "ModelDataDrift"}
    assert per_model == {"alpha": pytest.approx(0.228217, abs=1e-6), "beta": pytest.approx(0.1 * math.log(1.5))}
    assert all(m["dimensions"]["service"] == contract.SERVICE for m in found)
