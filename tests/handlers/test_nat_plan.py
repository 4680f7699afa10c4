"""Pure decisions of the NAT failover (plan.py) and its settings (settings.py): no AWS, no moto, no clock."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from nat_routes import contract
from nat_routes.plan import (
    GONE_STATES,
    Holder,
    Instance,
    InvalidEvent,
    LaunchAction,
    Readiness,
    assess_readiness,
    parse_event,
    plan_takeover,
)
from nat_routes.settings import ConfigurationError, Settings, load_settings

GROUP = "tradai-nat-dev"
HOOK = contract.HOOK_NAME
INSTANCE_ID = "i-0123456789abcdef0"
TOKEN = "87654321-4321-4321-4321-210987654321"
EVENT_TIME = datetime(2024, 5, 14, 9, 21, 37, tzinfo=timezone.utc)
ALL_IDENTIFIERS = {
    "EC2InstanceId": INSTANCE_ID,
    "AutoScalingGroupName": GROUP,
    "LifecycleHookName": HOOK,
    "LifecycleActionToken": TOKEN,
}


def launch_event(**detail_changes) -> dict:
    """A launch lifecycle action as EventBridge delivers it; ``None`` in ``detail_changes`` removes a field."""
    detail = {
        "Origin": "EC2",
        "LifecycleActionToken": TOKEN,
        "AutoScalingGroupName": GROUP,
        "LifecycleHookName": HOOK,
        "EC2InstanceId": INSTANCE_ID,
        "LifecycleTransition": contract.LAUNCH_TRANSITION,
        "Destination": "AutoScalingGroup",
    }
    for key, value in detail_changes.items():
        if value is None:
            detail.pop(key)
        else:
            detail[key] = value
    return {
        "version": "0",
        "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
        "detail-type": contract.LAUNCH_EVENT,
        "source": contract.EVENT_SOURCE,
        "account": "123456789012",
        "time": "2024-05-14T09:21:37Z",
        "region": "eu-central-1",
        "resources": [f"arn:aws:autoscaling:eu-central-1:123456789012:autoScalingGroup:"
                      f"0a1b2c3d-0000-4000-8000-000000000000:autoScalingGroupName/{GROUP}"],
        "detail": detail,
    }


def invalid(event) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as error:
        parse_event(event)
    return error.value


# --- parse_event ------------------------------------------------------------------------------------------


def test_parse_a_launch_lifecycle_action():
    action = parse_event(launch_event())
    assert action == LaunchAction(GROUP, HOOK, INSTANCE_ID, TOKEN, 0, EVENT_TIME)
    assert action.event_time.tzinfo is not None
    assert action.event_time.utcoffset() == timedelta(0)


def test_parse_reads_the_continuation():
    event = {**launch_event(), contract.CONTINUATION_KEY: 3}
    assert contract.CONTINUATION_KEY == "tradai:continuation"
    assert parse_event(event).continuation == 3


def test_parse_strips_identifiers():
    action = parse_event(launch_event(EC2InstanceId=f"  {INSTANCE_ID}\n"))
    assert action.instance_id == INSTANCE_ID


def test_parse_without_a_time_has_no_event_time():
    event = launch_event()
    del event["time"]
    assert parse_event(event).event_time is None
    assert parse_event({**launch_event(), "time": "yesterday"}).event_time is None


def test_parse_does_not_modify_the_event():
    event = launch_event()
    before = copy.deepcopy(event)
    parse_event(event)
    assert event == before


@pytest.mark.parametrize("event, type_name", [
    (None, "NoneType"), ("{}", "str"), ([launch_event()], "list"), (42, "int"),
])
def test_non_object_event(event, type_name):
    error = invalid(event)
    assert "event must be a JSON object" in str(error)
    assert type_name in str(error)
    assert error.identifiers == {}


def test_event_without_detail():
    event = launch_event()
    del event["detail"]
    error = invalid(event)
    assert "no 'detail' object" in str(error)
    assert error.identifiers == {}


@pytest.mark.parametrize("detail, type_name", [("text", "str"), ([1, 2], "list"), (7, "int")])
def test_detail_that_is_not_an_object(detail, type_name):
    error = invalid({**launch_event(), "detail": detail})
    assert "'detail' must be a JSON object" in str(error)
    assert type_name in str(error)
    assert error.identifiers == {}


@pytest.mark.parametrize("detail_type", [
    "EC2 Instance-terminate Lifecycle Action", "EC2 Instance Launch Successful", None, "",
])
def test_wrong_detail_type(detail_type):
    event = launch_event()
    if detail_type is None:
        del event["detail-type"]
    else:
        event["detail-type"] = detail_type
    error = invalid(event)
    assert f"detail-type is {detail_type!r}" in str(error)
    assert repr(contract.LAUNCH_EVENT) in str(error)
    assert error.identifiers == ALL_IDENTIFIERS


@pytest.mark.parametrize("field", sorted(ALL_IDENTIFIERS))
@pytest.mark.parametrize("bad", [None, "", "   ", 12345, ["x"]], ids=["absent", "empty", "blank", "int", "list"])
def test_missing_detail_field(field, bad):
    event = launch_event()
    if bad is None:
        del event["detail"][field]
    else:
        event["detail"][field] = bad
    error = invalid(event)
    assert "missing or empty detail field(s)" in str(error)
    assert field in str(error)
    assert error.identifiers == {k: v for k, v in ALL_IDENTIFIERS.items() if k != field}


def test_several_problems_are_reported_together():
    event = launch_event(EC2InstanceId=None, LifecycleHookName=None)
    event["detail-type"] = "EC2 Instance-terminate Lifecycle Action"
    error = invalid(event)
    message = str(error)
    assert "detail-type is 'EC2 Instance-terminate Lifecycle Action'" in message
    assert "missing or empty detail field(s): EC2InstanceId, LifecycleHookName" in message
    assert message.count("; ") == 1
    assert error.identifiers == {"AutoScalingGroupName": GROUP, "LifecycleActionToken": TOKEN}


@pytest.mark.parametrize("token", [TOKEN[:-1], TOKEN + "0", "not-a-token", "x" * 100])
def test_token_of_the_wrong_length(token):
    error = invalid(launch_event(LifecycleActionToken=token))
    assert "LifecycleActionToken is not a 36-character token" in str(error)
    assert "LifecycleActionToken" not in error.identifiers
    # The instance id still identifies the action, so the caller can log or abandon it.
    assert error.identifiers == {k: v for k, v in ALL_IDENTIFIERS.items() if k != "LifecycleActionToken"}


@pytest.mark.parametrize("continuation", [-1, True, False, "1", 1.0, None, [1]],
                         ids=["negative", "true", "false", "str", "float", "none", "list"])
def test_bad_continuation(continuation):
    error = invalid({**launch_event(), contract.CONTINUATION_KEY: continuation})
    assert f"tradai:continuation must be a non-negative integer, got {continuation!r}" in str(error)
    assert error.identifiers == ALL_IDENTIFIERS


def test_invalid_event_is_a_value_error():
    assert issubclass(InvalidEvent, ValueError)


# --- assess_readiness -------------------------------------------------------------------------------------

LAUNCHED = datetime(2024, 5, 14, 9, 20, 0, tzinfo=timezone.utc)
BUDGET = 240


def instance(state="running", boot_state=None, launch_time=LAUNCHED, instance_id=INSTANCE_ID) -> Instance:
    return Instance(instance_id=instance_id, state=state, launch_time=launch_time,
                    primary_interface_id="eni-0123456789abcdef0", boot_state=boot_state, source_dest_check=True)


def after(seconds: float) -> datetime:
    return LAUNCHED + timedelta(seconds=seconds)


def test_readiness_of_a_vanished_instance():
    readiness, reason = assess_readiness(None, after(10), BUDGET)
    assert readiness is Readiness.FAILED
    assert "no longer exists" in reason


@pytest.mark.parametrize("state", ["shutting-down", "terminated", "stopping", "stopped"])
@pytest.mark.parametrize("boot_state", [None, contract.BOOT_READY])
def test_readiness_of_an_instance_that_is_going_away(state, boot_state):
    assert state in GONE_STATES
    readiness, reason = assess_readiness(instance(state, boot_state), after(10), BUDGET)
    assert readiness is Readiness.FAILED
    assert state in reason


@pytest.mark.parametrize("state", ["pending", "running"])
def test_boot_failure_fails_even_while_running(state):
    readiness, reason = assess_readiness(instance(state, contract.BOOT_FAILED), after(10), BUDGET)
    assert readiness is Readiness.FAILED
    assert "boot script reported a failure" in reason


@pytest.mark.parametrize("age", [0, 10, BUDGET, BUDGET + 3600])
def test_running_and_tagged_ready_is_ready(age):
    # A ready instance is ready however long it took: only a not-yet-ready one is held to the budget.
    readiness, _ = assess_readiness(instance("running", contract.BOOT_READY), after(age), BUDGET)
    assert readiness is Readiness.READY


def test_pending_but_tagged_ready_waits():
    readiness, reason = assess_readiness(instance("pending", contract.BOOT_READY), after(30), BUDGET)
    assert readiness is Readiness.WAIT
    assert "pending" in reason


@pytest.mark.parametrize("age", [0, 1, 120, BUDGET])
def test_running_without_the_tag_within_the_budget_waits(age):
    readiness, reason = assess_readiness(instance("running"), after(age), BUDGET)
    assert readiness is Readiness.WAIT
    assert "in progress" in reason
    assert f"after {age} s" in reason


@pytest.mark.parametrize("state, boot_state", [("running", None), ("pending", None), ("pending", "ready")])
def test_not_ready_after_the_budget_fails(state, boot_state):
    readiness, reason = assess_readiness(instance(state, boot_state), after(BUDGET + 1), BUDGET)
    assert readiness is Readiness.FAILED
    assert f"budget {BUDGET} s" in reason
    assert f"state {state}" in reason


def test_readiness_budget_is_measured_from_launch_time_in_any_timezone():
    berlin = timezone(timedelta(hours=2))
    readiness, _ = assess_readiness(instance("running"), after(BUDGET + 1).astimezone(berlin), BUDGET)
    assert readiness is Readiness.FAILED


# --- plan_takeover ----------------------------------------------------------------------------------------

OURS = instance("running", contract.BOOT_READY, LAUNCHED, "i-0000000000000000a")


def other(state="running", offset_seconds=-3600, instance_id="i-0000000000000000b") -> Instance:
    return instance(state, contract.BOOT_READY, LAUNCHED + timedelta(seconds=offset_seconds), instance_id)


@pytest.mark.parametrize("holder, expected, reason_fragment", [
    (None, "created", "nothing holds it"),
    (Holder("i-0000000000000000b", other(), blackholed=True), "replaced", "blackholed"),
    (Holder("i-0000000000000000b", None, blackholed=True), "replaced", "blackholed"),
    (Holder("igw-0123456789abcdef0", None), "replaced", "igw-0123456789abcdef0 is not a live instance"),
    (Holder("eni-0123456789abcdef0", None), "replaced", "not a live instance"),
    (Holder("i-0000000000000000a", OURS), "unchanged", "already this instance"),
    (Holder("i-0000000000000000b", other("stopped", offset_seconds=+60)), "replaced", "is stopped"),
    (Holder("i-0000000000000000b", other("terminated", offset_seconds=+60)), "replaced", "is terminated"),
    (Holder("i-0000000000000000b", other("running", offset_seconds=+60)), "skipped", "newer running instance"),
    (Holder("i-0000000000000000b", other("running", offset_seconds=-60)), "replaced", "older running instance"),
], ids=["nothing", "blackholed", "blackholed-no-instance", "igw", "eni-only", "same-instance", "owner-stopped",
        "owner-terminated", "newer-running", "older-running"])
def test_plan_takeover(holder, expected, reason_fragment):
    action, reason = plan_takeover(holder, OURS)
    assert action == expected
    assert reason_fragment in reason


def test_same_instance_is_unchanged_even_with_a_stale_snapshot():
    # The holder's snapshot of this instance may differ (e.g. taken before it tagged itself ready).
    stale = dataclasses.replace(OURS, boot_state=None, state="pending")
    assert plan_takeover(Holder(OURS.instance_id, stale), OURS)[0] == "unchanged"


STATES = ("pending", "running", "shutting-down", "terminated", "stopping", "stopped")
OFFSETS = (-86_400, -60, -1, 1, 60, 86_400)


@pytest.mark.parametrize("our_state", STATES)
def test_never_take_over_from_a_newer_running_instance(our_state):
    """Property: whatever we are and whatever the holder's target, a newer running owner is left alone."""
    ours = dataclasses.replace(OURS, state=our_state)
    for offset, target, boot_state in itertools.product(
            OFFSETS, ("i-0000000000000000b", "eni-0123456789abcdef0"), (None, "ready", "failed")):
        owner = dataclasses.replace(other("running", offset_seconds=0), boot_state=boot_state,
                                    launch_time=ours.launch_time + timedelta(seconds=abs(offset)))
        action, reason = plan_takeover(Holder(target, owner), ours)
        assert action not in ("replaced", "created"), (offset, target, boot_state, reason)
        assert action == "skipped"


