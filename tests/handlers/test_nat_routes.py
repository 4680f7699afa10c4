"""The `tradai-update-nat-routes` handler against moto (in-process): readiness, EIP, routes, lifecycle."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import unquote
from datetime import timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from nat_routes import handler as nat_routes

from .conftest import client_response, error_response


@dataclass
class Context:
    """The Lambda context attributes the handler and Powertools read; ``remaining_ms`` is settable."""

    remaining_ms: int = 120_000
    function_name: str = "tradai-update-nat-routes-dev"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:eu-central-1:123456789012:function:tradai-update-nat-routes-dev"
    aws_request_id: str = "5f1e3c9a-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def no_sleep(monkeypatch):
    """Replace the poll sleep; each call runs the queued callbacks (e.g. the instance's boot finishing)."""
    calls: list[float] = []
    callbacks: list = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if callbacks:
            callbacks.pop(0)()

    monkeypatch.setattr("nat_routes.failover.time.sleep", sleep)
    return calls, callbacks


@pytest.fixture
def continuations(aws):
    """Records the asynchronous self-invocations the handler makes (moto cannot run the function)."""
    calls: list[dict] = []

    def invoke(params, **_):
        calls.append({"FunctionName": unquote(params["url_path"].split("/")[-2]), "body": json.loads(params["body"]),
                      "InvocationType": params["headers"].get("X-Amz-Invocation-Type")})
        return client_response(202, {"StatusCode": 202})

    aws.events.register("before-call.lambda.Invoke", invoke)
    return calls


def invoke(event, context=None):
    return nat_routes.handler(event, context or Context())


def errors(logs) -> list[str]:
    return [r.getMessage() for r in logs.records if r.levelno >= logging.ERROR]


def outcomes(result) -> dict[str, str]:
    return {route["route_table_id"]: route["action"] for route in result["routes"]}


def metrics(capsys) -> dict[str, float]:
    """Metric name -> value of every EMF document printed so far; dimensions must be service + group."""
    found = {}
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        for definition in document.get("_aws", {}).get("CloudWatchMetrics", []):
            assert definition["Namespace"] == "TradAI/NatInstance"
            assert sorted(definition["Dimensions"][0]) == ["AutoScalingGroupName", "service"]
            for metric in definition["Metrics"]:
                value = document[metric["Name"]]
                found[metric["Name"]] = value[0] if isinstance(value, list) and len(value) == 1 else value
    return found


def route_to(nat_env, **target) -> None:
    nat_env.ec2.create_route(RouteTableId=nat_env.route_table_ids[0], DestinationCidrBlock="0.0.0.0/0", **target)


# --- the happy path -------------------------------------------------------------------------------

def test_ready_instance_gets_source_dest_check_off_eip_route_and_continue(nat_env, lifecycle, capsys):
    nat_env.mark_boot("ready")
    event = nat_env.event()

    result = invoke(event)

    assert result["status"] == "continued"
    assert outcomes(result) == {nat_env.route_table_ids[0]: "created"}
    assert nat_env.default_route()["NetworkInterfaceId"] == nat_env.eni_id
    assert nat_env.instance()["SourceDestCheck"] is False
    assert nat_env.address()["InstanceId"] == nat_env.instance_id
    assert result["address"]["action"] == "created"
    assert lifecycle.results == ["CONTINUE"]
    call = lifecycle.calls[0]
    assert (call["AutoScalingGroupName"], call["LifecycleHookName"], call["InstanceId"]) == (
        nat_env.asg_name, nat_env.hook_name, nat_env.instance_id)
    assert call["LifecycleActionToken"] == event["detail"]["LifecycleActionToken"]
    assert list(result["timeline"]) == ["event_emitted", "received", "ready_seen", "source_dest_check_off",
                                        "address_associated", "route_switched", "hook_completed"]
    found = metrics(capsys)
    assert found["RouteUpdated"] == 1
    assert "SecondsToRouteSwitch" in found


def test_route_is_moved_only_after_the_instance_tags_itself_ready(nat_env, lifecycle, no_sleep):
    sleeps, callbacks = no_sleep
    seen_before_ready = []
    callbacks.append(lambda: seen_before_ready.append(nat_env.default_route()))
    callbacks.append(lambda: nat_env.mark_boot("ready"))

    result = invoke(nat_env.event())

    assert seen_before_ready == [None]
    assert sleeps == [5, 5]
    assert result["status"] == "continued"
    assert nat_env.default_route()["NetworkInterfaceId"] == nat_env.eni_id
    assert lifecycle.results == ["CONTINUE"]


def test_source_dest_check_stays_on_while_the_instance_boots(nat_env, lifecycle, no_sleep, continuations):
    result = invoke(nat_env.event(), Context(remaining_ms=24_000))

    assert result["status"] == "waiting"
    assert nat_env.instance()["SourceDestCheck"] is True
    assert not nat_env.address().get("InstanceId")
    assert nat_env.default_route() is None
    assert lifecycle.calls == []


# --- readiness never comes ------------------------------------------------------------------------

def test_boot_failure_tag_abandons_at_once(nat_env, lifecycle, logs, no_sleep, capsys):
    nat_env.mark_boot("failed")

    result = invoke(nat_env.event())

    assert result["status"] == "abandoned"
    assert result["error_code"] == "InstanceNotReady"
    assert "boot script reported a failure" in result["reason"]
    assert no_sleep[0] == []
    assert lifecycle.results == ["ABANDON"]
    assert nat_env.default_route() is None
    assert any("will not forward" in message for message in errors(logs))
    assert metrics(capsys) == {"RouteUpdateFailed": 1}


def test_instance_never_ready_within_its_budget_abandons(nat_env, lifecycle, logs, monkeypatch):
    monkeypatch.setenv("READY_TIMEOUT_SECONDS", "10")  # the instance launched 30 s ago
    nat_routes.settings.cache_clear()

    result = invoke(nat_env.event())

    assert result["status"] == "abandoned"
    assert "instance not ready 3" in result["reason"] and "s after launch (budget 10 s" in result["reason"]
    assert lifecycle.results == ["ABANDON"]
    assert nat_env.instance()["SourceDestCheck"] is True


def test_stopped_instance_abandons(nat_env, lifecycle):
    nat_env.ec2.stop_instances(InstanceIds=[nat_env.instance_id])

    result = invoke(nat_env.event())

    assert result["status"] == "abandoned"
    assert "instance is stopped" in result["reason"]
    assert lifecycle.results == ["ABANDON"]


def test_terminated_instance_abandons_without_raising(nat_env, lifecycle, logs):
    """moto drops a terminated instance from its group, so the action is no longer pending."""
    nat_env.ec2.terminate_instances(InstanceIds=[nat_env.instance_id])

    result = invoke(nat_env.event())

    assert result["status"] == "abandoned"
    assert result["lifecycle_action_result"] is None
    assert [(c["LifecycleActionResult"], c["Refused"]) for c in lifecycle.calls] == [("ABANDON", "ValidationError")]
    assert any(r.levelno == logging.WARNING and r.getMessage() == "lifecycle action is no longer pending"
               for r in logs.records)


# --- waits longer than one invocation -------------------------------------------------------------

def test_wait_continues_in_a_new_invocation_when_time_runs_out(nat_env, lifecycle, no_sleep, continuations):
    event = nat_env.event()
    context = Context(remaining_ms=30_000)  # room for one poll (5 s + 20 s reserve), then no more
    no_sleep[1].append(lambda: setattr(context, "remaining_ms", 24_000))

    result = invoke(event, context)

    assert result["status"] == "waiting"
    assert result["continuation"] == 1
    assert no_sleep[0] == [5]
    (call,) = continuations
    assert call["FunctionName"] == Context.invoked_function_arn
    assert call["InvocationType"] == "Event"
    assert call["body"] == {**event, "tradai:continuation": 1}
    assert lifecycle.calls == []

    nat_env.mark_boot("ready")
    assert invoke(call["body"])["status"] == "continued"
    assert lifecycle.results == ["CONTINUE"]


def test_continuations_are_bounded(nat_env, lifecycle, no_sleep, continuations):
    result = invoke({**nat_env.event(), "tradai:continuation": 5}, Context(remaining_ms=10_000))

    assert result["status"] == "abandoned"
    assert "still not ready after 6 invocations" in result["reason"]
    assert continuations == []
    assert lifecycle.results == ["ABANDON"]


# --- routes ---------------------------------------------------------------------------------------

def test_route_to_terminated_instance_is_replaced(nat_env, lifecycle):
    nat_env.mark_boot()
    old = nat_env.run_instance(nat_env.launched_at - timedelta(days=3))["InstanceId"]
    route_to(nat_env, InstanceId=old)
    nat_env.ec2.terminate_instances(InstanceIds=[old])

    result = invoke(nat_env.event())

    assert result["routes"][0]["action"] == "replaced"
    assert result["routes"][0]["previous_target"] == old
    assert "terminated" in result["routes"][0]["reason"]
    assert nat_env.default_route()["NetworkInterfaceId"] == nat_env.eni_id


def test_blackhole_route_is_replaced(nat_env, lifecycle, blackhole_routes):
    nat_env.mark_boot()
    dead_eni = nat_env.ec2.create_network_interface(SubnetId=nat_env.subnet_id)["NetworkInterface"][
        "NetworkInterfaceId"]
    route_to(nat_env, NetworkInterfaceId=dead_eni)
    nat_env.ec2.delete_network_interface(NetworkInterfaceId=dead_eni)

    result = invoke(nat_env.event())

    assert result["routes"][0]["action"] == "replaced"
    assert "blackholed" in result["routes"][0]["reason"]
    assert (nat_env.default_route()["NetworkInterfaceId"], nat_env.default_route()["State"]) == (
        nat_env.eni_id, "active")


def test_route_and_eip_of_newer_running_instance_are_left_alone(nat_env, lifecycle, logs, capsys):
    nat_env.mark_boot()
    newer = nat_env.run_instance(nat_env.launched_at + timedelta(minutes=5))
    newer_eni = newer["NetworkInterfaces"][0]["NetworkInterfaceId"]
    route_to(nat_env, NetworkInterfaceId=newer_eni)
    nat_env.ec2.associate_address(AllocationId=nat_env.allocation_id, InstanceId=newer["InstanceId"])

    result = invoke(nat_env.event())

    assert result["status"] == "continued"
    assert result["routes"][0]["action"] == "skipped"
    assert result["address"]["action"] == "skipped"
    assert nat_env.default_route()["NetworkInterfaceId"] == newer_eni
    assert nat_env.address()["InstanceId"] == newer["InstanceId"]
    warning = next(r for r in logs.records if r.levelno == logging.WARNING)
    assert warning.route_table_id == nat_env.route_table_ids[0]
    assert metrics(capsys) == {"RouteUpdated": 0}


def test_route_and_eip_of_older_running_instance_are_taken_over(nat_env, lifecycle):
    nat_env.mark_boot()
    older = nat_env.run_instance(nat_env.launched_at - timedelta(hours=1))["InstanceId"]
    route_to(nat_env, InstanceId=older)
    nat_env.ec2.associate_address(AllocationId=nat_env.allocation_id, InstanceId=older)

    result = invoke(nat_env.event())

    assert result["routes"][0]["action"] == "replaced"
    assert result["address"] == {"allocation_id": nat_env.allocation_id, "action": "replaced",
                                 "reason": f"older running instance {older} held it", "previous_target": older}
    assert nat_env.default_route()["NetworkInterfaceId"] == nat_env.eni_id
    assert nat_env.address()["InstanceId"] == nat_env.instance_id


def test_route_to_internet_gateway_is_replaced(nat_env, lifecycle):
    nat_env.mark_boot()
    igw = nat_env.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    nat_env.ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=nat_env.vpc_id)
    route_to(nat_env, GatewayId=igw)

    result = invoke(nat_env.event())

    assert (result["routes"][0]["action"], result["routes"][0]["previous_target"]) == ("replaced", igw)


