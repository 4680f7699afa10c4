"""Pure decisions of the strategy deployer (no moto): plan, slot claims, staged config, rollback target, health
verdict, error text, event parsing and settings."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from deployments import contract
from deployments.decisions import (CLAIM_CONDITION, ConfigRef, Plan, TaskView, claim_condition, claimable,
                                   config_candidates, config_ref, error_text, live_to_retire, new_plan, occupied,
                                   rollback_target, run_environment, staged, started_by, verdict)
from deployments.errors import AlreadyLive, AlreadyRunning, NothingToRollBackTo, NotStaged, UnknownConfig
from deployments.request import parse_request, parse_step
from deployments.settings import deployer_settings
from shared.clock import iso
from shared.settings import SettingsError

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
ARN = "arn:aws:ecs:eu-central-1:123456789012:task/tradai-dev/0123456789abcdef"


def req(action: str, **extra) -> dict:
    body = {"action": action, "strategy_name": "pascal", "strategy_id": "pascal-btc", "requested_by": "alice"}
    if action == contract.STAGE:
        body["config_hash"] = "sha256-c1"
    return {**body, **extra}


def plan(action: str = contract.STAGE, deployment_id: str = "d-1", timeout: int = 600) -> Plan:
    return new_plan(parse_request(req(action)), deployment_id, ConfigRef("c1", "s3://b/c1.json", "PascalStrategy"),
                    "family", NOW, timeout)


def deployment(deployment_id, created_at, status=contract.SUCCEEDED, config_id="c1", **extra):
    return {"deployment_id": deployment_id, "created_at": created_at, "status": status, "config_id": config_id,
            "config_path": f"s3://b/{config_id}.json", "strategy": "PascalStrategy", "strategy_id": "pascal-btc",
            "mode": contract.LIVE, "kind": contract.DEPLOYMENT_KIND, **extra}


# --- ids and the plan ----------------------------------------------------------------------------------------

def test_started_by_fits_ecs_and_is_deterministic():
    assert started_by("a" * 36) == "a" * 36
    long_a, long_b = "x" * 40 + "-1", "x" * 40 + "-2"
    assert len(started_by(long_a)) == 36 and started_by(long_a) == started_by(long_a)
    assert started_by(long_a) != started_by(long_b)


def test_plan_round_trips_and_carries_the_deadline():
    p = plan()
    data = json.loads(json.dumps(p.to_dict()))
    assert data["deadline"] == iso(NOW + timedelta(seconds=600)) and data["slot_key"] == "pascal-btc#dry-run"
    assert Plan.from_dict(data, "d-1") == p
    assert run_environment(p) == {"STRATEGY_ID": "pascal-btc", "STRATEGY": "PascalStrategy",
                                  "TRADING_MODE": "dry-run", "CONFIG_PATH": "s3://b/c1.json",
                                  "TRADING_STATE_KEY": "pascal-btc#dry-run"}
    assert list(run_environment(p)) == list(contract.RUN_OVERRIDES)


@pytest.mark.parametrize("change, field", [
    ({"deployment_id": "d-2"}, "plan.deployment_id"), ({"mode": "live"}, "plan.mode"),
    ({"slot_key": "pascal-btc#live"}, "plan.slot_key"), ({"deadline": "soon"}, "plan.deadline"),
    ({"config_path": "/tmp/c1"}, "plan.config_path"), ({"strategy_id": "A B"}, "plan.strategy_id"),
    ({"retire": {"mode": "live"}}, "plan.retire.slot_key"),
])
def test_a_tampered_plan_names_the_field(change, field):
    with pytest.raises(ValueError, match=f"invalid deployment event: {field}="):
        Plan.from_dict({**plan().to_dict(), **change}, "d-1")


# --- slots -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("slot, free", [
    (None, True), ({"status": "STOPPED", "deployment_id": "old"}, True), ({"status": "FAILED"}, True),
    ({"status": "RUNNING", "deployment_id": "old"}, False), ({"status": "STALE", "deployment_id": "old"}, False),
    ({"status": "STARTING", "deployment_id": "old"}, False), ({"status": "STARTING", "deployment_id": "d-1"}, True),
])
def test_claimable_matches_the_claim_condition(slot, free):
    assert claimable(slot, "d-1") is free
    expression, names, values = claim_condition("d-1")
    assert expression == CLAIM_CONDITION and names == {"#status": "status"}
    assert values == {":stopped": "STOPPED", ":failed": "FAILED", ":this": "d-1"}


def test_occupied_names_the_holder_and_depends_on_the_mode():
    slot = {"strategy_id": "pascal-btc#dry-run", "deployment_id": "d-0", "status": "RUNNING"}
    assert isinstance(occupied(contract.DRY_RUN, slot), AlreadyRunning)
    assert isinstance(occupied(contract.LIVE, slot), AlreadyLive)
    assert "deployment d-0 (RUNNING)" in str(occupied(contract.DRY_RUN, slot))


def test_staged_requires_a_running_dry_run_of_the_same_strategy():
    request = parse_request(req(contract.PROMOTE))
    slot = {"status": "RUNNING", "strategy_name": "pascal", "deployment_id": "s-1", "config_id": "c1",
            "config_path": "s3://b/c1.json", "strategy": "PascalStrategy", "task_arn": ARN}
    config, dry_run = staged(slot, request)
    assert config == ConfigRef("c1", "s3://b/c1.json", "PascalStrategy")
    assert (dry_run.deployment_id, dry_run.slot_key, dry_run.mode, dry_run.task_arn) == (
        "s-1", "pascal-btc#dry-run", "dry-run", ARN)
    for broken, message in [(None, "no dry-run"), ({**slot, "status": "STALE"}, "is STALE"),
                            ({**slot, "strategy_name": "other"}, "runs strategy other"),
                            ({**slot, "config_path": None}, "lacks config_path")]:
        with pytest.raises(NotStaged, match=message):
            staged(broken, request)


def test_live_to_retire():
    request = parse_request(req(contract.ROLLBACK))
    assert live_to_retire(None, request, "r-1") is None
    assert live_to_retire({"status": "STOPPED", "deployment_id": "p-1"}, request, "r-1") is None
    assert live_to_retire({"status": "STARTING", "deployment_id": "r-1"}, request, "r-1") is None  # a replay
    retire = live_to_retire({"status": "STALE", "deployment_id": "p-2", "task_arn": ARN}, request, "r-1")
    assert (retire.deployment_id, retire.task_arn, retire.slot_key) == ("p-2", ARN, "pascal-btc#live")
    with pytest.raises(AlreadyLive, match="in progress"):
        live_to_retire({"status": "STARTING", "deployment_id": "p-3"}, request, "r-1")


# --- rollback target ---------------------------------------------------------------------------------------------

HISTORY = [
    deployment("p-1", "2026-11-01T00:00:00.000Z", config_id="c1"),
    deployment("p-2", "2026-11-02T00:00:00.000Z", config_id="c2"),
    deployment("p-3", "2026-11-03T00:00:00.000Z", status=contract.FAILED, config_id="c3"),
    deployment("s-4", "2026-11-04T00:00:00.000Z", config_id="c4", mode=contract.DRY_RUN),
    deployment("other", "2026-11-05T00:00:00.000Z", config_id="c5", strategy_id="pascal-eth"),
    {"deployment_id": "ml-1", "created_at": "2026-11-06T00:00:00.000Z", "kind": "model-promotion",
     "status": contract.SUCCEEDED},
    deployment("p-7", "2026-11-07T00:00:00.000Z", config_id="c7"),
    deployment("p-8", "2026-11-08T00:00:00.000Z", config_id="c2"),
    deployment("p-9", "2026-11-09T00:00:00.000Z", config_id="c9"),
]


def test_rollback_target_is_the_newest_earlier_succeeded_live_deployment_with_another_config():
    request = parse_request(req(contract.ROLLBACK))
    current = {"deployment_id": "p-8", "config_id": "c2", "status": "RUNNING"}
    assert rollback_target(HISTORY, request, current, "r-1")["deployment_id"] == "p-7"
    current = {"deployment_id": "p-7", "config_id": "c7", "status": "RUNNING"}
    assert rollback_target(HISTORY, request, current, "r-1")["deployment_id"] == "p-2"  # newer p-8/p-9 skipped
    current = {"deployment_id": "p-2", "config_id": "c2", "status": "RUNNING"}
    assert rollback_target(HISTORY, request, current, "r-1")["deployment_id"] == "p-1"
    assert rollback_target(HISTORY, request, None, "r-1")["deployment_id"] == "p-9"


def test_rollback_with_nothing_earlier_is_refused():
    request = parse_request(req(contract.ROLLBACK))
    with pytest.raises(NothingToRollBackTo, match="before the current live deployment p-1"):
        rollback_target(HISTORY, request, {"deployment_id": "p-1", "config_id": "c1"}, "r-1")
    with pytest.raises(NothingToRollBackTo):
        rollback_target([], request, None, "r-1")


def test_a_requested_rollback_target_must_be_a_restorable_live_deployment():
    current = {"deployment_id": "p-9", "config_id": "c9"}
    retired = [*HISTORY, deployment("p-10", "2026-11-10T00:00:00.000Z", status=contract.RETIRED)]

    def pick(target):
        return rollback_target(retired, parse_request(req(contract.ROLLBACK, deployment_id=target)), current, "r-1")

    assert pick("p-8")["deployment_id"] == "p-8" and pick("p-10")["deployment_id"] == "p-10"
    for target, message in [("p-3", "is FAILED"), ("s-4", "not a live deployment"), ("other", "not a live"),
                            ("ml-1", "not a live"), ("nope", "not a live"), ("p-9", "current live")]:
        with pytest.raises(NothingToRollBackTo, match=message):
            pick(target)


# --- config ------------------------------------------------------------------------------------------------------

def test_config_resolution():
    keys = [{"strategy_name": "pascal", "config_id": "c2"}, {"strategy_name": "pascal", "config_id": "c1"},
            {"strategy_name": "other", "config_id": "x"}]
    assert config_candidates(keys, "pascal", "h") == ["c1", "c2"]
    with pytest.raises(UnknownConfig, match="belongs to strategy other, not to nobody"):
        config_candidates(keys[2:], "nobody", "h")
    with pytest.raises(UnknownConfig, match="no config version"):
        config_candidates([], "pascal", "h")
    items = [{"strategy_name": "pascal", "config_id": "c1", "created_at": "2026-01-02", "s3_key": "/a/c1.json",
              "strategy": "PascalStrategy"},
             {"strategy_name": "pascal", "config_id": "c0", "created_at": "2026-01-01", "s3_key": "a/c0.json",
              "strategy": "PascalStrategy"}]
    assert config_ref(items, "bucket", "pascal", "h") == ConfigRef("c1", "s3://bucket/a/c1.json", "PascalStrategy")
    with pytest.raises(UnknownConfig, match="strategy class"):
        config_ref([{**items[0], "strategy": "not a class"}], "bucket", "pascal", "h")


# --- health ------------------------------------------------------------------------------------------------------

def task(last_status="RUNNING", health="HEALTHY", desired="RUNNING", ip="10.0.10.7", **extra) -> TaskView:
    return TaskView(ARN, last_status, desired, health, private_ip=ip, **extra)


def slot(heartbeat="2026-12-01T12:01:00.000Z", **extra) -> dict:
    return {"deployment_id": "d-1", "status": "STARTING", "started_at": "2026-12-01T12:00:00.000Z",
            "last_heartbeat": heartbeat, **extra}


@pytest.mark.parametrize("view, item, now, state, reason", [
    (task(), slot(), NOW, "HEALTHY", "task RUNNING, container health HEALTHY"),
    (task(health="UNKNOWN"), slot(), NOW, "HEALTHY", "container health UNKNOWN"),
    (task(health="UNHEALTHY"), slot(), NOW, "WAITING", "the container is UNHEALTHY"),
    (task(last_status="PENDING"), slot(), NOW, "WAITING", "the task is PENDING"),
    (task(), slot(heartbeat=None), NOW, "WAITING", "no heartbeat yet"),
    (task(), slot(heartbeat="2026-12-01T11:59:00.000Z"), NOW, "WAITING", "is not newer than the task's start"),
    (task(started_at=NOW + timedelta(minutes=2)), slot(), NOW, "WAITING", "is not newer"),
    (task(ip=None), slot(), NOW, "WAITING", "no private IPv4"),
    (task(), slot(heartbeat=None), NOW + timedelta(minutes=11), "FAILED", "not healthy by the deadline"),
    (task(last_status="STOPPED", stopped_reason="OutOfMemoryError", exit_code=137), slot(), NOW, "FAILED",
     "the task stopped: OutOfMemoryError (exit code 137)"),
    (task(last_status="DEACTIVATING", desired="STOPPED"), slot(), NOW, "FAILED", "the task stopped"),
    (task(), slot(deployment_id="d-2"), NOW, "FAILED", "no longer this deployment's"),
    (task(), slot(status="FAILED"), NOW, "FAILED", "no longer this deployment's"),
    (None, slot(), NOW, "FAILED", "not known to the cluster"),
])
def test_health_verdict(view, item, now, state, reason):
    result = verdict(view, item, plan(), now)
    assert result.state == state and reason in result.reason


def test_task_view_reads_the_ip_from_the_container_or_the_eni_attachment():
    described = {"taskArn": ARN, "lastStatus": "RUNNING", "desiredStatus": "RUNNING",
                 "containers": [{"name": "sidecar"}, {"name": "strategy", "healthStatus": "UNHEALTHY", "exitCode": 1,
                                                      "networkInterfaces": [{"privateIpv4Address": "10.0.10.9"}]}],
                 "stoppedReason": "x", "stopCode": "EssentialContainerExited",
                 "startedAt": NOW}
    view = TaskView.from_description(described)
    assert (view.private_ip, view.health_status, view.exit_code, view.started_at) == ("10.0.10.9", "UNHEALTHY", 1, NOW)
    assert view.stopped_reason == "EssentialContainerExited x"
    described["containers"] = []
    described["attachments"] = [{"type": "ElasticNetworkInterface", "details": [
        {"name": "subnetId", "value": "subnet-1"}, {"name": "privateIPv4Address", "value": "10.0.11.4"}]}]
    view = TaskView.from_description(described)
    assert (view.private_ip, view.health_status) == ("10.0.11.4", "UNKNOWN")


# --- errors and events -------------------------------------------------------------------------------------------

def test_error_text_from_step_functions_errors():
    cause = json.dumps({"errorType": "AlreadyRunning", "errorMessage": "taken", "stackTrace": []})
    assert error_text({"Error": "AlreadyRunning", "Cause": cause}) == "AlreadyRunning: taken"
    assert error_text({"Error": "TaskUnhealthy", "Cause": "the task stopped"}) == "TaskUnhealthy: the task stopped"
    assert error_text({"Error": "States.Timeout"}) == "States.Timeout"
    assert error_text(None) == "aborted without an error"
    assert len(error_text({"Error": "E", "Cause": "x" * 5000})) == 1000


@pytest.mark.parametrize("event, field", [
    ({}, "step"), ({"step": "prepare"}, "deployment_id"), ({"step": "prepare", "deployment_id": "a b"},
                                                          "deployment_id"), ([], "event"),
])
def test_parse_step_names_the_field(event, field):
    with pytest.raises(ValueError, match=f"invalid deployment event: {field}="):
        parse_step(event)


@pytest.mark.parametrize("body, field", [
    (req("restart"), "request.action"), (req(contract.STAGE, strategy_id="Pascal"), "request.strategy_id"),
    ({**req(contract.STAGE), "config_hash": None}, "request.config_hash"),
    (req(contract.ROLLBACK, deployment_id="../x"), "request.deployment_id"),
    (req(contract.PROMOTE, requested_by="\x00"), "request.requested_by"),
])
def test_parse_request_names_the_field(body, field):
    with pytest.raises(ValueError, match=f"invalid deployment event: {field}="):
        parse_request(body)


def test_parse_request_keeps_what_the_action_uses():
    assert parse_request(req(contract.PROMOTE, config_hash="ignored")).config_hash is None
    rollback = parse_request(req(contract.ROLLBACK, deployment_id="p-1"))
    assert (rollback.mode, rollback.slot_key, rollback.target_deployment_id) == ("live", "pascal-btc#live", "p-1")
    assert parse_request({**req(contract.PROMOTE), "requested_by": None}).requested_by == "unknown"


# --- settings ----------------------------------------------------------------------------------------------------

MODES = {"dry-run": {"family": "dry-run-trading-dev", "capacity_provider": "FARGATE_SPOT",
                     "discovery_service_id": "srv-abc123", "port": 8005},
         "live": {"family": "live-trading-dev", "capacity_provider": "FARGATE", "discovery_service_id": "srv-def456",
                  "port": 8004}}
ENVIRONMENT = {"TRADING_STATE_TABLE": "tradai-trading-state-dev", "DEPLOYMENTS_TABLE": "tradai-deployments-dev",
               "CONFIG_VERSIONS_TABLE": "tradai-config-versions-dev", "CONFIGS_BUCKET": "tradai-configs-dev",
               "ECS_CLUSTER": "tradai-dev", "TASK_SUBNETS": "subnet-0a1b2c3d4e5f60718,subnet-0a1b2c3d4e5f60719",
               "TASK_SECURITY_GROUPS": "sg-0a1b2c3d4e5f60718", "TRADAI_ENV": "dev", "DEPLOYMENT_TTL_DAYS": "365",
               "HEALTH_TIMEOUT_SECONDS": "600", "TRADING_MODES": json.dumps(MODES)}


def test_settings_parse():
    config = deployer_settings(ENVIRONMENT)
    assert config.subnets == ("subnet-0a1b2c3d4e5f60718", "subnet-0a1b2c3d4e5f60719")
    assert config.mode("live").port == 8004 and config.mode("dry-run").capacity_provider == "FARGATE_SPOT"
    assert config.health_timeout_seconds == 600 and config.deployment_ttl_days == 365


@pytest.mark.parametrize("name, value, allowed", [
    ("TRADING_MODES", "{not json", "exactly the modes"),
    ("TRADING_MODES", json.dumps({"live": MODES["live"]}), "exactly the modes"),
    ("TRADING_MODES", json.dumps({**MODES, "live": {**MODES["live"], "port": 0}}), "live.port=0"),
    ("TRADING_MODES", json.dumps({**MODES, "dry-run": {**MODES["dry-run"], "discovery_service_id": "x"}}),
     "dry-run.discovery_service_id='x'"),
    ("HEALTH_TIMEOUT_SECONDS", "0", "positive whole number of seconds"),
    ("TASK_SUBNETS", "", "subnet ids"),
    ("TRADAI_ENV", "qa", "one of dev, staging, prod"),
    ("DEPLOYMENTS_TABLE", None, "a DynamoDB table name"),
])
def test_settings_errors_name_the_variable(name, value, allowed):
    environment = {**ENVIRONMENT, name: value}
    if value is None:
        del environment[name]
    with pytest.raises(SettingsError) as raised:
        deployer_settings(environment)
    assert raised.value.name == name and allowed in raised.value.allowed
