"""Fast tests of the smoke checkers' pure comparison helpers (no emulator, no cdk)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from local_emulator.assembly import StackArtifact
from local_emulator.smoke.compute import kept_images, queue_attributes, strategy_environment, task_families
from local_emulator.smoke.model import Findings, StackView, named, optional
from local_emulator.smoke.persistent import (
    blocks_all_public_access,
    described_key_text,
    expected_lifecycle,
    index_text,
    key_text,
    lifecycle_rules,
)
from tradai_cdk.config import config_for
from tradai_cdk.config.model import BucketSpec, KeyAttribute, QueueSpec, TaskSpec

CFG = config_for("dev")


def _kinds(findings: Findings) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in findings.items]


def test_applied_verifies_only_what_the_emulator_shows_and_else_compares_the_template():
    findings = Findings()
    findings.applied("T", "TTL attribute", "ttl", "ttl", "ttl")  # kept and right
    findings.applied("T", "TTL attribute", "ttl", "expires", "ttl")  # kept and wrong
    findings.applied("T", "TTL attribute", "ttl", None, "ttl")  # dropped, template right
    findings.applied("T", "TTL attribute", "ttl", None, "expires")  # dropped, template wrong
    findings.applied("T", "PITR", False, False, False, unset=False)  # default answer: never verified

    assert _kinds(findings) == [
        ("ok", "TTL attribute ttl"),
        ("fail", "TTL attribute: expected ttl, got expires"),
        ("not_kept", "TTL attribute (template 'ttl', not applied by moto)"),
        ("fail", "TTL attribute in the template: expected ttl, got expires"),
        ("not_kept", "PITR (template False, not applied by moto)"),
    ]


def test_matches_checks_a_subset_and_names_only_the_differences():
    findings = Findings()
    assert findings.matches("Q", "attributes", {"FifoQueue": "true"}, {"FifoQueue": "true", "Other": "1"})
    assert not findings.matches("Q", "attributes", {"FifoQueue": "true", "VisibilityTimeout": "900"},
                                {"FifoQueue": "true", "VisibilityTimeout": "30"})

    assert _kinds(findings) == [
        ("ok", "attributes FifoQueue=true"),
        ("fail", "attributes: expected {'VisibilityTimeout': '900'}, got {'VisibilityTimeout': '30'}"),
    ]


def test_named_reports_missing_only_what_no_template_resource_declares():
    template = {"Resources": {
        "Created": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "a"}},
        "NotCreated": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "b"}},
        "Other": {"Type": "AWS::SNS::Topic", "Properties": {"QueueName": "c"}},
    }}
    view = StackView(StackArtifact("Compute", "tradai-compute-dev", template, Path(".")), {"Created": "url-a"})
    findings = Findings()

    found = named(view, findings, "AWS::SQS::Queue", "QueueName", ["a", "b", "c"])

    assert {name: r.physical_id for name, r in found.items()} == {"a": "url-a"}
    assert _kinds(findings) == [("missing", "AWS::SQS::Queue with QueueName c")]


def test_optional_turns_only_the_named_error_into_none():
    def call(code):
        raise ClientError({"Error": {"Code": code, "Message": "x"}}, "GetThing")

    assert optional(call, "NoSuchThing", code="NoSuchThing") is None
    with pytest.raises(ClientError):
        optional(call, "NoSuchThing", code="AccessDenied")
    assert optional(lambda **kw: kw, "NoSuchThing", a=1) == {"a": 1}


def test_key_and_index_texts_read_the_config_and_describe_table_alike():
    schema = [{"AttributeName": "config_id", "KeyType": "RANGE"}, {"AttributeName": "strategy_name", "KeyType": "HASH"}]
    types = {"strategy_name": "S", "config_id": "S"}

    assert described_key_text(schema, types) == key_text(KeyAttribute("strategy_name"), KeyAttribute("config_id"))
    assert key_text(KeyAttribute("run_id")) == "run_id:S"
    assert index_text("trace_id:S", "INCLUDE", ("status", "job_id")) == index_text("trace_id:S", "INCLUDE",
                                                                                    ["job_id", "status"])
    assert index_text("k:S", "ALL") == "k:S ALL"


def test_lifecycle_rules_read_template_and_api_spellings_like_the_bucket_entry():
    spec = BucketSpec("results", "r", versioned=True, glacier_after_days=30, expire_after_days=90)
    template = [{"Id": "glacier", "Status": "Enabled", "Transitions": [{"StorageClass": "GLACIER",
                                                                        "TransitionInDays": 30}]},
                {"Id": "expire", "Status": "Enabled", "ExpirationInDays": 90},
                {"Id": "off", "Status": "Disabled", "ExpirationInDays": 1}]
    api = [{"ID": "glacier", "Status": "Enabled", "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]},
           {"ID": "expire", "Status": "Enabled", "Expiration": {"Days": 90}}]

    assert lifecycle_rules(template) == lifecycle_rules(api) == expected_lifecycle(spec)
    assert expected_lifecycle(dataclasses.replace(spec, glacier_after_days=None, expire_after_days=None)) == []


def test_public_access_block_needs_all_four_flags():
    flags = {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
             "RestrictPublicBuckets": True}

    assert blocks_all_public_access(flags) is True
    assert blocks_all_public_access({**flags, "RestrictPublicBuckets": False}) is False
    assert blocks_all_public_access(None) is None


def test_task_families_do_not_repeat_the_strategy_prefix():
    cfg = dataclasses.replace(CFG, on_demand_tasks=(TaskSpec("strategy-container", 1, 2, "FARGATE", "strategy"),
                                                    TaskSpec("live-trading", 1, 2, "FARGATE", "strategy")))

    families = task_families(cfg)

    assert {"strategy-container-dev", "strategy-live-trading-dev"} <= set(families)
    assert {cfg.naming.name(s.name) for s in cfg.services} <= set(families)


def test_strategy_environment_points_at_the_configured_resources():
    env = strategy_environment(CFG)
    mlflow = CFG.service("mlflow")

    assert dict(CFG.compute.strategy_env_defaults).items() <= env.items()
    assert env["DYNAMODB_TABLE"] in {CFG.naming.name(t.key) for t in CFG.tables}
    assert {env["S3_RESULTS_BUCKET"], env["ARCTICDB_S3_URI"].removeprefix("s3://")} <= {
        CFG.naming.name(b.component) for b in CFG.buckets}
    assert env["MLFLOW_TRACKING_URI"] == (f"http://{mlflow.name}.{CFG.namespace}:{mlflow.port}"
                                          f"{CFG.compute.mlflow_base_path}")


def test_queue_attributes_spell_a_queue_entry_as_sqs_answers():
    fifo = QueueSpec("q", fifo=True, retention_seconds=60, content_based_deduplication=True,
                     visibility_timeout_seconds=900, receive_wait_seconds=20, max_receive_count=3)

    assert queue_attributes(fifo) == {"MessageRetentionPeriod": "60", "VisibilityTimeout": "900",
                                      "ReceiveMessageWaitTimeSeconds": "20", "FifoQueue": "true",
                                      "ContentBasedDeduplication": "true"}
    assert queue_attributes(QueueSpec("s", fifo=False, retention_seconds=60)) == {"MessageRetentionPeriod": "60"}


def test_kept_images_reads_the_count_rule_of_a_lifecycle_policy():
    policy = json.dumps({"rules": [
        {"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed"}},
        {"rulePriority": 2, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20}},
    ]})

    assert kept_images(policy) == 20
    assert kept_images(None) is None
