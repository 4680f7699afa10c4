"""infra-drift-detector against moto's CloudFormation stacks (drift detection stubbed), DynamoDB and SNS."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from operations import contract, infra_drift
from operations.common import IncompleteRun
from shared.settings import SettingsError

from .operations_fixtures import (DRIFT_TABLE, STACKS, Context, StackDrift, cold_start, drift_env,  # noqa: F401
                                  emf_metrics, ops_env, ops_logs, resource_drift, scheduled_event)

FOUNDATION, COMPUTE = STACKS


@dataclass
class FakeClock:
    """time.monotonic and time.sleep of the detector: sleeping advances the clock at once."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def detect(remaining_ms: int = 300_000, clock: FakeClock | None = None):
    detector = infra_drift.detector()
    clock = clock or FakeClock()
    detector.monotonic, detector.sleep = clock.monotonic, clock.sleep
    return infra_drift.handler(scheduled_event("tradai-infra-drift-detector-dev-schedule"),
                               Context("tradai-infra-drift-detector-dev", remaining_ms=remaining_ms))


def record(env, stack: str) -> dict:
    return env.item(DRIFT_TABLE, stack_name=stack)


def calls(drift, operation: str) -> list[dict]:
    return [body for name, body in drift.calls if name == operation]


def test_stacks_in_sync_are_recorded_without_a_notice(ops_env, drift_env, capsys):
    drift_env.stacks[FOUNDATION] = StackDrift(polls=3)  # in progress twice

    clock = FakeClock()
    assert detect(clock=clock) == {"stacks": {FOUNDATION: "IN_SYNC", COMPUTE: "IN_SYNC"}, "new_drift": []}

    assert calls(drift_env, "DetectStackDrift") == [{"StackName": FOUNDATION}, {"StackName": COMPUTE}]
    polled = [body["StackDriftDetectionId"] for body in calls(drift_env, "DescribeStackDriftDetectionStatus")]
    assert len(polled) == 4 and set(polled) == set(drift_env.detections)
    assert clock.sleeps == [5.0, 5.0]
    assert calls(drift_env, "DescribeStackResourceDrifts") == []
    item = record(ops_env, FOUNDATION)
    assert (item["drift_status"], item["has_drift"], item["drifted_resources"]) == ("IN_SYNC", "false", [])
    assert item["detection_id"] in drift_env.detections and item["last_check"].endswith("Z")
    assert "expires_at" not in item and "ttl" not in item and "error" not in item
    in_sync = ops_env.dynamodb.query(TableName=DRIFT_TABLE, IndexName=contract.DRIFT_INDEX,
                                     KeyConditionExpression="has_drift = :f",
                                     ExpressionAttributeValues={":f": {"S": "false"}})["Items"]
    assert len(in_sync) == 2
    assert ops_env.notifications() == {} and ops_env.alerts() == []
    assert [value for name, value, _ in emf_metrics(capsys) if name == "DriftedStacks"] == [0]


def test_new_drift_alerts_once_more_drift_alerts_again_and_back_in_sync_is_a_notice(ops_env, drift_env, capsys):
    group = resource_drift(FOUNDATION, "AlbSecurityGroup", paths=("/SecurityGroupIngress/0/CidrIp", "/Tags"))
    bucket = resource_drift(FOUNDATION, "LogsBucket", "AWS::S3::Bucket", status="DELETED")
    drift_env.stacks[FOUNDATION] = StackDrift(resources=[group, bucket])

    assert detect() == {"stacks": {FOUNDATION: "DRIFTED", COMPUTE: "IN_SYNC"}, "new_drift": [FOUNDATION]}

    [listing] = calls(drift_env, "DescribeStackResourceDrifts")
    assert listing["StackName"] == FOUNDATION
    assert [listing[k] for k in sorted(listing) if k.startswith("StackResourceDriftStatusFilters")] == [
        "MODIFIED", "DELETED"]
    item = record(ops_env, FOUNDATION)
    assert (item["drift_status"], item["has_drift"]) == ("DRIFTED", "true")
    assert item["drifted_resources"] == [
        {"logical_id": "AlbSecurityGroup", "resource_type": "AWS::EC2::SecurityGroup", "status": "MODIFIED",
         "differences": ["/SecurityGroupIngress/0/CidrIp", "/Tags"]},
        {"logical_id": "LogsBucket", "resource_type": "AWS::S3::Bucket", "status": "DELETED", "differences": []}]
    [alert] = ops_env.alerts()
    assert alert["Subject"] == f"TradAI drift in {FOUNDATION}: 2 new drifted resource(s)"
    assert "AlbSecurityGroup (AWS::EC2::SecurityGroup) MODIFIED: /SecurityGroupIngress/0/CidrIp, /Tags" in \
        alert["Message"]
    assert [value for name, value, _ in emf_metrics(capsys) if name == "DriftedStacks"] == [1]

    assert detect()["new_drift"] == []  # the same drift: no second alert
    assert ops_env.alerts() == []

    drift_env.stacks[FOUNDATION].resources.append(resource_drift(FOUNDATION, "NatRole", "AWS::IAM::Role"))
    assert detect()["new_drift"] == [FOUNDATION]
    [more] = ops_env.alerts()
    assert more["Subject"] == f"TradAI drift in {FOUNDATION}: 1 new drifted resource(s)"
    assert "New:\n- NatRole" in more["Message"] and "Drifted before:\n- AlbSecurityGroup" in more["Message"]

    drift_env.stacks[FOUNDATION].resources[:] = [group]
    assert detect()["new_drift"] == []  # less drift: nothing new
    drift_env.stacks[FOUNDATION].resources.clear()
    assert detect()["stacks"][FOUNDATION] == "IN_SYNC"
    assert ops_env.alerts() == []  # a notice, not an alert
    in_sync = [n for n in ops_env.notifications().values() if n["subject"] == f"TradAI {FOUNDATION} back in sync"]
    assert len(in_sync) == 1 and in_sync[0]["alert"] is False and "AlbSecurityGroup" in in_sync[0]["message"]
    detect()
    assert len(ops_env.notifications()) == 3

    drift_env.stacks[FOUNDATION].resources.append(group)  # the same drift again later: a new incident
    assert detect()["new_drift"] == [FOUNDATION]
    assert len(ops_env.alerts()) == 1


