"""Every cdk-nag (and CloudFormation Validate) acknowledgement, each with its specific reason."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, cast

import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs, aws_iam as iam, aws_lambda as lambda_
from constructs import IConstruct

if TYPE_CHECKING:  # the stage imports this module
    from .stacks.compute import ComputeStack
    from .stacks.edge import EdgeStack
    from .stacks.foundation import FoundationStack
    from .stacks.persistent import PersistentStack
    from .stages.tradai_stage import TradaiStage


class _Acknowledgements:
    """The acknowledgements of one stage, applied per construct in one call (jsii round trips cost per call)."""

    def __init__(self) -> None:
        self._by_construct: dict[IConstruct, list[cdk.Acknowledgment]] = {}

    def add(self, construct: IConstruct, rule_id: str, reason: str) -> None:
        self._by_construct.setdefault(construct, []).append(cdk.Acknowledgment(id=rule_id, reason=reason))

    def apply(self) -> None:
        for construct, acknowledgements in self._by_construct.items():
            cdk.Validations.of(construct).acknowledge(*acknowledgements)


def acknowledge_findings(stage: TradaiStage) -> None:
    """Acknowledge the deliberate findings of one ``TradaiStage``."""
    acks = _Acknowledgements()
    _acknowledge_foundation(acks, stage.foundation)
    _acknowledge_persistent(acks, stage.persistent)
    _acknowledge_compute(acks, stage.compute, stage.persistent)
    _acknowledge_pipeline(acks, stage.compute)
    _acknowledge_operations(acks, stage.compute, stage.persistent)
    _acknowledge_deployment(acks, stage.compute)
    _acknowledge_edge(acks, stage.edge)
    _acknowledge_control_tower(acks, stage)
    acks.apply()


def _role(function: lambda_.IFunction) -> iam.IRole:
    """The function's execution role (every function of the app has one)."""
    if function.role is None:
        raise ValueError(f"{function.node.path} has no execution role")
    return function.role


def _logical_id(stack: cdk.Stack, construct: IConstruct) -> str:
    """The logical id of ``construct``'s CloudFormation resource (its default child)."""
    return stack.get_logical_id(cast(cdk.CfnElement, construct.node.default_child))


@functools.lru_cache(maxsize=16)
def _arn_prefix(stack: cdk.Stack, service: str) -> str:
    """``arn:<partition>:<service>:<region>:<account>`` as cdk-nag prints it (the partition literal when context pins
    it, else the pseudo parameter); cached, since each read of the stack is a jsii round trip."""
    partition = stack.resolve(stack.partition)
    partition = partition if isinstance(partition, str) else "<AWS::Partition>"
    return f"arn:{partition}:{service}:{stack.region}:{stack.account}"


def _iam4(managed_policy: str) -> str:
    """AWS managed policy ARNs always carry the partition pseudo parameter."""
    return f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{managed_policy}]"


def _iam5(stack: cdk.Stack, resource: str) -> str:
    """The id cdk-nag gives a wildcard finding on ``resource`` (an ARN tail after region:account:)."""
    if resource == "*":
        return "AwsSolutions-IAM5[Resource::*]"
    service, tail = resource.split(":", 1)
    return f"AwsSolutions-IAM5[Resource::{_arn_prefix(stack, service)}:{tail}]"


