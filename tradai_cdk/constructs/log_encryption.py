"""One customer managed key for every CloudWatch Logs log group of an environment (Control Tower CT.CLOUDWATCH.PR.3)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam, aws_logs as logs
from constructs import Construct, IConstruct

from .customer_key import customer_key

# What CloudWatch Logs needs to encrypt and read a log group's data with a customer managed key.
LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")


class LogEncryption(Construct):
    """The key, usable by CloudWatch Logs only for this account's log groups in this region, and
    :meth:`encrypt_log_groups`, which puts every log group under a scope on it (including those in other stacks)."""

    def __init__(self, scope: Construct, construct_id: str, *, alias: str, removal_policy: cdk.RemovalPolicy):
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.key = customer_key(
            self,
            "Key",
            description="Encrypts the environment's CloudWatch Logs log groups",
            alias=alias,
            removal_policy=removal_policy,
        )
        log_groups = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogs",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=list(LOGS_KEY_ACTIONS),
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
            )
        )

    def encrypt_log_groups(self, scope: IConstruct) -> None:
        """Encrypt with this key every log group under ``scope`` that has no key of its own; call it once ``scope``
        is built. A walk rather than an aspect: a Python aspect costs a node-to-Python call for every construct of
        the app at synth (~3,200 calls, ~1.3 s per synth). A log group added later stays unencrypted, which the
        Control Tower rule CT.CLOUDWATCH.PR.3 fails at synth."""
        key_arn = self.key.key_arn
        for node in scope.node.find_all():
            if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
                node.kms_key_id = key_arn