def test_drift_only_on_runtime_managed_resources_is_in_sync(ops_env, drift_env):
    ops_env.set_env(RUNTIME_MANAGED=f"{FOUNDATION}/PrivateRouteTable, {COMPUTE}/Other")
    drift_env.stacks[FOUNDATION] = StackDrift(resources=[
        resource_drift(FOUNDATION, "PrivateRouteTable", "AWS::EC2::RouteTable", paths=("/Routes",))])

    assert detect() == {"stacks": {FOUNDATION: "IN_SYNC", COMPUTE: "IN_SYNC"}, "new_drift": []}

    item = record(ops_env, FOUNDATION)
    assert (item["has_drift"], item["drifted_resources"]) == ("false", [])
    assert [r["logical_id"] for r in item["ignored_resources"]] == ["PrivateRouteTable"]
    assert ops_env.notifications() == {}


def test_every_page_of_resource_drifts_is_read(ops_env, drift_env):
    drift_env.page_size = 2
    drift_env.stacks[COMPUTE] = StackDrift(resources=[resource_drift(COMPUTE, f"Queue{i}", "AWS::SQS::Queue")
                                                      for i in range(5)])

    detect()

    assert [body.get("NextToken") for body in calls(drift_env, "DescribeStackResourceDrifts")] == [None, "2", "4"]
    assert len(record(ops_env, COMPUTE)["drifted_resources"]) == 5


def test_failed_detection_is_recorded_unknown_keeps_the_known_drift_and_fails_the_run(ops_env, drift_env, ops_logs):
    drift_env.stacks[FOUNDATION] = StackDrift(resources=[resource_drift(FOUNDATION, "AlbSecurityGroup")])
    detect()
    assert len(ops_env.alerts()) == 1
    drift_env.stacks[FOUNDATION] = StackDrift(detection_status="DETECTION_FAILED",
                                              reason="Failed to detect drift on resource [NatRole]: Access denied")

    with pytest.raises(IncompleteRun, match=f"1 stacks not handled: {FOUNDATION}"):
        detect()

    item = record(ops_env, FOUNDATION)
    assert item["drift_status"] == "UNKNOWN" and item["has_drift"] == "true"
    assert item["error"] == ("drift detection DETECTION_FAILED: Failed to detect drift on resource [NatRole]: "
                             "Access denied")
    assert [r["logical_id"] for r in item["drifted_resources"]] == ["AlbSecurityGroup"]  # last known
    assert record(ops_env, COMPUTE)["drift_status"] == "IN_SYNC"  # the other stack is recorded
    assert any(r.levelname == "ERROR" for r in ops_logs.records)

    drift_env.stacks[FOUNDATION] = StackDrift(resources=[resource_drift(FOUNDATION, "AlbSecurityGroup")])
    assert detect()["new_drift"] == []  # known drift is not new after an unknown run
    assert ops_env.alerts() == []


def test_missing_stack_is_unknown_and_the_others_are_recorded(ops_env, drift_env):
    ops_env.set_env(STACK_NAMES=f"{FOUNDATION},tradai-edge-dev")

    with pytest.raises(IncompleteRun, match="tradai-edge-dev"):
        detect()

    item = record(ops_env, "tradai-edge-dev")
    assert (item["drift_status"], item["has_drift"], item["detection_id"]) == ("UNKNOWN", "false", None)
    assert item["error"] == "DetectStackDrift failed: ValidationError: Stack with id tradai-edge-dev does not exist"
    assert record(ops_env, FOUNDATION)["drift_status"] == "IN_SYNC"


