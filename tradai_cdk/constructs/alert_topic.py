"""An SNS topic for operational alerts: KMS-encrypted, TLS-only, publishable by CloudWatch alarms."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import (
    aws_cloudwatch as cloudwatch,
    aws_cloudwatch_actions as cw_actions,
    aws_iam as iam,
    aws_sns as sns,
    aws_sns_subscriptions as subscriptions,
)
from constructs import Construct

from .customer_key import customer_key


class AlertTopic(Construct):
    """The topic, its customer-managed key and an email subscription per address.

    CloudWatch cannot publish to a topic encrypted with the AWS managed ``alias/aws/sns`` key
    (its key policy cannot grant CloudWatch), hence a key of our own that grants it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic_name: str,
        emails: Sequence[str],
        removal_policy: cdk.RemovalPolicy,
    ):
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.key = customer_key(
            self,
            "Key",
            description=f"Encrypts the {topic_name} SNS topic",
            alias=f"alias/{topic_name}",
            removal_policy=removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.topic = sns.Topic(self, "Topic", topic_name=topic_name, master_key=self.key, enforce_ssl=True)
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.action: cloudwatch.IAlarmAction = cw_actions.SnsAction(self.topic)