@pytest.mark.parametrize("target", ["NetworkInterfaceId", "InstanceId"])
def test_route_already_targeting_this_instance_is_unchanged(nat_env, lifecycle, capsys, target):
    nat_env.mark_boot()
    target_id = nat_env.eni_id if target == "NetworkInterfaceId" else nat_env.instance_id
    route_to(nat_env, **{target: target_id})

    result = invoke(nat_env.event())

    assert result["routes"][0]["action"] == "unchanged"
    assert nat_env.default_route()[target] == target_id
    assert metrics(capsys)["RouteUpdated"] == 0


def test_two_route_tables_are_both_updated(nat_env, lifecycle, monkeypatch):
    nat_env.mark_boot()
    second = nat_env.ec2.create_route_table(VpcId=nat_env.vpc_id)["RouteTable"]["RouteTableId"]
    old = nat_env.run_instance(nat_env.launched_at - timedelta(days=1))["InstanceId"]
    nat_env.ec2.create_route(RouteTableId=second, DestinationCidrBlock="0.0.0.0/0", InstanceId=old)
    nat_env.ec2.terminate_instances(InstanceIds=[old])
    monkeypatch.setenv("ROUTE_TABLE_IDS", f" {nat_env.route_table_ids[0]} ,{second},")
    nat_routes.settings.cache_clear()

    result = invoke(nat_env.event())

    assert outcomes(result) == {nat_env.route_table_ids[0]: "created", second: "replaced"}
    for table in (nat_env.route_table_ids[0], second):
        assert nat_env.default_route(table)["NetworkInterfaceId"] == nat_env.eni_id


