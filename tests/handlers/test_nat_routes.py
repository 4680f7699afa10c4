"""Tests of the `tradai-update-nat-routes` handler against moto (in-process)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from nat_routes import handler as nat_routes
from shared.observability import get_logger


CONTEXT = SimpleNamespace(
    function_name="tradai-update-nat-routes", aws_request_id="5f1e3c9a-0000-4000-8000-000000000001"
)


def invoke(event):
    return nat_routes.handler(event, CONTEXT)


def error_messages(logs) -> list[str]:
    return [r.getMessage() for r in logs.records if r.levelno >= logging.ERROR]


def route_outcomes(result) -> dict[str, str]:
    return {route["route_table_id"]: route["action"] for route in result["routes"]}


def test_missing_route_is_created_and_action_continued(nat_env, lifecycle):
    event = nat_env.event()

    result = invoke(event)

    assert result["status"] == "continued"
    assert route_outcomes(result) == {nat_env.route_table_ids[0]: "created"}
    assert nat_env.default_route()["NetworkInterfaceId"] == nat_env.eni_id
    assert lifecycle.results == ["CONTINUE"]
    call = lifecycle.calls[0]
    assert call["AutoScalingGroupName"] == nat_env.asg_name
    assert call["LifecycleHookName"] == nat_env.hook_name
    assert call["InstanceId"] == nat_env.instance_id
    assert call["LifecycleActionToken"] == event["detail"]["LifecycleActionToken"]


def test_route_to_terminated_instance_is_replaced(nat_env, lifecycle):
    old = nat_env.run_instance(nat_env.launched_at - timedelta(days=3))["InstanceId"]
    nat_env.ec2.create_route(
        RouteTableId=nat_env.route_table_ids[0], DestinationCidrBlock="0.0.0.0/0", InstanceId=old
    )
    nat_env.ec2.terminate_instances(InstanceIds=[old])

    result = invoke(nat_env.event())

    assert result["routes"][0]["action"] == "replaced"
    assert result["routes"][0]["previous_target"] == old
    assert "terminated" in result["routes"][0]["reason"]
    assert nat_env.default_route()["NetworkInterfaceId"] == nat_env.eni_id
    assert lifecycle.results == ["CONTINUE"]


def test_blackhole_route_is_replaced(nat_env, lifecycle, blackhole_routes):
    dead_eni = nat_env.ec2.create_network_interface(SubnetId=nat_env.subnet_id)[
        "NetworkInterface"
    ]["NetworkInterfaceId"]
    nat_env.ec2.create_route(
        RouteTableId=nat_env.route_table_ids[0],
        DestinationCidrBlock="0.0.0.0/0",
        NetworkInterfaceId=dead_eni,
    )
    nat_env.ec2.delete_network_interface(NetworkInterfaceId=dead_eni)
    assert nat_env.default_route()["State"] == "blackhole"

    result = invoke(nat_env.event())

    assert result["routes"][0]["action"] == "replaced"
    assert "blackholed" in result["routes"][0]["reason"]
    route = nat_env.default_route()
    assert (route["NetworkInterfaceId"], route["State"]) == (nat_env.eni_id, "active")
    assert lifecycle.results == ["CONTINUE"]


def test_route_of_newer_running_instance_is_left_alone(nat_env, lifecycle, logs, capsys):
    newer = nat_env.run_instance(nat_env.launched_at + timedelta(minutes=5))
    newer_eni = newer["NetworkInterfaces"][0]["NetworkInterfaceId"]
    nat_env.ec2.create_route(
        RouteTableId=nat_env.route_table_ids[0],
        DestinationCidrBlock="0.0.0.0/0",
        NetworkInterfaceId=newer_eni,
    )

    result = invoke(nat_env.event())

    assert result["status"] == "continued"
    assert result["routes"][0]["action"] == "skipped"
    assert newer["InstanceId"] in result["routes"][0]["reason"]
    assert nat_env.default_route()["NetworkInterfaceId"] == newer_eni
    assert lifecycle.results == ["CONTINUE"]
    warning = next(r for r in logs.records if r.levelno == logging.WARNING)
    assert warning.route_table_id == nat_env.route_table_ids[0]
    assert "newer running instance" in warning.reason
    assert _metrics(capsys) == {"RouteUpdated": 0}


def test_route_of_older_running_instance_is_replaced(nat_env, lifecycle):
    older = nat_env.run_instance(nat_env.launched_at - timedelta(hours=1))["InstanceId"]
    nat_env.ec2.create_route(
        RouteTableId=nat_env.route_table_ids[0], DestinationCidrBlock="0.0.0.0/0", InstanceId=older
    )

    result = invoke(nat_env.event())

    assert result["routes"][0]["action"] == "replaced"
    assert "older running instance" in result["routes"][0]["reason"]
    assert nat_env.default_route()["NetworkInterfaceId"] == nat_env.eni_id
    assert lifecycle.results == ["CONTINUE"]


def test_route_to_internet_gateway_is_replaced(nat_env, lifecycle):
    igw = nat_env.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    nat_env.ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=nat_env.vpc_id)
    nat_env.ec2.create_route(
        RouteTableId=nat_env.route_table_ids[0], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
    )

    result = invoke(nat_env.event())

    assert result["routes"][0]["action"] == "replaced"
    assert result["routes"][0]["previous_target"] == igw
    assert nat_env.default_route()["NetworkInterfaceId"] == nat_env.eni_id


@pytest.mark.parametrize("target", ["NetworkInterfaceId", "InstanceId"])
def test_route_already_targeting_this_instance_is_unchanged(nat_env, lifecycle, capsys, target):
    target_id = nat_env.eni_id if target == "NetworkInterfaceId" else nat_env.instance_id
    nat_env.ec2.create_route(
        RouteTableId=nat_env.route_table_ids[0],
        DestinationCidrBlock="0.0.0.0/0",
        **{target: target_id},
    )

    result = invoke(nat_env.event())

    assert result["routes"][0]["action"] == "unchanged"
    assert nat_env.default_route()[target] == target_id
    assert lifecycle.results == ["CONTINUE"]
    assert _metrics(capsys) == {"RouteUpdated": 0}


def test_two_route_tables_are_both_updated(nat_env, lifecycle, monkeypatch, capsys):
    second = nat_env.ec2.create_route_table(VpcId=nat_env.vpc_id)["RouteTable"]["RouteTableId"]
    old = nat_env.run_instance(nat_env.launched_at - timedelta(days=1))["InstanceId"]
    nat_env.ec2.create_route(
        RouteTableId=second, DestinationCidrBlock="0.0.0.0/0", InstanceId=old
    )
    nat_env.ec2.terminate_instances(InstanceIds=[old])
    monkeypatch.setenv("ROUTE_TABLE_IDS", f" {nat_env.route_table_ids[0]} ,{second},")

    result = invoke(nat_env.event())

    assert route_outcomes(result) == {nat_env.route_table_ids[0]: "created", second: "replaced"}
    for table in (nat_env.route_table_ids[0], second):
        assert nat_env.default_route(table)["NetworkInterfaceId"] == nat_env.eni_id
    assert lifecycle.results == ["CONTINUE"]
    assert _metrics(capsys) == {"RouteUpdated": 2}


def test_instance_never_running_abandons(nat_env, lifecycle, logs, capsys):
    """A stopped instance never matches the waiter, which gives up after WAIT_MAX_ATTEMPTS."""
    nat_env.ec2.stop_instances(InstanceIds=[nat_env.instance_id])

    result = invoke(nat_env.event())

    assert result["status"] == "abandoned"
    assert result["error_code"] == "InstanceNotRunning"
    assert "Max attempts exceeded" in result["error"]
    assert result["lifecycle_action_result"] == "ABANDON"
    assert lifecycle.results == ["ABANDON"]
    assert nat_env.default_route() is None
    assert f"instance {nat_env.instance_id} did not reach running" in error_messages(logs)
    assert _metrics(capsys) == {"RouteUpdateFailed": 1}


def test_terminated_instance_abandons_without_raising(nat_env, lifecycle, logs):
    """moto drops a terminated instance from its group, so the action is no longer pending."""
    nat_env.ec2.terminate_instances(InstanceIds=[nat_env.instance_id])

    result = invoke(nat_env.event())

    assert result["status"] == "abandoned"
    assert "terminal failure state" in result["error"]
    assert result["lifecycle_action_result"] is None
    assert [(c["LifecycleActionResult"], c["Refused"]) for c in lifecycle.calls] == [
        ("ABANDON", "ValidationError")
    ]
    assert f"instance {nat_env.instance_id} did not reach running" in error_messages(logs)
    assert any(
        r.levelno == logging.WARNING and r.getMessage() == "lifecycle action is no longer pending"
        for r in logs.records
    )


def test_duplicate_delivery_is_idempotent(nat_env, lifecycle):
    event = nat_env.event()
    invoke(event)

    result = invoke(event)

    assert result["status"] == "continued"
    assert result["routes"][0]["action"] == "unchanged"
    assert result["lifecycle_action_result"] is None
    assert lifecycle.results == ["CONTINUE"]


@pytest.mark.parametrize("value", [None, "", " , ", "subnet-0abc"])
def test_invalid_route_table_ids_abandon(nat_env, lifecycle, logs, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("ROUTE_TABLE_IDS")
    else:
        monkeypatch.setenv("ROUTE_TABLE_IDS", value)

    result = invoke(nat_env.event())

    assert result["status"] == "abandoned"
    assert result["error_code"] == "ConfigurationError"
    assert "ROUTE_TABLE_IDS" in result["reason"]
    assert lifecycle.results == ["ABANDON"]
    assert any("ROUTE_TABLE_IDS" in message for message in error_messages(logs))


def test_invalid_waiter_setting_abandons(nat_env, lifecycle, monkeypatch):
    monkeypatch.setenv("WAIT_MAX_ATTEMPTS", "0")

    result = invoke(nat_env.event())

    assert result["error_code"] == "ConfigurationError"
    assert "WAIT_MAX_ATTEMPTS" in result["reason"]
    assert lifecycle.results == ["ABANDON"]


def test_unknown_route_table_abandons_naming_it(nat_env, lifecycle, logs, monkeypatch):
    missing = "rtb-0123456789abcdef0"
    monkeypatch.setenv("ROUTE_TABLE_IDS", f"{nat_env.route_table_ids[0]},{missing}")

    result = invoke(nat_env.event())

    assert result["status"] == "abandoned"
    assert result["route_table_id"] == missing
    assert result["error_code"] == "InvalidRouteTableID.NotFound"
    assert route_outcomes(result) == {nat_env.route_table_ids[0]: "created"}
    assert lifecycle.results == ["ABANDON"]
    error = next(r for r in logs.records if r.levelno == logging.ERROR)
    assert missing in error.getMessage()
    assert (error.route_table_id, error.error_code) == (missing, "InvalidRouteTableID.NotFound")


def test_replace_route_client_error_abandons(nat_env, lifecycle, logs, capsys, fail_call):
    old = nat_env.run_instance(nat_env.launched_at - timedelta(days=1))["InstanceId"]
    nat_env.ec2.create_route(
        RouteTableId=nat_env.route_table_ids[0], DestinationCidrBlock="0.0.0.0/0", InstanceId=old
    )
    nat_env.ec2.terminate_instances(InstanceIds=[old])
    fail_call("ec2", "ReplaceRoute", "UnauthorizedOperation")

    result = invoke(nat_env.event())

    assert result["status"] == "abandoned"
    assert result["error_code"] == "UnauthorizedOperation"
    assert lifecycle.results == ["ABANDON"]
    assert nat_env.default_route()["InstanceId"] == old
    error = next(r for r in logs.records if r.levelno == logging.ERROR)
    assert nat_env.route_table_ids[0] in error.getMessage()
    assert error.error_code == "UnauthorizedOperation"
    assert _metrics(capsys) == {"RouteUpdateFailed": 1}


def test_failing_complete_lifecycle_action_is_reraised(nat_env, lifecycle, logs):
    lifecycle.fail_with = "ValidationError"

    with pytest.raises(ClientError, match="ValidationError"):
        invoke(nat_env.event())

    assert nat_env.default_route()["NetworkInterfaceId"] == nat_env.eni_id
    assert "CompleteLifecycleAction failed" in error_messages(logs)


@pytest.mark.parametrize(
    ("make_event", "problem", "abandoned"),
    [
        (lambda env: None, "must be a JSON object, got NoneType", False),
        (lambda env: "EC2 Instance-launch Lifecycle Action", "got str", False),
        (lambda env: {}, "no 'detail' object", False),
        (lambda env: {**env.event(), "detail": "i-0abc"}, "'detail' must be a JSON object", False),
        (lambda env: {**env.event(), "detail": {}}, "missing or empty detail field(s)", False),
        (
            lambda env: {**env.event(), "detail-type": "EC2 Instance-terminate Lifecycle Action"},
            "detail-type is 'EC2 Instance-terminate Lifecycle Action'",
            True,
        ),
        (
            lambda env: {**env.event(), "detail-type": "EC2 Instance Launch Successful"},
            "expected 'EC2 Instance-launch Lifecycle Action'",
            True,
        ),
        (lambda env: env.event(EC2InstanceId=None), "EC2InstanceId", True),
        (lambda env: env.event(LifecycleActionToken=""), "LifecycleActionToken", True),
        (lambda env: env.event(LifecycleActionToken="abc"), "not a 36-character token", True),
        (lambda env: env.event(LifecycleHookName=None), "LifecycleHookName", False),
    ],
)
def test_malformed_event_is_rejected(nat_env, lifecycle, logs, make_event, problem, abandoned):
    result = invoke(make_event(nat_env))

    assert result["status"] == "rejected"
    assert problem in result["reason"]
    assert result["lifecycle_action_result"] == ("ABANDON" if abandoned else None)
    assert lifecycle.results == (["ABANDON"] if abandoned else [])
    assert any(problem in message for message in error_messages(logs))
    assert nat_env.default_route() is None


def test_rejected_event_whose_abandon_fails_does_not_raise(nat_env, lifecycle, logs):
    lifecycle.fail_with = "ValidationError"

    result = invoke({**nat_env.event(), "detail-type": "EC2 Instance-terminate Lifecycle Action"})

    assert result == {
        "status": "rejected",
        "reason": result["reason"],
        "lifecycle_action_result": None,
    }
    assert "CompleteLifecycleAction failed" in error_messages(logs)


def test_logs_and_metrics_are_json_lines(nat_env, lifecycle, capsys):
    invoke(nat_env.event())

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    logs = [line for line in lines if "_aws" not in line]
    assert [line["message"].split(" after ")[0] for line in logs] == [
        "lifecycle event received",
        "instance running",
        "route created",
        "lifecycle action completed",
    ]
    assert logs[0]["aws_request_id"] == CONTEXT.aws_request_id
    route_log = logs[2]
    assert route_log["level"] == "INFO"
    assert route_log["route_table_id"] == nat_env.route_table_ids[0]
    assert route_log["instance_id"] == nat_env.instance_id
    assert route_log["action"] == "created"
    (emf,) = [line for line in lines if "_aws" in line]
    assert emf["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": "TradAI/NatInstance",
            "Dimensions": [["AutoScalingGroupName"]],
            "Metrics": [{"Name": "RouteUpdated", "Unit": "Count"}],
        }
    ]
    assert emf["AutoScalingGroupName"] == nat_env.asg_name
    assert emf["RouteUpdated"] == 1


def test_clients_are_created_per_invocation_from_environment(aws, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    client = nat_routes._client("ec2")

    assert client.meta.endpoint_url == "http://127.0.0.1:5000"
    assert client.meta.region_name == "eu-west-1"


def test_get_logger_honours_log_level(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert get_logger("tests.observability").level == logging.DEBUG
    monkeypatch.setenv("LOG_LEVEL", "nonsense")
    assert get_logger("tests.observability").level == logging.INFO


def _metrics(capsys) -> dict[str, float]:
    """Metric name -> value of every EMF line printed so far."""
    metrics = {}
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line)
        for definition in document.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in definition["Metrics"]:
                metrics[metric["Name"]] = document[metric["Name"]]
    return metrics