def _acknowledge_foundation(acks: _Acknowledgements, foundation: FoundationStack) -> None:
    acks.add(
        foundation.network,
        "CloudFormation-Validate::W3010",
        "Spec 1.1/1.2 pin each subnet to eu-central-1a or eu-central-1b; the AZ names are the contract.",
    )
    acks.add(
        foundation.security_groups["alb"],
        "AwsSolutions-EC23",
        "Spec 4.1's rules for tradai-alb-sg (80 and 443 from 0.0.0.0/0) are kept as written, but the ALB is "
        "internal (docs/decisions.md, issue 12): only addresses inside the VPC, i.e. the API's VPC link, reach it.",
    )
    nat = foundation.nat
    acks.add(
        nat.instance_role,
        _iam5(foundation, "*"),
        "The five Session Manager actions (ssm:UpdateInstanceInformation, ssmmessages:*Channel) have no "
        "resource-level permissions; they replace the broader AmazonSSMManagedInstanceCore.",
    )
    acks.add(
        nat.instance_role,
        _iam5(foundation, "ec2:instance/*"),
        "ec2:CreateTags on instance/* is narrowed to the NAT ASG's own instances (aws:ResourceTag condition), the "
        "boot-state tag key only and its values ready/failed; instance IDs do not exist at deploy time.",
    )
    acks.add(
        nat.route_function,
        "Serverless-LambdaAsyncFailureDestination",
        "Failed asynchronous invocations go to the route DLQ through DeadLetterConfig (shared with the "
        "EventBridge target); an alarm on its depth notifies the alerts topic.",
    )
    acks.add(
        _role(nat.route_function),
        _iam5(foundation, "ec2:instance/*"),
        "instance/* is narrowed by the aws:ResourceTag/aws:autoscaling:groupName condition to the NAT ASG's own "
        "instances, whose IDs do not exist at deploy time.",
    )
    acks.add(
        _role(nat.route_function),
        _iam5(foundation, "ec2:network-interface/*"),
        "AssociateAddress also authorizes the instance's primary interface, created at launch; narrowed by the "
        "ec2:Subnet condition to the NAT subnet.",
    )
    acks.add(
        _role(nat.route_function),
        _iam5(foundation, "*"),
        "ec2:DescribeInstances/DescribeRouteTables/DescribeNetworkInterfaces/DescribeAddresses and X-Ray "
        "PutTraceSegments have no resource-level permissions.",
    )
    acks.add(
        _role(nat.route_function),
        _iam5(foundation, f"autoscaling:autoScalingGroup:*:autoScalingGroupName/{nat.auto_scaling_group_name}"),
        "An ASG ARN embeds a UUID generated at creation, so the policy matches the group by its fixed name.",
    )
    acks.add(nat.route_function, "AwsSolutions-L1", "Spec 7 pins every Lambda to Python 3.11.")
    acks.add(nat.route_function, "Serverless-LambdaLatestVersion", "Spec 7 pins every Lambda to Python 3.11.")
    acks.add(
        nat.auto_scaling_group,
        "AwsSolutions-AS3",
        "Launches are reported through the lifecycle hook to EventBridge; the route Lambda emits RouteUpdated/"
        "RouteUpdateFailed metrics and an alarm watches failures, so SNS scaling notifications would duplicate them.",
    )
    acks.add(
        nat.audit_rule,
        "Serverless-EventBusDLQ",
        "A missed route audit is replaced by the next one minutes later; missing audit data itself alarms.",
    )
    acks.add(
        nat.dead_letter_queue,
        "Serverless-SQSRedrivePolicy",
        "This queue is itself the dead-letter queue of the route-update Lambda and its EventBridge target.",
    )


def _acknowledge_persistent(acks: _Acknowledgements, persistent: PersistentStack) -> None:
    config = persistent.config
    acks.add(
        persistent.tables["idempotency"],
        "AwsSolutions-DDB3",
        "Spec 3.2: the idempotency table holds short-lived deduplication records and has no PITR.",
    )
    for secret in [persistent.master_secret, *persistent.secrets.values()]:
        acks.add(
            secret,
            "AwsSolutions-SMG4",
            "Spec 8: rotation is manual (automatic rotation is Phase 2); tradai/<env>/database-url is derived "
            "from the master secret, so rotating one alone would break the other.",
        )
    acks.add(persistent.database, "AwsSolutions-RDS11", "Spec 4.1 fixes PostgreSQL on 5432 in the SG rules.")
    acks.add(
        persistent.database.node.find_child("MonitoringRole"),
        _iam4("service-role/AmazonRDSEnhancedMonitoringRole"),
        "AWS's own policy for RDS enhanced monitoring: it writes only to the RDSOSMetrics log group.",
    )
    if not config.rds.multi_az:
        acks.add(persistent.database, "AwsSolutions-RDS3", f"Spec 3.3/10: Multi-AZ is off in {config.env}.")
    if not config.profile.deletion_protection:
        acks.add(persistent.database, "AwsSolutions-RDS10", f"Spec 10: no deletion protection in {config.env}.")
    if not config.cognito.advanced_security:
        acks.add(
            persistent.user_pool,
            "AwsSolutions-COG8",
            "Spec 4.2: advanced security (Plus feature plan) is not enabled; MFA with TOTP is required instead.",
        )