def test_concurrent_create_route_is_resolved_by_a_replace(nat_env, lifecycle, aws):
    """Another delivery created the route between our read and our CreateRoute (RouteAlreadyExists)."""
    nat_env.mark_boot()
    stale = nat_env.run_instance(nat_env.launched_at - timedelta(days=1))["InstanceId"]
    nat_env.ec2.terminate_instances(InstanceIds=[stale])

    def race(**_):
        route_to(nat_env, InstanceId=stale)
        return error_response("RouteAlreadyExists", "The route identified by 0.0.0.0/0 already exists.")

    aws.events.register_first("before-call.ec2.CreateRoute", race, unique_id="race")

    result = invoke(nat_env.event())

    assert result["status"] == "continued"
    assert result["routes"][0]["action"] == "replaced"
    assert "created concurrently" in result["routes"][0]["reason"]
    assert nat_env.default_route()["NetworkInterfaceId"] == nat_env.eni_id


def test_duplicate_delivery_is_idempotent(nat_env, lifecycle):
    nat_env.mark_boot()
    event = nat_env.event()
    invoke(event)

    result = invoke(event)

    assert result["status"] == "continued"
    assert result["routes"][0]["action"] == "unchanged"
    assert result["address"]["action"] == "unchanged"
    assert result["lifecycle_action_result"] is None
    assert lifecycle.results == ["CONTINUE"]


