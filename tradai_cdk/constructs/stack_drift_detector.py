"""CloudFormation drift detection of a set of stacks on a schedule (the spec's infrastructure drift detector).

Drift detection reads every resource of a stack with the caller's own permissions, so the function holds
read-only, configuration-level access (Describe/Get/List) to the services the stacks use — never data
reads such as s3:GetObject, dynamodb:GetItem or secretsmanager:GetSecretValue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambda_src.operations import contract

from .scheduled_function import ScheduledFunction
from .tradai_function import FunctionProps

DRIFT_ACTIONS = (
    "cloudformation:DetectStackDrift",
    "cloudformation:DetectStackResourceDrift",
    "cloudformation:DescribeStackResourceDrifts",
)
# What drift detection reads, per service of the stacks' resource types (configuration only).
CONFIGURATION_READ_ACTIONS = (
    "apigateway:GET",
    "application-autoscaling:Describe*",
    "autoscaling:Describe*",
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetEventSelectors",
    "cloudtrail:GetInsightSelectors",
    "cloudtrail:GetTrail",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:ListTags",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetDashboard",
    "cloudwatch:ListTagsForResource",
    "cognito-idp:DescribeUserPool",
    "cognito-idp:DescribeUserPoolClient",
    "cognito-idp:DescribeUserPoolDomain",
    "cognito-idp:GetUserPoolMfaConfig",
    "cognito-idp:ListTagsForResource",
    "dynamodb:DescribeContinuousBackups",
    "dynamodb:DescribeContributorInsights",
    "dynamodb:DescribeKinesisStreamingDestination",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:GetResourcePolicy",
    "dynamodb:ListTagsOfResource",
    "ec2:Describe*",
    "ecr:DescribeRepositories",
    "ecr:GetLifecyclePolicy",
    "ecr:GetRepositoryPolicy",
    "ecr:ListTagsForResource",
    "ecs:DescribeCapacityProviders",
    "ecs:DescribeClusters",
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTagsForResource",
    "elasticloadbalancing:Describe*",
    "events:DescribeRule",
    "events:ListTagsForResource",
    "events:ListTargetsByRule",
    "iam:GetInstanceProfile",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
    "iam:ListRolePolicies",
    "iam:ListRoleTags",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListResourceTags",
    "lambda:GetEventSourceMapping",
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:GetFunctionEventInvokeConfig",
    "lambda:GetPolicy",
    "lambda:ListTags",
    "logs:DescribeLogGroups",
    "logs:DescribeMetricFilters",
    "logs:DescribeSubscriptionFilters",
    "logs:ListTagsForResource",
    "logs:ListTagsLogGroup",
    "rds:DescribeDBClusters",
    "rds:DescribeDBInstances",
    "rds:DescribeDBParameterGroups",
    "rds:DescribeDBParameters",
    "rds:DescribeDBSubnetGroups",
    "rds:ListTagsForResource",
    "s3:GetBucket*",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:GetAccelerateConfiguration",
    "s3:GetIntelligentTieringConfiguration",
    "s3:GetAnalyticsConfiguration",
    "s3:GetInventoryConfiguration",
    "s3:GetMetricsConfiguration",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetResourcePolicy",
    "servicediscovery:GetNamespace",
    "servicediscovery:GetService",
    "servicediscovery:ListTagsForResource",
    "route53:GetHostedZone",
    "route53:ListTagsForResource",
    "sns:GetSubscriptionAttributes",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:ListTagsForResource",
    "sqs:GetQueueAttributes",
    "sqs:ListQueueTags",
    "ssm:GetParameters",
    "states:DescribeStateMachine",
    "states:ListTagsForResource",
    "wafv2:GetLoggingConfiguration",
    "wafv2:GetWebACL",
    "wafv2:GetWebACLForResource",
    "wafv2:ListTagsForResource",
)


class StackDriftDetector(Construct):
    """A scheduled function that runs drift detection on ``stack_names`` and records the result."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: FunctionProps,
        every: cdk.Duration,
        stack_names: Sequence[str],
        runtime_managed: Sequence[str],
        detection_timeout: cdk.Duration,
        environment: Mapping[str, str],
    ):
        super().__init__(scope, construct_id)
        self.stack_names = tuple(stack_names)
        self.job = ScheduledFunction(
            self,
            "Job",
            props=props,
            every=every,
            environment={
                **environment,
                contract.ENV_STACK_NAMES: ",".join(stack_names),
                contract.ENV_RUNTIME_MANAGED: ",".join(runtime_managed),
                contract.ENV_DETECTION_TIMEOUT_SECONDS: str(int(detection_timeout.to_seconds())),
            },
        )
        self.function, self.role = self.job.function, self.job.role
        stack = cdk.Stack.of(self)
        stacks = [
            stack.format_arn(service="cloudformation", resource="stack", resource_name=f"{name}/*")
            for name in stack_names
        ]
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=list(DRIFT_ACTIONS), resources=stacks))
        # DescribeStackDriftDetectionStatus takes a detection id and has no resource-level permission.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["cloudformation:DescribeStackDriftDetectionStatus"], resources=["*"])
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(CONFIGURATION_READ_ACTIONS), resources=["*"])
        )