@pytest.mark.parametrize("timeout, remaining_ms, budget", [("240", 42_000, 12), ("20", 300_000, 20)])
def test_detection_that_does_not_finish_in_time_is_unknown(ops_env, drift_env, timeout, remaining_ms, budget):
    ops_env.set_env(DETECTION_TIMEOUT_SECONDS=timeout)
    drift_env.stacks[COMPUTE] = StackDrift(polls=10**6)
    clock = FakeClock()

    with pytest.raises(IncompleteRun, match=COMPUTE):
        detect(remaining_ms, clock)

    assert clock.now - 1000 == pytest.approx(budget)
    assert max(clock.sleeps) <= 5.0
    item = record(ops_env, COMPUTE)
    assert item["drift_status"] == "UNKNOWN"
    assert item["error"] == f"drift detection {item['detection_id']} did not finish within {budget} s"
    assert record(ops_env, FOUNDATION)["drift_status"] == "IN_SYNC"


def test_throttled_status_reads_make_the_stack_unknown(ops_env, drift_env):
    drift_env.stacks[COMPUTE] = StackDrift(polls=2)
    answered = ops_env.fail("cloudformation", "DescribeStackDriftDetectionStatus", "Throttling", first=True)

    with pytest.raises(IncompleteRun, match="Throttling"):
        detect()

    assert answered == [1]
    errors = {stack: record(ops_env, stack).get("error") for stack in STACKS}
    assert [e for e in errors.values() if e] == ["reading the drift detection failed: Throttling: "
                                                 "injected DescribeStackDriftDetectionStatus failure"]


def test_record_write_failure_fails_the_run_after_the_other_stacks(ops_env, drift_env):
    ops_env.fail("dynamodb", "PutItem", "InternalServerError",
                 when=lambda body: body.get("TableName") == DRIFT_TABLE and
                 body["Item"]["stack_name"] == {"S": FOUNDATION})

    with pytest.raises(IncompleteRun, match=f"{FOUNDATION}: InternalServerError"):
        detect()

    assert record(ops_env, FOUNDATION) is None
    assert record(ops_env, COMPUTE)["drift_status"] == "IN_SYNC"


def test_alert_lost_to_a_publish_error_is_sent_by_the_next_run_exactly_once(ops_env, drift_env):
    ops_env.fail("sns", "Publish", "InternalErrorException")
    infra_drift.detector.cache_clear()
    drift_env.stacks[FOUNDATION] = StackDrift(resources=[resource_drift(FOUNDATION, "AlbSecurityGroup")])

    with pytest.raises(IncompleteRun, match="InternalErrorException"):
        detect()

    assert contract.ATTR_PENDING_NOTICE in record(ops_env, FOUNDATION)
    assert ops_env.alerts() == []
    assert detect()["new_drift"] == []
    assert len(ops_env.alerts()) == 1
    assert contract.ATTR_PENDING_NOTICE not in record(ops_env, FOUNDATION)


@pytest.mark.parametrize("changes, variable", [
    ({"STACK_NAMES": None}, "STACK_NAMES"),
    ({"STACK_NAMES": "tradai_foundation_dev"}, "STACK_NAMES"),
    ({"RUNTIME_MANAGED": "PrivateRouteTable"}, "RUNTIME_MANAGED"),
    ({"RUNTIME_MANAGED": "tradai-edge-dev/PrivateRouteTable"}, "RUNTIME_MANAGED"),
    ({"RUNTIME_MANAGED": f"{FOUNDATION}/Private-RT"}, "RUNTIME_MANAGED"),
    ({"DETECTION_TIMEOUT_SECONDS": "0"}, "DETECTION_TIMEOUT_SECONDS"),
    ({"DETECTION_TIMEOUT_SECONDS": "900"}, "DETECTION_TIMEOUT_SECONDS"),
    ({"INFRA_DRIFT_TABLE": None}, "INFRA_DRIFT_TABLE"),
    ({"NOTIFICATIONS_TABLE": "x"}, "NOTIFICATIONS_TABLE"),
])
def test_invalid_settings_name_the_variable_and_its_value(ops_env, changes, variable):
    ops_env.set_env(**changes)

    with pytest.raises(SettingsError) as raised:
        detect()

    assert raised.value.name == variable
    assert f"{variable}={changes[variable]!r}" in str(raised.value)


def test_defaults(ops_env):
    ops_env.set_env(DETECTION_TIMEOUT_SECONDS=None, RUNTIME_MANAGED=None)

    config = infra_drift.settings()
    assert (config.timeout_seconds, config.runtime_managed, config.stacks) == (240, frozenset(), STACKS)