# --- AWS errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("operation", "code"), [
    ("DescribeInstances", "RequestLimitExceeded"),
    ("AssociateAddress", "InternalError"),
    ("ReplaceRoute", "Throttling"),
    ("ModifyInstanceAttribute", "ServiceUnavailable"),
])
def test_transient_aws_error_is_raised_for_the_async_retry(nat_env, lifecycle, logs, fail_call, monkeypatch,
                                                           operation, code):
    monkeypatch.setattr("shared.aws.BOTO_CONFIG", Config(retries={"mode": "standard", "max_attempts": 1}))
    nat_env.mark_boot()
    old = nat_env.run_instance(nat_env.launched_at - timedelta(days=1))["InstanceId"]
    route_to(nat_env, InstanceId=old)
    nat_env.ec2.terminate_instances(InstanceIds=[old])
    fail_call("ec2", operation, code)

    with pytest.raises(ClientError, match=code):
        invoke(nat_env.event())

    assert lifecycle.calls == []
    warning = next(r for r in logs.records if r.levelno == logging.WARNING)
    assert "transient AWS error" in warning.getMessage()
    assert warning.error_code == code


def test_refused_route_update_abandons_naming_the_table(nat_env, lifecycle, logs, capsys, fail_call):
    nat_env.mark_boot()
    old = nat_env.run_instance(nat_env.launched_at - timedelta(days=1))["InstanceId"]
    route_to(nat_env, InstanceId=old)
    nat_env.ec2.terminate_instances(InstanceIds=[old])
    fail_call("ec2", "ReplaceRoute", "UnauthorizedOperation")

    result = invoke(nat_env.event())

    assert result["status"] == "abandoned"
    assert (result["error_code"], result["route_table_id"]) == ("UnauthorizedOperation", nat_env.route_table_ids[0])
    assert lifecycle.results == ["ABANDON"]
    assert nat_env.default_route()["InstanceId"] == old
    assert f"route update of {nat_env.route_table_ids[0]} failed" in errors(logs)
    assert metrics(capsys) == {"RouteUpdateFailed": 1}


