"""An S3 bucket with TradAI's baseline: SSE-S3, no public access, TLS only, owner-enforced objects."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam, aws_s3 as s3
from constructs import Construct

READ_OBJECT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
WRITE_OBJECT_ACTIONS = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
BUCKET_READ_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation")


class TradaiBucket(Construct):
    """Bucket with optional versioning, Glacier transition, expiry and server access logging."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        versioned: bool,
        removal_policy: cdk.RemovalPolicy,
        glacier_after_days: int | None = None,
        expire_after_days: int | None = None,
        access_logs: s3.IBucket | None = None,
    ):
        super().__init__(scope, construct_id)
        self.bucket_name = bucket_name
        # Built from the physical name: consumers in other stacks need no cross-stack reference.
        self.bucket_arn = f"arn:{cdk.Stack.of(self).partition}:s3:::{bucket_name}"
        rules = []
        if glacier_after_days:
            rules.append(
                s3.LifecycleRule(
                    id="glacier",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER,
                            transition_after=cdk.Duration.days(glacier_after_days),
                        )
                    ],
                )
            )
        if expire_after_days:
            rules.append(s3.LifecycleRule(id="expire", expiration=cdk.Duration.days(expire_after_days)))
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            versioned=versioned,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=rules or None,
            removal_policy=removal_policy,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"s3-access/{bucket_name}/" if access_logs else None,
        )

    def objects_arn(self) -> str:
        return f"{self.bucket_arn}/*"

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """List the bucket and read its objects."""
        iam.Grant.add_to_principal(grantee=grantee, actions=list(BUCKET_READ_ACTIONS), resource_arns=[self.bucket_arn])
        iam.Grant.add_to_principal(
            grantee=grantee, actions=list(READ_OBJECT_ACTIONS), resource_arns=[self.objects_arn()]
        )

    def grant_read_write(self, grantee: iam.IGrantable) -> None:
        """Read, plus put and delete objects."""
        self.grant_read(grantee)
        iam.Grant.add_to_principal(
            grantee=grantee, actions=list(WRITE_OBJECT_ACTIONS), resource_arns=[self.objects_arn()]
        )
