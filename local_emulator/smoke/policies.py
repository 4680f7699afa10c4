"""Every stack: each queue, bucket and topic policy, read back from its resource, denies every principal
any access without TLS, and allows only AWS services acting for this account or one of the project's
resources (the NAT launch rule feeding its DLQ, the buckets and trail logging into the logs bucket) and the
region's ALB log delivery writing this account's logs."""

from __future__ import annotations

import json
import re
from typing import Any

from .. import ACCOUNT, REGION
from .model import CheckContext, Findings, StackView

ELB_LOG_DELIVERY = {"eu-central-1": "054676820928"}  # AWS's account delivering ALB access logs, per region


def _statements(policy: Any) -> list[dict]:
    return json.loads(policy)["Statement"] if policy else []


def _denies_plain_http(statements: list[dict]) -> bool:
    return any(
        s["Effect"] == "Deny"
        and s.get("Principal") in ("*", {"AWS": "*"})
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in statements
    )


def _foreign_grants(statements: list[dict], project: str) -> list[str]:
    """Allow statements not limited to an AWS service acting for a project resource of this account."""
    return [json.dumps(s)[:160] for s in statements if s["Effect"] == "Allow" and not _for_project(s, project)]


def _for_project(statement: dict, project: str) -> bool:
    """An AWS service acting for this account (its SourceAccount, or a SourceArn of a project resource), or
    the region's ELB log-delivery account writing only this account's ALB logs."""
    conditions, principal = statement.get("Condition", {}), statement.get("Principal")
    if principal == {"AWS": f"arn:aws:iam::{ELB_LOG_DELIVERY[REGION]}:root"}:
        resources = statement.get("Resource") or []
        return all(f"/AWSLogs/{ACCOUNT}/" in r for r in ([resources] if isinstance(resources, str) else resources))
    sources = [v for test in conditions.values() for k, v in test.items() if k == "aws:SourceArn"]
    accounts = [v for test in conditions.values() for k, v in test.items() if k == "aws:SourceAccount"]
    return (
        isinstance(principal, dict)
        and "Service" in principal
        and bool(sources or accounts)
        and all(re.search(rf"[:/]{project}-", source) for source in sources)
        and all(account == ACCOUNT for account in accounts)
    )


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    read = {
        "AWS::SQS::QueuePolicy": ("Queues", lambda url: _queue_policy(ctx, url)),
        "AWS::S3::BucketPolicy": ("Bucket", lambda bucket: _bucket_policy(ctx, bucket)),
        "AWS::SNS::TopicPolicy": (
            "Topics",
            lambda arn: ctx.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy"),
        ),
    }
    project = ctx.cfg.naming.project
    for resource_type, (target_property, policy_of) in read.items():
        for policy in view.of_type(resource_type):
            targets = policy.properties[target_property]
            for target in [targets] if not isinstance(targets, list) else targets:
                name = view.resolve(target)
                statements = _statements(policy_of(name))
                label = str(name).rsplit("/", 1)[-1].rsplit(":", 1)[-1]
                findings.holds(policy.logical_id, f"{label} denies access without TLS", _denies_plain_http(statements))
                findings.expect(
                    policy.logical_id,
                    f"{label} grants beyond project services",
                    [],
                    _foreign_grants(statements, project),
                )


def _queue_policy(ctx: CheckContext, url: str) -> str | None:
    sqs = ctx.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=url.rstrip("/").split("/")[-1])["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"].get("Policy")


def _bucket_policy(ctx: CheckContext, bucket: str) -> str | None:
    return ctx.client("s3").get_bucket_policy(Bucket=bucket)["Policy"]
