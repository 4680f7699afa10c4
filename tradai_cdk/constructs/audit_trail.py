"""A CloudTrail trail into an existing bucket, with log file validation."""

from __future__ import annotations

from aws_cdk import aws_cloudtrail as cloudtrail
from constructs import Construct


class AuditTrail(Construct):
    """Management events of every region into ``bucket_name``/``prefix``; the bucket's policy must allow CloudTrail."""

    def __init__(self, scope: Construct, construct_id: str, *, trail_name: str, bucket_name: str, prefix: str):
        super().__init__(scope, construct_id)
        self.trail = cloudtrail.CfnTrail(
            self, "Trail", trail_name=trail_name, is_logging=True, s3_bucket_name=bucket_name, s3_key_prefix=prefix,
            enable_log_file_validation=True, include_global_service_events=True, is_multi_region_trail=True)
