"""Fast tests of the strategy deployment drill's helpers and of harness patch 13 (Cloud Map in moto's
CloudFormation); no emulator server, no cdk."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
from moto import mock_aws

from local_emulator import patches
from local_emulator.drills.deployments import (RUN_OVERRIDES, container_environment, eni_attachment,
                                               first_failure, heartbeat_after, private_ip, trading_modes_override)
from local_emulator.drills.workflows import entered_states

NOW = datetime(2026, 12, 1, 6, 0, 0, 500_000, tzinfo=timezone.utc)


def test_heartbeat_is_now_but_always_after_the_slots_start():
    assert heartbeat_after("2026-12-01T05:59:00.000Z", NOW) == "2026-12-01T06:00:00.500Z"
    assert heartbeat_after("2026-12-01T06:00:00.500Z", NOW) == "2026-12-01T06:00:00.501Z"  # same ms: 1 ms later
    assert heartbeat_after("2026-12-01T06:00:09.000Z", NOW) == "2026-12-01T06:00:09.001Z"  # clock skew
    assert heartbeat_after(None, NOW) == "2026-12-01T06:00:00.500Z"


def test_container_environment_reads_the_strategy_containers_overrides_only():
    overrides = {"containerOverrides": [
        {"name": "sidecar", "environment": [{"name": "X", "value": "1"}]},
        {"name": "strategy", "environment": [{"name": n, "value": n.lower()} for n in RUN_OVERRIDES]}]}

    assert list(container_environment(overrides)) == list(RUN_OVERRIDES)
    assert container_environment(overrides)["TRADING_MODE"] == "trading_mode"
    assert container_environment({}) == {} and container_environment({"containerOverrides": [{"name": "strategy"}]}) == {}


def test_trading_modes_override_only_where_the_deployed_ids_differ():
    deployed = json.dumps({"dry-run": {"family": "dry-run-trading-dev", "capacity_provider": "FARGATE_SPOT",
                                       "discovery_service_id": "srv-aaa", "port": 8005},
                           "live": {"family": "live-trading-dev", "capacity_provider": "FARGATE",
                                    "discovery_service_id": "srv-bbb", "port": 8004}})

    assert trading_modes_override(deployed, {"dry-run": "srv-aaa", "live": "srv-bbb"}) == {}
    changed = json.loads(trading_modes_override(deployed, {"dry-run": "srv-ccc", "live": "srv-bbb"})["TRADING_MODES"])
    assert changed["dry-run"] == {"family": "dry-run-trading-dev", "capacity_provider": "FARGATE_SPOT",
                                  "discovery_service_id": "srv-ccc", "port": 8005}
    assert changed["live"]["discovery_service_id"] == "srv-bbb"


def test_private_ip_of_an_eni_attachment_and_the_attachment_the_drill_plays():
    eni = {"SubnetId": "subnet-1", "NetworkInterfaceId": "eni-1", "MacAddress": "m", "PrivateDnsName": "d",
           "PrivateIpAddress": "10.0.3.7"}

    assert private_ip([]) is None
    assert private_ip([{"type": "Other", "details": [{"name": "privateIPv4Address", "value": "1.2.3.4"}]}]) is None
    assert private_ip([{"type": "ElasticNetworkInterface", "details": [{"name": "subnetId", "value": "s"}]},
                       eni_attachment(eni)]) == "10.0.3.7"
    assert eni_attachment(eni)["status"] == "ATTACHED"


def _entered(name):
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}


def test_execution_history_states_and_first_failure():
    refused = [{"type": "ExecutionStarted"}, _entered("Begin"), _entered("Prepare"),
               {"type": "LambdaFunctionFailed", "lambdaFunctionFailedEventDetails": {"error": "AlreadyRunning"}},
               _entered("Abort"), {"type": "TaskFailed", "taskFailedEventDetails": {"error": "Later"}},
               _entered("DeploymentFailed")]

    assert entered_states(refused) == ["Begin", "Prepare", "Abort", "DeploymentFailed"]
    assert first_failure(refused) == ("Prepare", "AlreadyRunning")
    assert first_failure([_entered("Begin"), _entered("Deployed")]) is None


@pytest.fixture
def patched_cloudformation(monkeypatch):
    for owner, attribute, replacement in patches.PATCHES:
        monkeypatch.setattr(owner, attribute, replacement, raising=False)
    for record in (patches.FAULTS, patches.BLOCKED, patches.SKIPPED_OUTPUTS):
        record.clear()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        yield boto3.client("cloudformation", region_name="eu-central-1")


def test_patched_cloud_map_namespace_and_services_are_created_referenced_and_deleted(patched_cloudformation):
    cloudformation = patched_cloudformation
    namespace_id = {"Fn::GetAtt": ["Namespace", "Id"]}
    template = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Namespace": {"Type": "AWS::ServiceDiscovery::PrivateDnsNamespace", "Properties": {
            "Name": "tradai-dev.local", "Vpc": {"Ref": "Vpc"}, "Tags": [{"Key": "Application", "Value": "tradai"}]}},
        "DryRun": {"Type": "AWS::ServiceDiscovery::Service", "Properties": {
            "Name": "dry-run-trading", "NamespaceId": namespace_id,
            "DnsConfig": {"DnsRecords": [{"TTL": 10, "Type": "A"}], "NamespaceId": namespace_id,
                          "RoutingPolicy": "MULTIVALUE"}}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q", "Tags": [
            {"Key": "service", "Value": {"Fn::GetAtt": ["DryRun", "Id"]}},
            {"Key": "arn", "Value": {"Fn::GetAtt": ["DryRun", "Arn"]}},
            {"Key": "zone", "Value": {"Fn::GetAtt": ["Namespace", "HostedZoneId"]}}]}},
    }, "Outputs": {"Namespace": {"Value": {"Ref": "Namespace"}}}}

    cloudformation.create_stack(StackName="discovery", TemplateBody=json.dumps(template))

    assert patches.FAULTS == {} and patches.BLOCKED == {} and patches.SKIPPED_OUTPUTS == {}
    discovery = boto3.client("servicediscovery", region_name="eu-central-1")
    [namespace] = discovery.list_namespaces()["Namespaces"]
    [service] = discovery.list_services()["Services"]
    [output] = cloudformation.describe_stacks(StackName="discovery")["Stacks"][0]["Outputs"]
    assert (namespace["Name"], namespace["Type"], output["OutputValue"]) == ("tradai-dev.local", "DNS_PRIVATE",
                                                                            namespace["Id"])
    assert (service["Name"], service["DnsConfig"]["DnsRecords"]) == ("dry-run-trading", [{"TTL": 10, "Type": "A"}])
    assert discovery.get_service(Id=service["Id"])["Service"]["NamespaceId"] == namespace["Id"]
    zone = discovery.get_namespace(Id=namespace["Id"])["Namespace"]["Properties"]["DnsProperties"]["HostedZoneId"]
    sqs = boto3.client("sqs", region_name="eu-central-1")
    tags = sqs.list_queue_tags(QueueUrl=sqs.get_queue_url(QueueName="q")["QueueUrl"])["Tags"]
    assert tags == {"service": service["Id"], "arn": service["Arn"], "zone": zone}

    cloudformation.delete_stack(StackName="discovery")

    assert discovery.list_services()["Services"] == [] and discovery.list_namespaces()["Namespaces"] == []