def test_unknown_route_table_abandons_naming_it(nat_env, lifecycle, monkeypatch):
    nat_env.mark_boot()
    missing = "rtb-0123456789abcdef0"
    monkeypatch.setenv("ROUTE_TABLE_IDS", f"{nat_env.route_table_ids[0]},{missing}")
    nat_routes.settings.cache_clear()

    result = invoke(nat_env.event())

    assert (result["status"], result["route_table_id"]) == ("abandoned", missing)
    assert result["error_code"] == "InvalidRouteTableID.NotFound"
    assert lifecycle.results == ["ABANDON"]


def test_failing_complete_lifecycle_action_is_reraised(nat_env, lifecycle, logs):
    nat_env.mark_boot()
    lifecycle.fail_with = "ValidationError"

    with pytest.raises(ClientError, match="ValidationError"):
        invoke(nat_env.event())

    assert nat_env.default_route()["NetworkInterfaceId"] == nat_env.eni_id
    assert "CompleteLifecycleAction failed" in errors(logs)


# --- events and settings --------------------------------------------------------------------------

def test_other_lifecycle_hook_is_ignored(nat_env, lifecycle, logs):
    nat_env.mark_boot()

    result = invoke(nat_env.event(LifecycleHookName="someone-elses-hook"))

    assert result["status"] == "ignored"
    assert lifecycle.calls == []
    assert nat_env.default_route() is None
    assert any("not this function's lifecycle hook" in r.getMessage() for r in logs.records)


@pytest.mark.parametrize(("name", "value"), [
    ("ROUTE_TABLE_IDS", None), ("ROUTE_TABLE_IDS", " , "), ("ROUTE_TABLE_IDS", "subnet-0abc"),
    ("EIP_ALLOCATION_ID", "203.0.113.10"), ("READY_TIMEOUT_SECONDS", "0"), ("POLL_INTERVAL_SECONDS", "soon"),
    ("LIFECYCLE_HOOK_NAME", ""),
])
def test_invalid_setting_abandons_naming_the_variable(nat_env, lifecycle, logs, monkeypatch, name, value):
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)
    nat_routes.settings.cache_clear()

    result = invoke(nat_env.event())

    assert result["status"] == "rejected"
    assert f"{name}=" in result["reason"] and "allowed:" in result["reason"]
    assert lifecycle.results == ["ABANDON"]
    assert any(name in message for message in errors(logs))