def _acknowledge_compute(acks: _Acknowledgements, compute: ComputeStack, persistent: PersistentStack) -> None:
    for definition in _task_definitions(compute):
        acks.add(
            definition,
            "AwsSolutions-ECS2",
            "Plain environment variables carry only names, URLs and modes; credentials come from Secrets Manager.",
        )
        if definition.execution_role is not None:
            acks.add(
                definition.execution_role,
                _iam5(compute, "*"),
                "ecr:GetAuthorizationToken has no resource-level permissions (execution role pulls the image).",
            )
    for role in _workload_roles(compute):
        for bucket in persistent.buckets.values():
            acks.add(
                role,
                f"AwsSolutions-IAM5[Resource::{bucket.objects_arn()}]",
                f"Object-level access to {bucket.bucket_name} is this workload's declared grant; "
                "S3 object ARNs need the /* suffix.",
            )
    acks.add(
        compute.backtest_dlq,
        "Serverless-SQSRedrivePolicy",
        "This queue is itself the dead-letter queue of the backtest queue (spec 6.2).",
    )
    if compute.shared_host is not None:
        host = compute.shared_host
        acks.add(
            host.auto_scaling_group,
            "AwsSolutions-AS3",
            "The single shared ECS host is replaced by its ASG on failure; ECS service events report task moves.",
        )
        acks.add(
            host.role,
            _iam4("AmazonSSMManagedInstanceCore"),
            "Session Manager access to the shared ECS host instead of SSH.",
        )
        acks.add(
            host.role,
            _iam5(compute, "*"),
            "ECS agent calls (ecs:DiscoverPollEndpoint, ecr:GetAuthorizationToken, logs) have no resource scope.",
        )
        acks.add(
            host.role,
            "AwsSolutions-IAM5[Action::ecs:Submit*]",
            "ECS agent state reporting (SubmitContainerStateChange/SubmitTaskStateChange) as CDK grants it.",
        )


def _task_definitions(compute: ComputeStack) -> list[ecs.TaskDefinition]:
    return [service.task_definition for service in compute.services.values()] + list(compute.task_definitions.values())


def _workload_roles(compute: ComputeStack) -> list[iam.IRole]:
    return [definition.task_role for definition in _task_definitions(compute)]


def _acknowledge_pipeline(acks: _Acknowledgements, compute: ComputeStack) -> None:
    pipeline = compute.pipeline
    name = pipeline.state_machine_name
    for fn in pipeline.functions.values():
        acks.add(fn.function, "AwsSolutions-L1", "Spec 7 pins every Lambda to Python 3.11.")
        acks.add(fn.function, "Serverless-LambdaLatestVersion", "Spec 7 pins every Lambda to Python 3.11.")
        acks.add(
            fn.role,
            _iam5(compute, "*"),
            "Only actions without resource-level permissions use *: X-Ray PutTraceSegments/PutTelemetryRecords, "
            "the VPC ENI actions Lambda needs in private subnets, and ecs:ListTasks (narrowed by ecs:cluster).",
        )
    for key in (
        "backtest-consumer",
        "sqs-consumer",
        "validate-strategy",
        "data-collection-proxy",
        "notify-completion",
        "update-status",
        "cleanup-resources",
    ):
        acks.add(
            pipeline.functions[key].function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously (Step Functions tasks, with retries and a Catch that fails the run) or by "
            "the SQS event source, whose queue redrives to the backtest DLQ (spec 6.2): no async invocations.",
        )
    scanner = pipeline.functions["orphan-scanner"]
    acks.add(
        scanner.function,
        "Serverless-LambdaDLQ",
        "A failed scan is not retried or kept: the next scan runs 5 "
        "minutes later and sees the same runs; the Errors metric shows it.",
    )
    acks.add(
        scanner.function.node.find_child("EventInvokeConfig"),
        "Serverless-LambdaAsyncFailureDestination",
        "Scheduled scans are not retried (retry 0): the next one, 5 minutes later, covers the same runs.",
    )
    acks.add(
        pipeline.schedule,
        "Serverless-EventBusDLQ",
        "A missed scheduled scan is replaced by the next one 5 minutes later; nothing is lost.",
    )
    for key in ("backtest-consumer", "sqs-consumer"):
        for child in pipeline.functions[key].function.node.children:
            if isinstance(child, cdk.aws_lambda.EventSourceMapping):
                acks.add(
                    child,
                    "Serverless-LambdaEventSourceMappingDestination",
                    "Failed messages return to the FIFO queue and move to tradai-backtest-dlq after 3 receives "
                    "(spec 6.2 redrive policy); an on-failure destination would bypass that DLQ.",
                )
    acks.add(
        pipeline.functions["notify-completion"].role,
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        "Publishing to the KMS-encrypted alerts topic needs GenerateDataKey* on that one key (CDK's topic grant).",
    )
    task_roles = [pipeline.functions[k].role for k in ("backtest-consumer", "cleanup-resources", "orphan-scanner")]
    for task_role in task_roles:
        acks.add(
            task_role,
            _iam5(compute, f"ecs:task/<{_logical_id(compute, compute.cluster)}>/*"),
            "Task ids are generated at launch; the ARN pattern is limited to the TradAI cluster.",
        )
    acks.add(
        pipeline.functions["backtest-consumer"].role,
        _iam5(compute, f"ecs:task-definition/{pipeline.task_family}:*"),
        "Every revision of the strategy task family: a new image tag creates a new revision on each deploy.",
    )
    for grantee in (
        pipeline.functions["orphan-scanner"].role,
        compute.services["backend-api"].task_definition.task_role,
    ):
        acks.add(
            grantee,
            _iam5(compute, f"states:execution:{name}:*"),
            "Execution ARNs carry the run id chosen at start; access is limited to this workflow's executions.",
        )
    role = pipeline.state_machine.role
    acks.add(
        role,
        _iam5(compute, "*"),
        "X-Ray tracing and CloudWatch Logs delivery (logs:CreateLogDelivery...) have no resource-level permissions.",
    )
    for fn in pipeline.functions.values():
        acks.add(
            role,
            f"AwsSolutions-IAM5[Resource::<{_logical_id(compute, fn.function)}.Arn>:*]",
            "LambdaInvoke may call the function's versions and aliases (CDK's grant).",
        )


