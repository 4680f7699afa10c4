"""A CloudTrail trail into an existing bucket, with log file validation, also delivered to CloudWatch Logs."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudtrail as cloudtrail, aws_iam as iam, aws_logs as logs
from constructs import Construct


class AuditTrail(Construct):
    """Management events of every region into ``bucket_name``/``prefix`` (the bucket's policy must allow
    CloudTrail) and into the log group ``/aws/cloudtrail/<trail_name>``, searchable and alarmable there."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        trail_name: str,
        bucket_name: str,
        prefix: str,
        log_retention: logs.RetentionDays,
    ):
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/cloudtrail/{trail_name}",
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "LogsRole",
            assumed_by=iam.ServicePrincipal("cloudtrail.amazonaws.com"),
            description=f"{trail_name}: delivers events to its CloudWatch Logs group",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],  # the group and its streams (ARN ends with :*)
            )
        )
        self.trail = cloudtrail.CfnTrail(
            self,
            "Trail",
            trail_name=trail_name,
            is_logging=True,
            s3_bucket_name=bucket_name,
            s3_key_prefix=prefix,
            enable_log_file_validation=True,
            include_global_service_events=True,
            is_multi_region_trail=True,
            cloud_watch_logs_log_group_arn=self.log_group.log_group_arn,
            cloud_watch_logs_role_arn=role.role_arn,
        )
        self.trail.node.add_dependency(role)
