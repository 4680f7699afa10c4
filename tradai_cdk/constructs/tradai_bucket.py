"""An S3 bucket with TradAI's baseline: SSE-S3, no public access, TLS only, owner-enforced objects."""

from __future__ import annotations

from typing import Optional

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct


class TradaiBucket(Construct):
    """Bucket with optional versioning, Glacier transition, expiry and server access logging."""

    def __init__(self, scope: Construct, construct_id: str, *, bucket_name: str, versioned: bool,
                 removal_policy: cdk.RemovalPolicy, glacier_after_days: Optional[int] = None,
                 expire_after_days: Optional[int] = None, access_logs: Optional[s3.IBucket] = None):
        super().__init__(scope, construct_id)
        rules = []
        if glacier_after_days:
            rules.append(s3.LifecycleRule(id="glacier", transitions=[s3.Transition(
                storage_class=s3.StorageClass.GLACIER, transition_after=cdk.Duration.days(glacier_after_days))]))
        if expire_after_days:
            rules.append(s3.LifecycleRule(id="expire", expiration=cdk.Duration.days(expire_after_days)))
        self.bucket = s3.Bucket(
            self, "Bucket", bucket_name=bucket_name, versioned=versioned,
            encryption=s3.BucketEncryption.S3_MANAGED, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True, object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=rules or None, removal_policy=removal_policy,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"s3-access/{bucket_name}/" if access_logs else None)