def test_every_outcome_is_one_of_the_four():
    owners = [None] + [other(state, offset) for state in STATES for offset in OFFSETS] + [OURS]
    for owner, blackholed in itertools.product(owners, (False, True)):
        holders = [None, Holder("i-x", owner, blackholed)]
        for holder in holders:
            action, reason = plan_takeover(holder, OURS)
            assert action in {"created", "replaced", "unchanged", "skipped"}
            assert reason
            if action == "skipped":
                assert owner.state == "running" and owner.launch_time > OURS.launch_time and not blackholed


# --- load_settings ----------------------------------------------------------------------------------------

VALID_ENV = {
    contract.ENV_ROUTE_TABLE_IDS: " rtb-0123456789abcdef0, rtb-0fedcba9876543210 ,rtb-0123456789abcdef0,, ",
    contract.ENV_GROUP_NAME: f" {GROUP} ",
    contract.ENV_HOOK_NAME: HOOK,
    contract.ENV_EIP_ALLOCATION_ID: "eipalloc-0123456789abcdef0",
    contract.ENV_READY_TIMEOUT: "240",
    contract.ENV_POLL_INTERVAL: "5",
    "AWS_REGION": "eu-central-1",
}


def test_load_settings():
    assert load_settings(VALID_ENV) == Settings(
        route_table_ids=("rtb-0123456789abcdef0", "rtb-0fedcba9876543210"),
        group_name=GROUP,
        hook_name=HOOK,
        eip_allocation_id="eipalloc-0123456789abcdef0",
        ready_timeout_seconds=240,
        poll_interval_seconds=5,
    )


