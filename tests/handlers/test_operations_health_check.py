"""health-check against moto's Cloud Map, DynamoDB and SNS, probing real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from operations import contract, health_check
from operations.aws_access import StateTable
from operations.common import IncompleteRun
from shared.clock import parse_iso
from shared.settings import SettingsError

from .operations_fixtures import (HEALTH_TABLE, Context, cloud_map, cold_start, emf_metrics, ops_env,  # noqa: F401
                                  ops_logs, scheduled_event)

SOURCE = "tradai-health-check-dev"


def check(event=None):
    return health_check.handler(scheduled_event() if event is None else event, Context(SOURCE))


def targets(env, *services: str, **paths: str) -> None:
    env.set_env(HEALTH_TARGETS=json.dumps([{"service": s, "path": paths.get(s.replace("-", "_"), "/api/v1/health")}
                                           for s in services]))


def state(env, service: str) -> dict:
    return env.item(HEALTH_TABLE, service_name=service)


def later(minutes: float) -> None:
    """The next scheduled run happens ``minutes`` later."""
    clock = health_check.checker().now
    health_check.checker().now = lambda: clock() + timedelta(minutes=minutes)


def test_all_healthy_records_each_service_without_a_notice(ops_env, cloud_map, capsys):
    targets(ops_env, "backend-api", "mlflow", mlflow="/mlflow/")
    api = cloud_map.service("backend-api", "ok", "ok")
    mlflow = cloud_map.service("mlflow", "redirect")  # 3xx passes and is not followed

    assert check() == {"services": {"backend-api": "HEALTHY", "mlflow": "HEALTHY"}, "changed": []}

    item = state(ops_env, "backend-api")
    assert (item["status"], item["instances"], item["healthy_instances"]) == ("HEALTHY", 2, 2)
    assert item["previous_status"] is None and item["last_error"] is None
    assert isinstance(item["latency_ms"], int) and item["latency_ms"] >= 0
    assert item["since"] == item["checked_at"] and item["checked_at"].endswith("Z")
    assert abs(item["expires_at"] - (parse_iso(item["checked_at"]).timestamp() + 3600)) <= 1
    assert contract.ATTR_PENDING_NOTICE not in item
    assert [s.paths for s in api] == [["/api/v1/health"], ["/api/v1/health"]]
    assert mlflow[0].paths == ["/mlflow/"]
    assert ops_env.notifications() == {} and ops_env.alerts() == []
    found = emf_metrics(capsys)
    healthy = {dims["service_name"]: value for name, value, dims in found if name == "ServiceHealthy"}
    assert healthy == {"backend-api": 1, "mlflow": 1}
    assert {dims["service"] for _, _, dims in found} == {"operations"}
    assert {dims["service_name"] for name, _, dims in found if name == "ProbeLatency"} == {"backend-api", "mlflow"}


def test_outage_alerts_once_while_down_and_the_recovery_is_announced(ops_env, cloud_map, capsys):
    targets(ops_env, "backend-api", "data-collection")
    [api] = cloud_map.service("backend-api", "ok")
    cloud_map.service("data-collection", "ok")
    check()
    first = state(ops_env, "backend-api")

    api.mode = "error"
    later(2)
    assert check() == {"services": {"backend-api": "UNHEALTHY", "data-collection": "HEALTHY"},
                       "changed": ["backend-api"]}

    down = state(ops_env, "backend-api")
    assert (down["status"], down["previous_status"], down["healthy_instances"]) == ("UNHEALTHY", "HEALTHY", 0)
    assert down["since"] == down["checked_at"] != first["since"]
    assert down["last_error"].endswith(f":{api.port}/api/v1/health: HTTP 500")
    assert down["latency_ms"] is None
    [alert] = ops_env.alerts()
    assert alert["Subject"] == "TradAI backend-api UNHEALTHY (0/1 instances healthy)"
    assert "HTTP 500" in alert["Message"] and "before: HEALTHY" in alert["Message"]
    notification_id = f"health#backend-api#UNHEALTHY#{down['since']}"
    assert ops_env.notifications()[notification_id]["alert_sent_at"]
    assert contract.ATTR_PENDING_NOTICE not in state(ops_env, "backend-api")
    healthy = [(dims["service_name"], value) for name, value, dims in emf_metrics(capsys) if name == "ServiceHealthy"]
    assert ("backend-api", 0) in healthy

    later(2)
    assert check()["changed"] == []  # still down: no alert storm
    still = state(ops_env, "backend-api")
    assert (still["since"], still["previous_status"]) == (down["since"], "HEALTHY")
    assert still["checked_at"] > down["checked_at"]
    assert ops_env.alerts() == []

    api.mode = "ok"
    later(2)
    assert check()["changed"] == ["backend-api"]
    up = state(ops_env, "backend-api")
    assert (up["status"], up["previous_status"]) == ("HEALTHY", "UNHEALTHY")
    [recovered] = ops_env.alerts()
    assert recovered["Subject"] == "TradAI backend-api recovered (HEALTHY)"
    assert len(ops_env.notifications()) == 2


def test_some_instances_failing_is_degraded_and_alerted_on_the_first_check(ops_env, cloud_map):
    cloud_map.service("backend-api", "ok", "error", "hang")

    assert check() == {"services": {"backend-api": "DEGRADED"}, "changed": ["backend-api"]}

    item = state(ops_env, "backend-api")
    assert (item["status"], item["instances"], item["healthy_instances"]) == ("DEGRADED", 3, 1)
    assert item["previous_status"] is None
    assert "HTTP 500" in item["last_error"] and "timed out after 0.5 s" in item["last_error"]
    [alert] = ops_env.alerts()
    assert alert["Subject"] == "TradAI backend-api DEGRADED (1/3 instances healthy)"
    assert "before: not checked yet" in alert["Message"]


def test_no_registered_instances_or_an_unknown_service_is_unhealthy(ops_env, cloud_map):
    targets(ops_env, "backend-api", "strategy-service")
    cloud_map.service("backend-api")  # registered in Cloud Map, no instance

    assert check()["services"] == {"backend-api": "UNHEALTHY", "strategy-service": "UNHEALTHY"}

    assert state(ops_env, "backend-api")["last_error"] == "no instances registered in Cloud Map"
    assert state(ops_env, "strategy-service")["last_error"].startswith(
        "Cloud Map discovery failed: ServiceNotFound")
    assert len(ops_env.alerts()) == 2


def test_a_records_without_a_port_use_the_targets_port_and_bad_attributes_fail_the_instance(ops_env, cloud_map):
    [server] = cloud_map.service("backend-api", "ok", record="A")
    cloud_map.client.deregister_instance(ServiceId=cloud_map.service_ids["backend-api"], InstanceId="backend-api-1")
    cloud_map.client.register_instance(ServiceId=cloud_map.service_ids["backend-api"], InstanceId="task-a",
                                       Attributes={"AWS_INSTANCE_IPV4": "127.0.0.1"})
    ops_env.set_env(HEALTH_TARGETS=json.dumps([{"service": "backend-api", "path": "/api/v1/health",
                                                "port": server.port}]))
    assert check()["services"] == {"backend-api": "HEALTHY"}

    cloud_map.client.register_instance(ServiceId=cloud_map.service_ids["backend-api"], InstanceId="task-b",
                                       Attributes={"AWS_INSTANCE_PORT": "8000", "ECS_SERVICE_NAME": "x"})
    assert check()["services"] == {"backend-api": "DEGRADED"}
    assert state(ops_env, "backend-api")["last_error"] == "unprobed: instance task-b has no AWS_INSTANCE_IPV4"


def test_transient_discovery_error_of_one_service_fails_the_run_after_the_others(ops_env, cloud_map, ops_logs):
    targets(ops_env, "backend-api", "mlflow")
    cloud_map.service("backend-api", "ok")
    cloud_map.service("mlflow", "ok")
    ops_env.fail("servicediscovery", "DiscoverInstances", "ThrottlingException",
                 when=lambda body: body["ServiceName"] == "backend-api")

    with pytest.raises(IncompleteRun, match="1 services not handled: backend-api: ThrottlingException"):
        check()

    assert state(ops_env, "backend-api") is None
    assert state(ops_env, "mlflow")["status"] == "HEALTHY"
    assert any("backend-api: ThrottlingException" in r.getMessage() for r in ops_logs.records
               if r.levelname == "ERROR")
    assert check()["services"] == {"backend-api": "HEALTHY", "mlflow": "HEALTHY"}


def test_alert_lost_to_a_publish_error_is_sent_by_the_next_run_exactly_once(ops_env, cloud_map):
    ops_env.fail("sns", "Publish", "InternalErrorException")  # the first publish fails
    [api] = cloud_map.service("backend-api", "ok")
    check()
    api.mode = "error"

    with pytest.raises(IncompleteRun, match="InternalErrorException"):
        check()

    down = state(ops_env, "backend-api")
    assert down["status"] == "UNHEALTHY"
    assert down[contract.ATTR_PENDING_NOTICE]["notification_id"] == f"health#backend-api#UNHEALTHY#{down['since']}"
    assert ops_env.alerts() == []

    later(1)  # Lambda's asynchronous retry
    assert check()["changed"] == []
    [alert] = ops_env.alerts()
    assert alert["Subject"].startswith("TradAI backend-api UNHEALTHY")
    assert contract.ATTR_PENDING_NOTICE not in state(ops_env, "backend-api")
    later(2)
    check()
    assert ops_env.alerts() == []
    assert len(ops_env.notifications()) == 1


def test_duplicate_invocations_notify_a_transition_once(ops_env, cloud_map, monkeypatch, ops_logs):
    [api] = cloud_map.service("backend-api", "ok")
    check()
    api.mode = "error"
    event = scheduled_event()
    read = StateTable.get
    overlapping: list = []

    def other_invocation_between_read_and_write(self, name):
        found = read(self, name)
        if not overlapping:  # the duplicate delivery runs completely after this read, before this write
            overlapping.append(None)
            overlapping[0] = check(event)
        return found

    monkeypatch.setattr(StateTable, "get", other_invocation_between_read_and_write)

    assert check(event) == {"services": {"backend-api": "UNHEALTHY"}, "changed": []}

    assert overlapping == [{"services": {"backend-api": "UNHEALTHY"}, "changed": ["backend-api"]}]
    assert len(ops_env.alerts()) == 1
    assert any("another invocation recorded this service meanwhile" in r.getMessage() for r in ops_logs.records)
    assert check(event)["changed"] == []  # and a later duplicate delivery finds nothing new
    assert ops_env.alerts() == []


@pytest.mark.parametrize("event", [None, "tick", {"detail-type": "Object Created", "detail": {"bucket": "x"}}, []])
def test_malformed_trigger_events_are_logged_and_the_check_runs(ops_env, cloud_map, ops_logs, event):
    cloud_map.service("backend-api", "ok")

    assert health_check.handler(event, Context(SOURCE))["services"] == {"backend-api": "HEALTHY"}

    assert any(r.levelname == "WARNING" and "not an EventBridge scheduled event" in r.getMessage()
               for r in ops_logs.records)


@pytest.mark.parametrize("changes, variable", [
    ({"HEALTH_TARGETS": None}, "HEALTH_TARGETS"),
    ({"HEALTH_TARGETS": "backend-api"}, "HEALTH_TARGETS"),
    ({"HEALTH_TARGETS": "[]"}, "HEALTH_TARGETS"),
    ({"HEALTH_TARGETS": '{"service": "backend-api", "path": "/"}'}, "HEALTH_TARGETS"),
    ({"HEALTH_TARGETS": '[{"service": "backend-api", "path": "api/v1/health"}]'}, "HEALTH_TARGETS"),
    ({"HEALTH_TARGETS": '[{"service": "", "path": "/"}]'}, "HEALTH_TARGETS"),
    ({"HEALTH_TARGETS": '[{"path": "/"}]'}, "HEALTH_TARGETS"),
    ({"HEALTH_TARGETS": '[{"service": "a", "path": "/", "port": 0}]'}, "HEALTH_TARGETS"),
    ({"HEALTH_TARGETS": '[{"service": "a", "path": "/"}, {"service": "a", "path": "/x"}]'}, "HEALTH_TARGETS"),
    ({"PROBE_TIMEOUT_SECONDS": "0"}, "PROBE_TIMEOUT_SECONDS"),
    ({"PROBE_TIMEOUT_SECONDS": "25"}, "PROBE_TIMEOUT_SECONDS"),
    ({"PROBE_TIMEOUT_SECONDS": "5s"}, "PROBE_TIMEOUT_SECONDS"),
    ({"HEALTH_TTL_MINUTES": None}, "HEALTH_TTL_MINUTES"),
    ({"HEALTH_TTL_MINUTES": "0"}, "HEALTH_TTL_MINUTES"),
    ({"SERVICE_NAMESPACE": "tradai dev"}, "SERVICE_NAMESPACE"),
    ({"HEALTH_STATE_TABLE": None}, "HEALTH_STATE_TABLE"),
    ({"ALERTS_TOPIC_ARN": "tradai-alerts-dev"}, "ALERTS_TOPIC_ARN"),
    ({"NOTIFICATIONS_TABLE": None}, "NOTIFICATIONS_TABLE"),
])
def test_invalid_settings_name_the_variable_and_its_value(ops_env, changes, variable):
    ops_env.set_env(**changes)

    with pytest.raises(SettingsError) as raised:
        check()

    assert raised.value.name == variable
    assert f"{variable}={changes[variable]!r}" in str(raised.value)


def test_probe_timeout_defaults_to_five_seconds(ops_env):
    ops_env.set_env(PROBE_TIMEOUT_SECONDS=None)

    assert health_check.settings().probe_timeout_seconds == 5.0