def _acknowledge_operations(acks: _Acknowledgements, compute: ComputeStack, persistent: PersistentStack) -> None:
    """Spec 7's health, heartbeat, drift, model-lifecycle and infrastructure-drift functions."""
    operations = compute.operations
    for key, function in operations.functions.items():
        acks.add(function, "AwsSolutions-L1", "Spec 7 pins every Lambda to Python 3.11.")
        acks.add(function, "Serverless-LambdaLatestVersion", "Spec 7 pins every Lambda to Python 3.11.")
        acks.add(
            _role(function),
            _iam5(compute, "*"),
            "Only actions without resource-level permissions use *: X-Ray PutTraceSegments/PutTelemetryRecords, "
            "the VPC ENI actions, servicediscovery:DiscoverInstances (narrowed to the namespace by condition) and "
            "the drift detector's read-only configuration reads.",
        )
        if key in operations.schedules:
            acks.add(
                function,
                "Serverless-LambdaDLQ",
                "A failed scheduled check is not retried or kept: the next run "
                "checks the same state again and the Errors alarm reports it.",
            )
            acks.add(
                function.node.find_child("EventInvokeConfig"),
                "Serverless-LambdaAsyncFailureDestination",
                "Scheduled checks are not retried (retry 0): the next scheduled run covers the same state.",
            )
            acks.add(
                operations.schedules[key],
                "Serverless-EventBusDLQ",
                "A missed scheduled run is replaced by the next one; nothing is lost.",
            )
        else:
            acks.add(
                function,
                "Serverless-LambdaDLQ",
                "Invoked synchronously (Step Functions tasks with a Catch, or backend-api's RequestResponse call "
                "that returns the error to the caller): no asynchronous invocations.",
            )
        if key not in ("retraining-scheduler", "check-retraining-needed", "compare-models", "promote-model"):
            acks.add(
                _role(function),
                "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                "Publishing to the KMS-encrypted alerts topic needs GenerateDataKey* on that one key (CDK's grant).",
            )
    acks.add(
        _role(operations.functions["drift-monitor"]),
        f"AwsSolutions-IAM5[Resource::{persistent.buckets['results'].bucket_arn}/drift/*]",
        "Reads only the drift inputs (reference and current feature histograms) under drift/ of the results bucket.",
    )
    detector = operations.drift_detector
    for action in (
        "application-autoscaling:Describe*",
        "autoscaling:Describe*",
        "ec2:Describe*",
        "elasticloadbalancing:Describe*",
        "s3:GetBucket*",
    ):
        acks.add(
            detector.role,
            f"AwsSolutions-IAM5[Action::{action}]",
            "CloudFormation drift detection reads each resource's configuration with the caller's permissions; "
            "these read-only Describe/GetBucket families cover the stacks' resource types (no data reads).",
        )
    for stack_name in detector.stack_names:
        acks.add(
            detector.role,
            _iam5(compute, f"cloudformation:stack/{stack_name}/*"),
            "A stack ARN ends with a UUID generated at creation; the policy matches this environment's stack by name.",
        )
    retraining = operations.retraining
    role = retraining.state_machine.role
    acks.add(
        role,
        _iam5(compute, "*"),
        "X-Ray tracing, CloudWatch Logs delivery and the ECS .sync integration's event rule management "
        "(events:PutTargets/PutRule/DescribeRule on its managed rule) as CDK grants them.",
    )
    invoked = [*retraining.functions.values(), compute.pipeline.functions["notify-completion"]]
    for fn in invoked:
        acks.add(
            role,
            f"AwsSolutions-IAM5[Resource::<{_logical_id(compute, fn.function)}.Arn>:*]",
            "LambdaInvoke may call the function's versions and aliases (CDK's grant).",
        )
    acks.add(
        _role(operations.functions["retraining-scheduler"]),
        _iam5(compute, f"states:execution:{retraining.state_machine_name}:*"),
        "Execution names are the retraining ids chosen at start; DescribeExecution is limited to this workflow's.",
    )


def _acknowledge_deployment(acks: _Acknowledgements, compute: ComputeStack) -> None:
    """The strategy deployment workflow and its deployer (issue 14)."""
    deployment = compute.deployment
    deployer = deployment.deployer
    acks.add(deployer.function, "AwsSolutions-L1", "Spec 7 pins every Lambda to Python 3.11.")
    acks.add(deployer.function, "Serverless-LambdaLatestVersion", "Spec 7 pins every Lambda to Python 3.11.")
    acks.add(
        deployer.function,
        "Serverless-LambdaDLQ",
        "Invoked synchronously by the deployment workflow, whose Catch aborts the deployment: no async invocations.",
    )
    acks.add(
        deployer.role,
        _iam5(compute, "*"),
        "Only actions without resource-level permissions use *: X-Ray, ecs:ListTasks (narrowed by ecs:cluster) "
        "and ec2:DescribeVpcs, which Cloud Map's RegisterInstance checks with the caller's rights.",
    )
    for target in deployment.modes.values():
        acks.add(
            deployer.role,
            _iam5(compute, f"ecs:task-definition/{target.task_definition.family}:*"),
            "Every revision of the two trading task families: a new image tag creates a revision on each deploy.",
        )
    acks.add(
        deployer.role,
        _iam5(compute, f"ecs:task/<{_logical_id(compute, compute.cluster)}>/*"),
        "Task ids are generated at launch; the ARN pattern is limited to the TradAI cluster.",
    )
    role = deployment.state_machine.role
    acks.add(
        role,
        _iam5(compute, "*"),
        "X-Ray tracing and CloudWatch Logs delivery (logs:CreateLogDelivery...) have no resource-level permissions.",
    )
    acks.add(
        role,
        f"AwsSolutions-IAM5[Resource::<{_logical_id(compute, deployer.function)}.Arn>:*]",
        "LambdaInvoke may call the function's versions and aliases (CDK's grant).",
    )
    acks.add(
        compute.services["backend-api"].task_definition.task_role,
        _iam5(compute, f"states:execution:{deployment.state_machine_name}:*"),
        "Execution names are the deployment ids backend-api chooses; it may read only this workflow's executions.",
    )


def _acknowledge_edge(acks: _Acknowledgements, edge: EdgeStack) -> None:
    api = edge.api
    if not edge.config.profile.waf_enabled:
        acks.add(
            edge.stage,
            "AwsSolutions-APIG3",
            f"Spec 10: WAF is optional in {edge.config.env} and off; throttling (spec 5.2) and Cognito still apply.",
        )
    for method in api.unauthenticated_methods:  # spec 5.1: only GET /api/v1/health
        route = f"{method.http_method} {method.resource.path}"
        for rule_id in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acks.add(
                method,
                rule_id,
                f"Spec 5.1: {route} is the route without authentication (uptime checks carry "
                "no token); it forwards only that request to the backend.",
            )


def _acknowledge_control_tower(acks: _Acknowledgements, stage: TradaiStage) -> None:
    """The AWS Control Tower proactive controls (cfn-guard plugin) this design deliberately does not meet.

    Ids are ``cdk-validator-cfnguard::<guard rule name>``; the control id (CT.S3.PR.10 ...) is only in the message.
    """

    def ct(construct: IConstruct, rule: str, reason: str) -> None:
        acks.add(construct, f"cdk-validator-cfnguard::{rule}", reason)

    foundation, persistent, compute, edge = stage.foundation, stage.persistent, stage.compute, stage.edge
    config = persistent.config
    nat = foundation.nat
    # Network and NAT (spec 1.4).
    ct(
        nat.auto_scaling_group,
        "autoscaling_multiple_az_check",
        "CT.AUTOSCALING.PR.1 - Spec 1.4: the NAT instance ASG runs one instance in Public-1 (eu-central-1a) only.",
    )
    ct(
        nat.auto_scaling_group,
        "autoscaling_mixed_instances_policy_multiple_instance_types_check",
        "CT.AUTOSCALING.PR.6 - Spec 1.4 pins the NAT instance to t4g.nano (min=max=desired=1).",
    )
    ct(
        nat.launch_template,
        "ec2_launch_template_public_ip_disabled_check",
        "CT.EC2.PR.9 - Spec 1.2/1.4: the NAT instance sits in Public-1 and forwards private traffic to the internet; "
        "it needs a public address (its static EIP).",
    )
    ct(
        nat.dead_letter_queue,
        "sqs_dlq_check",
        "CT.SQS.PR.1 - This queue is itself the dead-letter queue of the route-update Lambda (spec 1.4 failover).",
    )
    # Logs: retention and encryption of every log group in the stage.
    for node in stage.node.find_all():
        if isinstance(node, cdk.aws_logs.CfnLogGroup):
            ct(
                node,
                "cloudwatch_log_group_retention_period_check",
                f"CT.CLOUDWATCH.PR.2 - Spec 10: log retention is 30 days in dev/staging and 90 in prod "
                f"({config.env}: {config.profile.log_retention_days}), not a year.",
            )
        elif isinstance(node, cdk.aws_lambda.CfnFunction) and node.vpc_config is not None:
            ct(
                node,
                "lambda_inside_vpc_check",
                "CT.LAMBDA.PR.3 - False positive: VpcConfig has subnets and the Lambda SG, but they are cross-stack "
                "references (Fn::GetStackOutput to the Foundation stack), which the guard rule cannot resolve.",
            )
        elif isinstance(node, cdk.aws_ecs.CfnTaskDefinition) and node.network_mode == "bridge":
            ct(
                node,
                "ecs_awsvpc_networking_enabled_check",
                f"CT.ECS.PR.4 - Spec 10: {config.env} consolidates the services on one t3.small EC2 host, "
                "whose ENI limit cannot give each service task its own awsvpc interface; bridge mode it is.",
            )
    # Lambdas outside the VPC.
    for function, name in (
        (nat.route_function, "tradai-update-nat-routes"),
        (compute.pipeline.functions["notify-completion"].function, "tradai-notify-completion"),
        (compute.operations.drift_detector.function, "tradai-pulumi-drift-detector"),
    ):
        ct(
            function,
            "lambda_inside_vpc_check",
            f"CT.LAMBDA.PR.3 - Spec 7: {name} runs outside the VPC (VPC: No); it calls only AWS APIs.",
        )
    ct(
        compute.deployment.deployer.function,
        "lambda_inside_vpc_check",
        "CT.LAMBDA.PR.3 - docs/decisions.md (strategy deployments): the deployer calls only AWS APIs and must start "
        "and stop trading tasks while the NAT instance is being replaced, so it runs outside the VPC.",
    )
    # Storage (spec 3).
    ct(
        persistent.tables["idempotency"],
        "dynamodb_table_pitr_enabled_check",
        "CT.DYNAMODB.PR.1 - Spec 3.2: the idempotency table has no point-in-time recovery.",
    )
    for component, bucket in persistent.buckets.items():
        ct(
            bucket.bucket,
            "s3_bucket_default_encryption_kms_check",
            "CT.S3.PR.10 - Spec 3.1: every bucket uses SSE-S3, not SSE-KMS.",
        )
        ct(
            bucket.bucket,
            "s3_event_notifications_enabled_check",
            "CT.S3.PR.4 - Nothing consumes object events from spec 3.1's buckets: writers record what they wrote "
            "in DynamoDB (workflow state, config versions); CloudTrail records bucket-level changes.",
        )
        if component == "logs":
            ct(
                bucket.bucket,
                "s3_bucket_versioning_enabled_check",
                "CT.S3.PR.11 - Spec 3.1: versioning is disabled on tradai-logs (objects expire after 90 days).",
            )
            ct(
                bucket.bucket,
                "s3_bucket_object_lock_enabled_check",
                "CT.S3.PR.9 - Spec 3.1: tradai-logs is unversioned (and expires objects after 90 days); "
                "Object Lock requires versioning.",
            )
            ct(
                bucket.bucket,
                "s3_bucket_logging_enabled_check",
                "CT.S3.PR.2 - Spec 3.1: tradai-logs is the access-log destination of the other buckets and the ALB; "
                "logging it would need a sixth bucket that spec 3.1 does not have.",
            )
        else:
            ct(
                bucket.bucket,
                "s3_bucket_object_lock_enabled_check",
                f"CT.S3.PR.9 - Spec 3.1: tradai-{component} is versioned (deleted or overwritten objects stay "
                "recoverable) and its objects are rewritten or expired by design; Object Lock (WORM) would block "
                "the lifecycle and ArcticDB/MLflow's own deletes.",
            )
        if component in ("configs", "arcticdb", "mlflow"):
            for rule, control in (
                ("s3_lifecycle_policy_check", "CT.S3.PR.6"),
                ("s3_version_lifecycle_policy_check", "CT.S3.PR.3"),
            ):
                ct(bucket.bucket, rule, f"{control} - Spec 3.1: tradai-{component} has no lifecycle rule (None).")
    database = persistent.database
    ct(database, "rds_instance_no_default_ports_check", "CT.RDS.PR.20 - Spec 4.1 fixes PostgreSQL on 5432.")
    ct(
        database,
        "rds_instance_automatic_minor_version_upgrade_enabled_check",
        "CT.RDS.PR.5 - Spec 3.3 pins the engine to PostgreSQL 15.13; minor upgrades are deliberate changes.",
    )
    if not config.rds.multi_az:
        ct(
            database,
            "rds_instance_multi_az_support_check",
            f"CT.RDS.PR.1 - Spec 3.3/10: Multi-AZ is off in {config.env}.",
        )
    if not config.profile.deletion_protection:
        ct(
            database,
            "rds_instance_deletion_protection_enabled_check",
            f"CT.RDS.PR.13 - Spec 10: no deletion protection in {config.env}.",
        )
    # Compute.
    ct(
        compute.backtest_dlq,
        "sqs_dlq_check",
        "CT.SQS.PR.1 - Spec 6.2: this is tradai-backtest-dlq.fifo, the backtest queue's dead-letter queue.",
    )
    if not config.profile.deletion_protection:
        ct(
            compute.load_balancer,
            "elbv2_deletion_protection_enabled_check",
            f"CT.ELASTICLOADBALANCING.PR.5 - Spec 10: no deletion protection in {config.env}.",
        )
    if config.profile.certificate_arn is None:
        ct(
            compute.listener,
            "alb_http_to_https_redirection_check",
            "CT.ELASTICLOADBALANCING.PR.1 - docs/decisions.md (issue 12): the ALB is internal and reached only "
            "through API Gateway's VPC link, which terminates TLS; setting profile.certificate_arn switches the "
            "listener to 443 with spec 4.1's 80->443 redirect.",
        )
    if compute.shared_host is not None:
        asg = compute.shared_host.auto_scaling_group
        ct(
            asg,
            "autoscaling_multiple_az_check",
            "CT.AUTOSCALING.PR.1 - False positive: the ASG spans Private-1 and Private-2, but its subnets are "
            "cross-stack references (Fn::GetStackOutput), which the guard rule cannot resolve.",
        )
        ct(
            asg,
            "autoscaling_mixed_instances_policy_multiple_instance_types_check",
            f"CT.AUTOSCALING.PR.6 - Spec 10: {config.env} runs the services on one consolidated t3.small host.",
        )
    # Edge.
    if edge.trail is not None:
        ct(
            edge.trail.trail,
            "cloud_trail_encryption_enabled_check",
            "CT.CLOUDTRAIL.PR.1 - Spec 3.1: the trail writes to tradai-logs, which is encrypted with SSE-S3, not KMS.",
        )