def test_load_settings_with_one_short_route_table_id():
    settings = load_settings({**VALID_ENV, contract.ENV_ROUTE_TABLE_IDS: "rtb-01234567"})
    assert settings.route_table_ids == ("rtb-01234567",)


@pytest.mark.parametrize("name, value", [
    (contract.ENV_ROUTE_TABLE_IDS, None),
    (contract.ENV_ROUTE_TABLE_IDS, ""),
    (contract.ENV_ROUTE_TABLE_IDS, " , ,"),
    (contract.ENV_ROUTE_TABLE_IDS, "rtb-0123456789abcdef0,subnet-0123456789abcdef0"),
    (contract.ENV_ROUTE_TABLE_IDS, "rtb-XYZ"),
    (contract.ENV_ROUTE_TABLE_IDS, "rtb-0123456789ABCDEF0"),
    (contract.ENV_ROUTE_TABLE_IDS, "rtb-0123456789abcdef0 rtb-0fedcba9876543210"),
    (contract.ENV_EIP_ALLOCATION_ID, None),
    (contract.ENV_EIP_ALLOCATION_ID, ""),
    (contract.ENV_EIP_ALLOCATION_ID, "eip-0123456789abcdef0"),
    (contract.ENV_EIP_ALLOCATION_ID, "3.120.0.1"),
    (contract.ENV_GROUP_NAME, None),
    (contract.ENV_GROUP_NAME, "   "),
    (contract.ENV_HOOK_NAME, None),
    (contract.ENV_HOOK_NAME, ""),
    (contract.ENV_READY_TIMEOUT, None),
    (contract.ENV_READY_TIMEOUT, "0"),
    (contract.ENV_READY_TIMEOUT, "-5"),
    (contract.ENV_READY_TIMEOUT, "1.5"),
    (contract.ENV_READY_TIMEOUT, "four minutes"),
    (contract.ENV_POLL_INTERVAL, None),
    (contract.ENV_POLL_INTERVAL, "0"),
    (contract.ENV_POLL_INTERVAL, "5s"),
])
def test_invalid_setting(name, value):
    environ = {k: v for k, v in VALID_ENV.items() if k != name}
    if value is not None:
        environ[name] = value
    with pytest.raises(ConfigurationError) as error:
        load_settings(environ)
    message = str(error.value)
    assert f"{name}={value!r}" in message
    assert "allowed:" in message
    assert isinstance(error.value, ValueError)


