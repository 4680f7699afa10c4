"""Customer managed KMS keys: rotated, aliased, and granting nothing but AWS services acting for us."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam, aws_kms as kms
from constructs import Construct

PENDING_WINDOW = cdk.Duration.days(7)


def customer_key(
    scope: Construct, construct_id: str, *, description: str, alias: str, removal_policy: cdk.RemovalPolicy
) -> kms.Key:
    """A symmetric key with yearly rotation; the default key policy (account administrators) plus a deny of
    grants that are not for an AWS resource (Control Tower CT.KMS.PR.3), which RDS and SNS grants are."""
    key = kms.Key(
        scope,
        construct_id,
        description=description,
        alias=alias,
        enable_key_rotation=True,
        removal_policy=removal_policy,
        pending_window=PENDING_WINDOW,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyGrantsExceptForAwsServices",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
        )
    )
    return key
