"""Pure tests (no AWS, no network) of the operations functions' decisions and settings."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from operations import contract, drift, heartbeats
from operations.common import Failures, IncompleteRun
from operations.health import Endpoint, Observation, ProbeResult, decide, endpoint
from operations.outbox import pending, pending_notice
from operations.settings import HealthTarget, drift_settings, health_check_settings
from shared.notify import Notice
from shared.settings import SettingsError

NOW = datetime(2026, 12, 1, 5, 30, tzinfo=timezone.utc)
SOURCE = "tradai-test-dev"
OK = ProbeResult("http://10.0.11.5:8000/api/v1/health", True, 12, None)
SLOW = ProbeResult("http://10.0.12.5:8000/api/v1/health", True, 40, None)
DOWN = ProbeResult("http://10.0.12.6:8000/api/v1/health", False, 3, "HTTP 503")


# --- health ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("probes, error, status, healthy, latency", [
    ((OK, SLOW), None, contract.HEALTHY, 2, 12),
    ((OK, DOWN), None, contract.DEGRADED, 1, 12),
    ((DOWN,), None, contract.UNHEALTHY, 0, None),
    ((), None, contract.UNHEALTHY, 0, None),
    ((), "Cloud Map discovery failed: AccessDeniedException: no", contract.UNHEALTHY, 0, None),
])
def test_service_status_from_its_probes(probes, error, status, healthy, latency):
    observation = Observation("backend-api", probes, error)

    assert (observation.status, observation.healthy_instances, observation.latency_ms) == (status, healthy, latency)


def test_observation_error_texts():
    assert Observation("a", (OK,)).error is None
    assert Observation("a").error == "no instances registered in Cloud Map"
    assert Observation("a", (OK, DOWN)).error == "http://10.0.12.6:8000/api/v1/health: HTTP 503"
    many = Observation("a", tuple(DOWN for _ in range(50))).error
    assert len(many) == 500 and many.endswith("...")


@pytest.mark.parametrize("attributes, default_port, expected", [
    ({"AWS_INSTANCE_IPV4": "10.0.11.5", "AWS_INSTANCE_PORT": "8000"}, None, Endpoint("i-1", "10.0.11.5", 8000)),
    ({"AWS_INSTANCE_IPV4": "10.0.11.5", "AWS_INSTANCE_PORT": "8000"}, 9000, Endpoint("i-1", "10.0.11.5", 8000)),
    ({"AWS_INSTANCE_IPV4": "10.0.11.5"}, 8002, Endpoint("i-1", "10.0.11.5", 8002)),
    ({"AWS_INSTANCE_IPV4": "10.0.11.5"}, None,
     Endpoint("i-1", "10.0.11.5", None,
              "instance i-1: no AWS_INSTANCE_PORT and no port configured for the service")),
    ({"AWS_INSTANCE_IPV4": "10.0.11.5", "AWS_INSTANCE_PORT": "http"}, 8000,
     Endpoint("i-1", "10.0.11.5", None, "instance i-1: invalid AWS_INSTANCE_PORT 'http'")),
    ({"AWS_INSTANCE_PORT": "8000"}, None, Endpoint("i-1", None, 8000, "instance i-1 has no AWS_INSTANCE_IPV4")),
])
def test_probe_endpoint_of_a_cloud_map_instance(attributes, default_port, expected):
    found = endpoint({"InstanceId": "i-1", "Attributes": attributes}, default_port)

    assert found == expected
    assert found.url("/x") == (None if expected.problem else f"http://{expected.host}:{expected.port}/x")


def previous(status: str, since: str = "2026-12-01T05:00:00.000Z", **fields) -> dict:
    return {"service_name": "backend-api", "status": status, "since": since, "checked_at": "2026-12-01T05:28:00.000Z",
            "previous_status": "HEALTHY", **fields}


def test_first_healthy_check_is_recorded_without_a_notice():
    decision = decide(None, Observation("backend-api", (OK,)), NOW, 60, SOURCE)

    assert decision.notice is None
    assert decision.item == {
        "service_name": "backend-api", "status": "HEALTHY", "latency_ms": 12, "instances": 1,
        "healthy_instances": 1, "checked_at": "2026-12-01T05:30:00.000Z", "since": "2026-12-01T05:30:00.000Z",
        "previous_status": None, "last_error": None, "expires_at": int((NOW + timedelta(hours=1)).timestamp())}


def test_first_check_of_a_failing_service_alerts():
    decision = decide(None, Observation("backend-api", (DOWN,)), NOW, 60, SOURCE)

    assert decision.notice.alert is True
    assert decision.notice.notification_id == "health#backend-api#UNHEALTHY#2026-12-01T05:30:00.000Z"
    assert decision.item[contract.ATTR_PENDING_NOTICE] == pending(decision.notice)


def test_unchanged_status_keeps_since_and_previous_status_and_sends_nothing():
    decision = decide(previous("UNHEALTHY", previous_status="DEGRADED"), Observation("backend-api", (DOWN,)), NOW,
                      60, SOURCE)

    assert decision.notice is None and contract.ATTR_PENDING_NOTICE not in decision.item
    assert (decision.item["since"], decision.item["previous_status"]) == ("2026-12-01T05:00:00.000Z", "DEGRADED")


@pytest.mark.parametrize("before, probes, subject", [
    ("HEALTHY", (OK, DOWN), "TradAI backend-api DEGRADED (1/2 instances healthy)"),
    ("DEGRADED", (DOWN,), "TradAI backend-api UNHEALTHY (0/1 instances healthy)"),
    ("UNHEALTHY", (OK, DOWN), "TradAI backend-api DEGRADED (1/2 instances healthy)"),
    ("UNHEALTHY", (OK,), "TradAI backend-api recovered (HEALTHY)"),
])
def test_every_status_change_alerts(before, probes, subject):
    decision = decide(previous(before), Observation("backend-api", probes), NOW, 60, SOURCE)

    notice = decision.notice
    assert (notice.subject, notice.alert, notice.source) == (subject, True, SOURCE)
    assert decision.item["since"] == "2026-12-01T05:30:00.000Z" and decision.item["previous_status"] == before
    assert f"before: {before}" in notice.message
    assert notice.notification_id == f"health#backend-api#{decision.item['status']}#2026-12-01T05:30:00.000Z"


# --- heartbeats --------------------------------------------------------------------------------------------------

def strategy(status="RUNNING", minutes=None, mode="live", heartbeat=None, **fields) -> heartbeats.Strategy:
    beat = heartbeat if minutes is None else (NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return heartbeats.Strategy("pascal", mode, status, beat, **fields)


STALE_AFTER = timedelta(minutes=10)


@pytest.mark.parametrize("the_strategy, action, reason", [
    (strategy(minutes=2), heartbeats.KEEP, "heartbeat fresh"),
    (strategy(minutes=10), heartbeats.KEEP, "heartbeat fresh"),
    (strategy(minutes=11), heartbeats.STALE, "last heartbeat 2026-12-01T05:19:00.000Z is 11 min old"),
    (strategy(mode="dry-run", minutes=30), heartbeats.STALE, "last heartbeat 2026-12-01T05:00:00.000Z is 30 min old"),
    (strategy(), heartbeats.STALE, "no last_heartbeat"),
    (strategy(heartbeat="5 min ago"), heartbeats.STALE,
     "last_heartbeat '5 min ago' is not an ISO-8601 UTC timestamp"),
    (strategy(heartbeat=1764567000), heartbeats.STALE, "last_heartbeat 1764567000 is not an ISO-8601 UTC timestamp"),
    (strategy("STALE", minutes=30), heartbeats.KEEP, "last heartbeat 2026-12-01T05:00:00.000Z is 30 min old"),
    (strategy("STALE", minutes=1), heartbeats.RECOVER, "heartbeat 2026-12-01T05:29:00.000Z is fresh again"),
    (strategy("STALE", heartbeat="bad"), heartbeats.KEEP, "last_heartbeat 'bad' is not an ISO-8601 UTC timestamp"),
    (strategy("STOPPED", minutes=300), heartbeats.KEEP, "last heartbeat 2026-12-01T00:30:00.000Z is 300 min old"),
    (strategy(mode=None, minutes=30), heartbeats.SKIP, "mode None is not one of live, dry-run"),
    (strategy(mode="paper", minutes=30), heartbeats.SKIP, "mode 'paper' is not one of live, dry-run"),
])
def test_heartbeat_verdicts(the_strategy, action, reason):
    assert heartbeats.assess(the_strategy, NOW, STALE_AFTER) == heartbeats.Verdict(action, reason)


def test_live_stale_notice_is_urgent_and_dry_run_is_not():
    live, dry = strategy(minutes=30), strategy(mode="dry-run", minutes=30)

    urgent = heartbeats.stale_notice(live, heartbeats.assess(live, NOW, STALE_AFTER), NOW, STALE_AFTER, SOURCE)
    calm = heartbeats.stale_notice(dry, heartbeats.assess(dry, NOW, STALE_AFTER), NOW, STALE_AFTER, SOURCE)

    assert urgent.subject.startswith("URGENT: TradAI LIVE strategy pascal") and urgent.alert
    assert calm.subject == "TradAI dry-run strategy pascal stopped sending heartbeats" and calm.alert
    assert urgent.notification_id == "heartbeat#pascal#2026-12-01T05:00:00.000Z"
    assert heartbeats.stale_notice(strategy(), heartbeats.Verdict("STALE", "x"), NOW, STALE_AFTER,
                                   SOURCE).notification_id == "heartbeat#pascal#missing"
    assert len(heartbeats.stale_notice(strategy(heartbeat="x" * 500), heartbeats.Verdict("STALE", "x"), NOW,
                                       STALE_AFTER, SOURCE).notification_id) == len("heartbeat#pascal#") + 64


def test_recovery_notice_names_the_incident():
    notice = heartbeats.recovery_notice(strategy("STALE", minutes=1, stale_since="2026-12-01T05:10:00.000Z",
                                                 stale_heartbeat="2026-12-01T04:58:00.000Z"), NOW, SOURCE)

    assert notice.notification_id == "heartbeat#pascal#2026-12-01T04:58:00.000Z#recovered"
    assert "STALE since 2026-12-01T05:10:00.000Z" in notice.message and notice.alert


# --- drift -------------------------------------------------------------------------------------------------------

def api_drift(logical_id: str, status: str = "MODIFIED", *paths: str) -> dict:
    drift_ = {"LogicalResourceId": logical_id, "ResourceType": "AWS::EC2::SecurityGroup",
              "StackResourceDriftStatus": status}
    if paths:
        drift_["PropertyDifferences"] = [{"PropertyPath": p, "DifferenceType": "NOT_EQUAL"} for p in paths]
    return drift_


def status(detection="DETECTION_COMPLETE", stack_status="DRIFTED", reason="") -> dict:
    return {"StackDriftDetectionId": "d-1", "DetectionStatus": detection, "StackDriftStatus": stack_status,
            "DetectionStatusReason": reason}


def test_outcome_drops_runtime_managed_resources():
    managed = frozenset({("tradai-foundation-dev", "PrivateRouteTable")})
    result = drift.outcome("tradai-foundation-dev", status(),
                           [api_drift("PrivateRouteTable", "MODIFIED", "/Routes"), api_drift("AlbSg", "DELETED")],
                           managed)

    assert result.drift_status == contract.DRIFTED and result.detection_id == "d-1"
    assert result.drifted == (drift.DriftedResource("AlbSg", "AWS::EC2::SecurityGroup", "DELETED"),)
    assert [r.logical_id for r in result.ignored] == ["PrivateRouteTable"]
    only_managed = drift.outcome("tradai-foundation-dev", status(), [api_drift("PrivateRouteTable")], managed)
    assert only_managed.drift_status == contract.IN_SYNC and only_managed.drifted == ()
    other_stack = drift.outcome("tradai-compute-dev", status(), [api_drift("PrivateRouteTable")], managed)
    assert other_stack.drift_status == contract.DRIFTED


@pytest.mark.parametrize("response, error", [
    (status("DETECTION_FAILED", "UNKNOWN", "Access denied"), "drift detection DETECTION_FAILED: Access denied"),
    (status("DETECTION_FAILED", "UNKNOWN"), "drift detection DETECTION_FAILED: no reason given"),
    (status(stack_status="NOT_CHECKED"), "CloudFormation reported stack drift status NOT_CHECKED"),
])
def test_failed_detections_are_unknown(response, error):
    assert drift.outcome("s", response, [], frozenset()) == drift.unknown(error, "d-1")


def test_in_progress_is_not_finished():
    assert not drift.finished(status("DETECTION_IN_PROGRESS"))
    assert drift.finished(status()) and drift.finished(status("DETECTION_FAILED"))


def drifted(*pairs: tuple[str, str]) -> drift.Outcome:
    return drift.Outcome(contract.DRIFTED, "d-2", tuple(drift.DriftedResource(i, "T", s) for i, s in pairs))


def record(*pairs: tuple[str, str], last_check="2026-12-01T00:00:00.000Z") -> dict:
    return {"stack_name": "s", "last_check": last_check, "has_drift": "true" if pairs else "false",
            "drifted_resources": [{"logical_id": i, "resource_type": "T", "status": s, "differences": []}
                                  for i, s in pairs]}


def test_new_drift_is_alerted_with_an_id_of_the_set_and_the_incident():
    decision = drift.decide("s", drifted(("A", "MODIFIED"), ("B", "DELETED")), record(("A", "MODIFIED")), NOW,
                            SOURCE)

    assert decision.notice.alert is True
    expected = drift.fingerprint([drift.DriftedResource("B", "", "DELETED"),
                                  drift.DriftedResource("A", "", "MODIFIED")])
    assert decision.notice.notification_id == f"drift#s#{expected}#2026-12-01T00:00:00.000Z"
    assert decision.notice.subject == "TradAI drift in s: 1 new drifted resource(s)"
    assert decision.item["has_drift"] == "true" and decision.item["last_check"] == "2026-12-01T05:30:00.000Z"


@pytest.mark.parametrize("now, before", [
    ((("A", "MODIFIED"),), (("A", "MODIFIED"), ("B", "DELETED"))),
    ((("A", "MODIFIED"), ("B", "DELETED")), (("B", "DELETED"), ("A", "MODIFIED"))),
])
def test_same_or_less_drift_is_not_notified(now, before):
    assert drift.decide("s", drifted(*now), record(*before), NOW, SOURCE).notice is None


def test_a_changed_status_of_a_drifted_resource_is_new_drift():
    assert drift.decide("s", drifted(("A", "DELETED")), record(("A", "MODIFIED")), NOW, SOURCE).notice.alert


def test_back_in_sync_is_a_notice_not_an_alert_and_only_after_drift():
    in_sync = drift.Outcome(contract.IN_SYNC, "d-3")

    notice = drift.decide("s", in_sync, record(("A", "MODIFIED")), NOW, SOURCE).notice
    assert notice.alert is False and notice.notification_id == "drift#s#IN_SYNC#2026-12-01T00:00:00.000Z"
    assert drift.decide("s", in_sync, record(), NOW, SOURCE).notice is None
    assert drift.decide("s", in_sync, None, NOW, SOURCE).notice is None


def test_unknown_keeps_the_last_known_drift():
    decision = drift.decide("s", drift.unknown("timed out", "d-4"), record(("A", "MODIFIED")), NOW, SOURCE)

    assert decision.notice is None
    assert decision.item["drift_status"] == contract.DRIFT_UNKNOWN and decision.item["error"] == "timed out"
    assert decision.item["has_drift"] == "true" and decision.item["drifted_resources"][0]["logical_id"] == "A"
    assert drift.decide("s", drift.unknown("x"), None, NOW, SOURCE).item["has_drift"] == "false"


def test_fingerprint_is_order_independent():
    a, b = drift.DriftedResource("A", "T", "MODIFIED", ("/x",)), drift.DriftedResource("B", "T", "DELETED")
    assert drift.fingerprint([a, b]) == drift.fingerprint([b, a]) != drift.fingerprint([a])


def test_notice_lists_are_bounded():
    many = drifted(*[(f"R{i}", "MODIFIED") for i in range(30)])
    message = drift.decide("s", many, None, NOW, SOURCE).notice.message
    assert "- ... and 10 more" in message and "R19" in message and "R20" not in message


# --- outbox, failures, settings ----------------------------------------------------------------------------------

def test_pending_notice_round_trip():
    notice = Notice("n-1", SOURCE, "s", "m", alert=False, attributes={"a": 1, "b": None})

    assert pending_notice({contract.ATTR_PENDING_NOTICE: pending(notice)}) == Notice(
        "n-1", SOURCE, "s", "m", False, {"a": 1})
    assert pending_notice({}) is None
    assert pending_notice({contract.ATTR_PENDING_NOTICE: {"subject": "no id"}}) is None


def test_failures_are_collected_and_raised_after_all_items():
    failures, done = Failures("items"), []
    for name in ("a", "b", "c"):
        with failures.guard(name):
            if name != "b":
                raise KeyError(name)
            done.append(name)

    assert done == ["b"]
    with pytest.raises(IncompleteRun, match="2 items not handled: a: KeyError: 'a'; c: KeyError: 'c'") as raised:
        failures.raise_if_any()
    assert isinstance(raised.value.__cause__, KeyError)
    Failures("none").raise_if_any()


HEALTH_ENV = {"HEALTH_STATE_TABLE": "tradai-health-state-dev", "SERVICE_NAMESPACE": "tradai-dev.local",
              "HEALTH_TTL_MINUTES": "60", "NOTIFICATIONS_TABLE": "tradai-notifications-dev",
              "ALERTS_TOPIC_ARN": "arn:aws:sns:eu-central-1:123456789012:tradai-alerts-dev"}


def test_health_targets_of_the_spec_are_accepted():
    targets = [{"service": "backend-api", "path": "/api/v1/health"},
               {"service": "data-collection", "path": "/api/v1/health"}, {"service": "mlflow", "path": "/mlflow/"},
               {"service": "strategy-service", "path": "/api/v1/health", "port": 8003}]

    config = health_check_settings({**HEALTH_ENV, "HEALTH_TARGETS": json.dumps(targets)})

    assert config.targets[2] == HealthTarget("mlflow", "/mlflow/") and config.targets[3].port == 8003
    assert config.probe_timeout_seconds == 5.0


def test_settings_error_names_variable_value_and_what_is_allowed():
    with pytest.raises(SettingsError) as raised:
        health_check_settings({**HEALTH_ENV, "HEALTH_TARGETS": '[{"service": "mlflow", "path": "mlflow"}]'})

    assert str(raised.value).startswith(
        """configuration error: HEALTH_TARGETS='[{"service": "mlflow", "path": "mlflow"}]'; allowed: a JSON list""")


def test_runtime_managed_pairs():
    env = {"INFRA_DRIFT_TABLE": "tradai-infra-drift-state-dev",
           "STACK_NAMES": "tradai-foundation-dev, tradai-compute-dev",
           "RUNTIME_MANAGED": "tradai-foundation-dev/PrivateRouteTable,tradai-foundation-dev/PrivateRouteTable",
           **{k: HEALTH_ENV[k] for k in ("NOTIFICATIONS_TABLE", "ALERTS_TOPIC_ARN")}}

    config = drift_settings(env)

    assert config.stacks == ("tradai-foundation-dev", "tradai-compute-dev")
    assert config.runtime_managed == frozenset({("tradai-foundation-dev", "PrivateRouteTable")})