@pytest.mark.parametrize(("make_event", "problem", "abandoned"), [
    (lambda env: None, "must be a JSON object, got NoneType", False),
    (lambda env: "EC2 Instance-launch Lifecycle Action", "got str", False),
    (lambda env: {}, "no 'detail' object", False),
    (lambda env: {**env.event(), "detail": "i-0abc"}, "'detail' must be a JSON object", False),
    (lambda env: {**env.event(), "detail": {}}, "missing or empty detail field(s)", False),
    (lambda env: {**env.event(), "detail-type": "EC2 Instance-terminate Lifecycle Action"},
     "detail-type is 'EC2 Instance-terminate Lifecycle Action'", True),
    (lambda env: env.event(EC2InstanceId=None), "EC2InstanceId", False),
    (lambda env: env.event(LifecycleActionToken=""), "LifecycleActionToken", True),
    (lambda env: env.event(LifecycleActionToken="abc"), "not a 36-character token", True),
    (lambda env: env.event(LifecycleHookName=None), "LifecycleHookName", False),
    (lambda env: {**env.event(), "tradai:continuation": "2"}, "must be a non-negative integer", True),
])
def test_malformed_event_is_rejected(nat_env, lifecycle, logs, make_event, problem, abandoned):
    result = invoke(make_event(nat_env))

    assert result["status"] == "rejected"
    assert problem in result["reason"]
    assert result["lifecycle_action_result"] == ("ABANDON" if abandoned else None)
    assert lifecycle.results == (["ABANDON"] if abandoned else [])
    assert any(problem in message for message in errors(logs))
    assert nat_env.default_route() is None


def test_rejected_event_whose_abandon_fails_does_not_raise(nat_env, lifecycle, logs):
    lifecycle.fail_with = "ValidationError"

    result = invoke({**nat_env.event(), "detail-type": "EC2 Instance-terminate Lifecycle Action"})

    assert (result["status"], result["lifecycle_action_result"]) == ("rejected", None)
    assert "CompleteLifecycleAction failed" in errors(logs)


def test_settings_are_read_once_per_cold_start(nat_env, lifecycle, monkeypatch):
    nat_env.mark_boot()
    invoke(nat_env.event())
    monkeypatch.setenv("ROUTE_TABLE_IDS", "not-a-table")

    assert nat_routes.settings().route_table_ids == tuple(nat_env.route_table_ids)


# --- the scheduled route audit -------------------------------------------------------------------------

SCHEDULED = {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
             "source": "aws.events", "account": "123456789012", "time": "2026-12-01T10:00:00Z",
             "region": "eu-central-1", "resources": ["arn:aws:events:eu-central-1:123456789012:rule/nat-audit"],
             "detail": {}}


def test_audit_reports_a_missing_default_route_and_changes_nothing(nat_env, lifecycle, logs, capsys):
    result = invoke(SCHEDULED)

    assert result == {"status": "audited", "unusable": {nat_env.route_table_ids[0]: "no 0.0.0.0/0 route"}}
    assert nat_env.default_route() is None
    assert lifecycle.calls == []
    assert metrics(capsys) == {"RoutesUnusable": 1}
    assert any("cannot carry traffic" in message for message in errors(logs))


def test_audit_passes_a_route_to_the_running_nat_instance(nat_env, lifecycle, capsys):
    route_to(nat_env, NetworkInterfaceId=nat_env.eni_id)

    assert invoke(SCHEDULED) == {"status": "audited", "unusable": {}}
    assert metrics(capsys) == {"RoutesUnusable": 0}


def test_audit_reports_routes_to_a_dead_instance_or_a_blackhole(nat_env, lifecycle, blackhole_routes, capsys):
    dead_eni = nat_env.ec2.create_network_interface(SubnetId=nat_env.subnet_id)["NetworkInterface"][
        "NetworkInterfaceId"]
    route_to(nat_env, NetworkInterfaceId=dead_eni)
    nat_env.ec2.delete_network_interface(NetworkInterfaceId=dead_eni)
    assert "blackholed" in invoke(SCHEDULED)["unusable"][nat_env.route_table_ids[0]]

    nat_env.ec2.delete_route(RouteTableId=nat_env.route_table_ids[0], DestinationCidrBlock="0.0.0.0/0")
    route_to(nat_env, InstanceId=nat_env.instance_id)
    nat_env.ec2.stop_instances(InstanceIds=[nat_env.instance_id])
    assert nat_env.instance_id in invoke(SCHEDULED)["unusable"][nat_env.route_table_ids[0]]  # stopped: blackholed