def test_event_time_without_zone_is_read_as_utc():
    action = parse_event({**launch_event(), "time": "2026-01-01T12:00:05"})
    assert action.event_time == datetime(2026, 1, 1, 12, 0, 5, tzinfo=timezone.utc)


def test_same_second_launches_are_ordered_by_instance_id_so_only_one_takes_over():
    first, second = instance(instance_id="i-0aaaaaaaaaaaaaaaa"), instance(instance_id="i-0bbbbbbbbbbbbbbbb")
    decisions = {plan_takeover(Holder(second.instance_id, second), first)[0],
                 plan_takeover(Holder(first.instance_id, first), second)[0]}
    assert decisions == {"skipped", "replaced"}


def test_non_ascii_digits_are_not_a_number_of_seconds():
    env = {"ROUTE_TABLE_IDS": "rtb-0123456789abcdef0", "AUTO_SCALING_GROUP_NAME": "g", "LIFECYCLE_HOOK_NAME": "h",
           "EIP_ALLOCATION_ID": "eipalloc-0123456789abcdef0", "READY_TIMEOUT_SECONDS": "²",
           "POLL_INTERVAL_SECONDS": "5"}
    with pytest.raises(ConfigurationError, match="READY_TIMEOUT_SECONDS"):
        load_settings(env)
