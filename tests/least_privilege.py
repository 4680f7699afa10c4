"""What each IAM role may do, derived from what its workload calls (issue 15 item 6).

Read by tests/test_least_privilege.py. Each role is keyed by its stable logical id (the logical id without
CDK's hash) and lists the exact (action, resource, condition) grants its workload justifies. Resources are
written as the test renders them: an ARN without ``arn:aws:``, region and account (``dynamodb:table/...``),
a CloudFormation token as the name of the resource it points at, ``<env>`` for the environment.

Sources of the justifications: the boto3 calls of the Lambda handlers in lambda_src/ (each ``client.<op>``
is one IAM action), the workload declarations SERVICE_ACCESS / TASK_ACCESS in tradai_cdk/stacks/compute.py
(the contract of containers whose code is not in this repo), the state machines' steps, the NAT boot script,
and what AWS services require of the roles they assume (ECS agent, Lambda event source mappings, RDS
enhanced monitoring, VPC flow logs, Step Functions logging/tracing).

``# broader than used: ...`` marks a grant the workload does not need today: the test still expects it (so
it passes), and narrowing the grant in tradai_cdk/ should remove the entry here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from spec import ENVIRONMENTS
from tradai_cdk.config.canonical import TABLES
from tradai_cdk.constructs.stack_drift_detector import CONFIGURATION_READ_ACTIONS
from tradai_cdk.constructs.tradai_bucket import BUCKET_READ_ACTIONS, READ_OBJECT_ACTIONS, WRITE_OBJECT_ACTIONS
from tradai_cdk.constructs.tradai_table import DELETE, GET, PUT, QUERY, READ_ACTIONS, SCAN, UPDATE, WRITE_ACTIONS

Grant = tuple[str, str, str]  # (action, resource, condition): condition "" when none
ON_CLUSTER = "ArnEquals ecs:cluster=ecs:cluster/tradai-<env>"
TO_ECS_TASKS = "StringEquals iam:PassedToService=ecs-tasks.amazonaws.com"
NAT_GROUP = "StringEquals aws:ResourceTag/aws:autoscaling:groupName=tradai-nat-asg-<env>"
CLUSTER_TASKS = "ecs:task/tradai-<env>/*"
_INDEXES = {spec.key: [gsi.name for gsi in spec.gsis] for spec in TABLES}  # the tables' schema


def allow(actions: Iterable[str], resources: Iterable[str], condition: str = "") -> set[Grant]:
    return {(action, resource, condition) for action in actions for resource in resources}


# --- DynamoDB and S3: what TradaiTable / TradaiBucket grant_* mean ----------------------------------------------

def table(name: str) -> str:
    return f"dynamodb:table/tradai-{name}-<env>"


def table_read(name: str) -> set[Grant]:
    """TradaiTable.grant_read: READ_ACTIONS on the table and each of its indexes."""
    return allow(READ_ACTIONS, [table(name)] + [f"{table(name)}/index/{index}" for index in _INDEXES[name]])


def table_rw(name: str) -> set[Grant]:
    """TradaiTable.grant_read_write: grant_read plus WRITE_ACTIONS on the table."""
    return table_read(name) | allow(WRITE_ACTIONS, [table(name)])


def table_calls(name: str, *actions: str) -> set[Grant]:
    """TradaiTable.grant: exactly the handler's calls (get_item -> GET, ...) on the table itself."""
    return allow(actions, [table(name)])


def index_calls(name: str, index: str, *actions: str) -> set[Grant]:
    """TradaiTable.grant with ``indexes``: Query/Scan on that index only."""
    assert index in _INDEXES[name], f"{name} has no index {index}"
    return allow(actions, [f"{table(name)}/index/{index}"])


def bucket(name: str) -> str:
    return f"s3:tradai-{name}-<env>"


def bucket_read(name: str) -> set[Grant]:
    return allow(BUCKET_READ_ACTIONS, [bucket(name)]) | allow(READ_OBJECT_ACTIONS, [f"{bucket(name)}/*"])


def bucket_rw(name: str) -> set[Grant]:
    return bucket_read(name) | allow(WRITE_OBJECT_ACTIONS, [f"{bucket(name)}/*"])


def secret(name: str) -> set[Grant]:
    """ISecret.grant_read (GetSecretValue is the call; DescribeSecret comes with the grant)."""
    return allow(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                 [f"secretsmanager:secret:tradai/<env>/{name}"])


# --- shared bundles ---------------------------------------------------------------------------------------------

XRAY = allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])  # Tracing.ACTIVE
# What Lambda needs of a VPC function's role to manage its ENIs (AWSLambdaVPCAccessExecutionRole).
VPC_ENI = allow(["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                 "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
                ["*"])
ALERTS = (allow(["sns:Publish"], ["sns:tradai-alerts-<env>"])
          | allow(["kms:Decrypt", "kms:GenerateDataKey*"], ["<AlertsKey.Arn>"]))  # the topic's CMK
# shared.notify.Notifier: PutItem (conditional) / GetItem / UpdateItem on notifications, sns:Publish.
NOTIFIER = table_calls("notifications", GET, PUT, UPDATE) | ALERTS
MLFLOW = secret("mlflow-credentials")  # ml_lifecycle.mlflow: secretsmanager get_secret_value
STATE_MACHINE_OBSERVABILITY = allow(  # LogLevel.ALL to CloudWatch Logs (vended log delivery) and X-Ray tracing
    ["logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
     "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
     "xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"], ["*"])
# The .sync EcsRunTask of the strategy container (backtest run, retraining train/shadow).
RUN_STRATEGY_SYNC = (
    allow(["ecs:RunTask"], ["ecs:task-definition/strategy-container-<env>"])
    | allow(["ecs:DescribeTasks", "ecs:StopTask"], ["*"])  # broader than used: only this cluster's tasks
    | allow(["events:DescribeRule", "events:PutRule", "events:PutTargets"],
            ["events:rule/StepFunctionsGetEventsForECSTaskRule"])  # .sync waits on ECS task events
    # broader than used: no iam:PassedToService=ecs-tasks.amazonaws.com condition
    | allow(["iam:PassRole"], ["iam:role/StrategyContainerTaskRole",
                               "iam:role/StrategyContainerTaskDefinitionExecutionRole"]))
# backtest.runs.Runs (put/get/update_item on workflow-state) and Powertools idempotency's DynamoDBPersistenceLayer
# (get/put/update/delete_item on idempotency) of both consumers.
CONSUMER_TABLES = (table_calls("workflow-state", GET, PUT, UPDATE)
                   | table_calls("idempotency", GET, PUT, UPDATE, DELETE))
# ml_lifecycle.retraining_state.Retrainings get + record (update_item) of the three workflow functions.
RETRAINING_RECORD = table_calls("retraining-state", GET, UPDATE)
SQS_EVENT_SOURCE = (  # the Lambda event source mapping polls the backtest queue
    allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
          ["sqs:tradai-backtest-queue-<env>.fifo"])
    # broader than used: CDK's grant_consume_messages extras; the mapping needs Receive/Delete/GetQueueAttributes
    | allow(["sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"], ["sqs:tradai-backtest-queue-<env>.fifo"]))


def function(name: str) -> set[Grant]:
    """Every TradaiFunction: its own log group and X-Ray (ENIs of VPC functions: see ``_lambda``)."""
    return allow(["logs:CreateLogStream", "logs:PutLogEvents"], [f"logs:log-group:/aws/lambda/tradai-{name}-<env>:*"]) | XRAY


def invoke(*names: str) -> set[Grant]:
    """LambdaInvoke steps: the function (the ASL names it unqualified)."""
    arns = [f"lambda:function:tradai-{name}-<env>" for name in names]
    # CDK's LambdaInvoke grant: it adds every version/alias (":*") to the state machine role itself, and an
    # explicit narrower grant would not remove it; the ASL invokes the unqualified ARN
    return allow(["lambda:InvokeFunction"], arns + [f"{arn}:*" for arn in arns])


def ecs_agent(repository: str, log_group: str, secrets: Iterable[str] = ()) -> set[Grant]:
    """A task's execution role: the agent pulls the image, ships the logs and resolves the declared secrets."""
    grants = (allow(["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
                    [f"ecr:repository/tradai-{repository}-<env>"])
              | allow(["ecr:GetAuthorizationToken"], ["*"])
              | allow(["logs:CreateLogStream", "logs:PutLogEvents"], [f"logs:log-group:/ecs/{log_group}-<env>:*"]))
    for name in secrets:
        grants |= secret(name)  # broader than used: the agent calls GetSecretValue only, not DescribeSecret
    return grants


# --- roles ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Role:
    stack: str
    trust: str
    grants: frozenset[Grant]
    envs: tuple[str, ...] = ENVIRONMENTS

    def expected(self, env: str) -> set[Grant]:
        return {tuple(part.replace("<env>", env) for part in grant) for grant in self.grants}


LAMBDA = "lambda.amazonaws.com"
ECS_TASKS = "ecs-tasks.amazonaws.com"
STATES = ("states.amazonaws.com if ArnLike aws:SourceArn=states:stateMachine:*; "
          "StringEquals aws:SourceAccount=<account>")


def _lambda(grants: set[Grant], in_vpc: bool = True) -> Role:
    """A compute-stack function's role; a function in the VPC also holds VPC_ENI (Lambda attaches its ENIs)."""
    return Role("compute", LAMBDA, frozenset(grants | (VPC_ENI if in_vpc else set())))


ROLES: dict[str, Role] = {
    # --- foundation ---
    # VPC flow logs deliver to their own log group (CreateLogStream/PutLogEvents, DescribeLogStreams).
    "NetworkFlowLogRole": Role("foundation", "vpc-flow-logs.amazonaws.com", frozenset(allow(
        ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        ["logs:log-group:/vpc/tradai-vpc-<env>/flow-logs:*"]))),
    # nat_user_data.sh: `aws ec2 create-tags` of itself with tradai:nat-boot=ready|failed; Session Manager.
    "NatInstanceInstanceRole": Role("foundation", "ec2.amazonaws.com", frozenset(
        allow(["ec2:CreateTags"], ["ec2:instance/*"],
              "ForAllValues:StringEquals aws:TagKeys=tradai:nat-boot; "
              "StringEquals aws:RequestTag/tradai:nat-boot=failed|ready; " + NAT_GROUP)
        | allow(["ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                 "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"], ["*"]))),
    # nat_routes: ec2 describe_* (no resource scope), modify_instance_attribute + associate_address on the
    # group's instances, the EIP and the public subnet's ENIs, create/replace_route on the private table,
    # autoscaling complete_lifecycle_action, lambda invoke of itself (keeps waiting); async DLQ (SendMessage).
    "NatInstanceRouteFunctionRole": Role("foundation", LAMBDA, frozenset(
        function("update-nat-routes")
        | allow(["ec2:DescribeInstances", "ec2:DescribeRouteTables", "ec2:DescribeNetworkInterfaces",
                 "ec2:DescribeAddresses"], ["*"])
        | allow(["ec2:CreateRoute", "ec2:ReplaceRoute"], ["ec2:route-table/<NetworkPrivateRouteTable>"])
        | allow(["autoscaling:CompleteLifecycleAction"],
                ["autoscaling:autoScalingGroup:*:autoScalingGroupName/tradai-nat-asg-<env>"])
        | allow(["ec2:AssociateAddress"], ["ec2:elastic-ip/<NatInstanceEip.AllocationId>"])
        | allow(["ec2:AssociateAddress", "ec2:ModifyInstanceAttribute"], ["ec2:instance/*"], NAT_GROUP)
        | allow(["ec2:AssociateAddress"], ["ec2:network-interface/*"],
                "StringEquals ec2:Subnet=ec2:subnet/<NetworkPublic1Subnet>")
        | allow(["lambda:InvokeFunction"], ["lambda:function:tradai-update-nat-routes-<env>"])
        | allow(["sqs:SendMessage"], ["<NatInstanceRouteUpdateDlq.Arn>"]))),

    # --- persistent ---
    # RDS enhanced monitoring publishes OS metrics to CloudWatch Logs (AWS's prescribed managed policy).
    "DatabaseMonitoringRole": Role("persistent", "monitoring.rds.amazonaws.com", frozenset(
        {("managed", "service-role/AmazonRDSEnhancedMonitoringRole", "")})),

    # --- edge ---
    # POST /api/v1/backtests: API Gateway's SQS integration sends the validated request.
    "ApiPostQueueRole": Role("edge", "apigateway.amazonaws.com", frozenset(
        allow(["sqs:SendMessage"], ["sqs:tradai-backtest-queue-<env>.fifo"]))),

    # CloudTrail delivers the trail's events to its own log group (staging and prod: spec 10).
    "TrailLogsRole": Role("edge", "cloudtrail.amazonaws.com", frozenset(allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"], ["logs:log-group:/aws/cloudtrail/tradai-trail-<env>:*"])),
        envs=("staging", "prod")),

    # --- compute: ECS ---
    # dev/staging shared EC2 host: the ECS agent registers, polls and submits state for this cluster.
    "SharedHostAsgInstanceRole": Role("compute", "ec2.amazonaws.com", frozenset(
        allow(["ecs:RegisterContainerInstance", "ecs:DeregisterContainerInstance", "ecs:Submit*"],
              ["ecs:cluster/tradai-<env>"])
        | allow(["ecs:Poll", "ecs:StartTelemetrySession"], ["*"], ON_CLUSTER)
        | allow(["ecs:DiscoverPollEndpoint", "ecr:GetAuthorizationToken"], ["*"])
        # broader than used: every log group; the services' awslogs use their execution roles
        | allow(["logs:CreateLogStream", "logs:PutLogEvents"], ["*"])
        # broader than used: Session Manager needs only the 5 actions the NAT instance role has
        | {("managed", "AmazonSSMManagedInstanceCore", "")}), envs=("dev", "staging")),
    # SERVICE_ACCESS["backend-api"]; executor (SendMessage to SQS_QUEUE_URL: the queue is SQS-managed encrypted,
    # no KMS; DescribeExecution/GetExecutionHistory of backtests), model rollback invoke (the unqualified
    # function it is given by name), strategy deployments start + describe.
    "BackendApiTaskRole": Role("compute", ECS_TASKS, frozenset(
        table_rw("workflow-state") | table_rw("deployments") | table_rw("config-versions") | table_rw("rollback-state")
        | table_read("trading-state") | table_read("health-state") | bucket_rw("configs") | bucket_read("results")
        | allow(["sqs:SendMessage"], ["sqs:tradai-backtest-queue-<env>.fifo"])
        | allow(["states:DescribeExecution", "states:GetExecutionHistory"], ["states:execution:tradai-backtest-<env>:*"])
        | allow(["lambda:InvokeFunction"], ["lambda:function:tradai-model-rollback-<env>"])
        | allow(["states:StartExecution"], ["states:stateMachine:tradai-strategy-deployment-<env>"])
        | allow(["states:DescribeExecution"], ["states:execution:tradai-strategy-deployment-<env>:*"]))),
    "BackendApiTaskDefinitionExecutionRole": Role("compute", ECS_TASKS, frozenset(
        ecs_agent("backend-api", "tradai-backend-api", ["database-url", "jwt-secret"]))),
    # SERVICE_ACCESS["data-collection"]
    "DataCollectionTaskRole": Role("compute", ECS_TASKS, frozenset(table_rw("health-state") | bucket_rw("arcticdb"))),
    "DataCollectionTaskDefinitionExecutionRole": Role("compute", ECS_TASKS, frozenset(
        ecs_agent("data-collection", "tradai-data-collection"))),
    # SERVICE_ACCESS["mlflow"] (its secrets are resolved by the execution role)
    "MlflowTaskRole": Role("compute", ECS_TASKS, frozenset(bucket_rw("mlflow"))),
    "MlflowTaskDefinitionExecutionRole": Role("compute", ECS_TASKS, frozenset(
        ecs_agent("mlflow", "tradai-mlflow", ["database-url", "mlflow-credentials"]))),
    # SERVICE_ACCESS["strategy-service"]
    "StrategyServiceTaskRole": Role("compute", ECS_TASKS, frozenset(
        table_rw("deployments") | table_rw("config-versions") | table_rw("trading-state") | bucket_read("configs"))),
    "StrategyServiceTaskDefinitionExecutionRole": Role("compute", ECS_TASKS, frozenset(
        ecs_agent("strategy-service", "tradai-strategy-service"))),
    # TASK_ACCESS["strategy-container"]
    "StrategyContainerTaskRole": Role("compute", ECS_TASKS, frozenset(
        table_rw("workflow-state") | bucket_rw("results") | bucket_read("configs") | bucket_read("arcticdb"))),
    "StrategyContainerTaskDefinitionExecutionRole": Role("compute", ECS_TASKS, frozenset(
        ecs_agent("strategy", "strategy-container"))),
    # TASK_ACCESS["live-trading"] (the Binance key through the execution role)
    "LiveTradingTaskRole": Role("compute", ECS_TASKS, frozenset(
        table_rw("trading-state") | bucket_read("configs") | bucket_read("arcticdb"))),
    "LiveTradingTaskDefinitionExecutionRole": Role("compute", ECS_TASKS, frozenset(
        ecs_agent("strategy", "strategy-live-trading", ["binance-api"]))),
    # TASK_ACCESS["dry-run-trading"]
    "DryRunTradingTaskRole": Role("compute", ECS_TASKS, frozenset(
        table_rw("trading-state") | bucket_read("configs") | bucket_read("arcticdb"))),
    "DryRunTradingTaskDefinitionExecutionRole": Role("compute", ECS_TASKS, frozenset(
        ecs_agent("strategy", "strategy-dry-run-trading"))),

    # --- compute: backtest pipeline (lambda_src/backtest) ---
    # validate_strategy: no AWS call.
    "BacktestPipelineValidateStrategyRole": _lambda(function("validate-strategy")),
    # data_collection_proxy: HTTP to data-collection only.
    "BacktestPipelineDataCollectionProxyRole": _lambda(function("data-collection-proxy")),
    # update_status: Runs.transition -> UpdateItem (+ GetItem when the condition fails) on workflow-state.
    "BacktestPipelineUpdateStatusRole": _lambda(function("update-status")
                                                | table_calls("workflow-state", GET, UPDATE)),
    # cleanup_resources: ecs list_tasks (startedBy), describe_tasks, stop_task in the cluster.
    "BacktestPipelineCleanupResourcesRole": _lambda(
        function("cleanup-resources") | allow(["ecs:DescribeTasks", "ecs:StopTask"], [CLUSTER_TASKS])
        | allow(["ecs:ListTasks"], ["*"], ON_CLUSTER)),
    # notify_completion: shared.notify (outside the VPC).
    "BacktestPipelineNotifyCompletionRole": _lambda(function("notify-completion") | NOTIFIER,
                                                    in_vpc=False),
    # consumer (LAUNCH_MODE ecs): Runs put/get/update_item (no trace_id-index query), Powertools idempotency
    # (DynamoDBPersistenceLayer) get/put/update/delete_item, ecs run_task (tags propagate: TagResource) + list_tasks;
    # the SQS event source mapping.
    "BacktestPipelineBacktestConsumerRole": _lambda(
        function("backtest-consumer") | CONSUMER_TABLES | SQS_EVENT_SOURCE
        | allow(["ecs:RunTask"], ["ecs:task-definition/strategy-container-<env>:*"], ON_CLUSTER)
        | allow(["iam:PassRole"], ["iam:role/StrategyContainerTaskRole",
                                   "iam:role/StrategyContainerTaskDefinitionExecutionRole"], TO_ECS_TASKS)
        | allow(["ecs:TagResource"], [CLUSTER_TASKS], "StringEquals ecs:CreateAction=RunTask")
        | allow(["ecs:ListTasks"], ["*"], ON_CLUSTER)),
    # consumer (LAUNCH_MODE stepfunctions): as above, start_execution instead of run_task.
    "BacktestPipelineSqsConsumerRole": _lambda(
        function("sqs-consumer") | CONSUMER_TABLES | SQS_EVENT_SOURCE
        | allow(["states:StartExecution"], ["states:stateMachine:tradai-backtest-<env>"])),
    # orphan_scanner: Runs.stuck (Query status index), get/update_item; ecs list/describe/stop_task;
    # stepfunctions describe_execution.
    "BacktestPipelineOrphanScannerRole": _lambda(
        function("orphan-scanner") | table_calls("workflow-state", GET, UPDATE)
        | index_calls("workflow-state", "status-created_at-index", QUERY)
        | allow(["ecs:DescribeTasks", "ecs:StopTask"], [CLUSTER_TASKS]) | allow(["ecs:ListTasks"], ["*"], ON_CLUSTER)
        | allow(["states:DescribeExecution"], ["states:execution:tradai-backtest-<env>:*"])),
    # Backtest ASL: Validate, MarkRunning/Completed/Failed, CollectData, Cleanup, Notify* invokes; RunBacktest .sync.
    "BacktestPipelineStateMachineRole": Role("compute", STATES, frozenset(
        invoke("validate-strategy", "update-status", "data-collection-proxy", "cleanup-resources", "notify-completion")
        | RUN_STRATEGY_SYNC | STATE_MACHINE_OBSERVABILITY)),

    # --- compute: operations (lambda_src/operations, lambda_src/ml_lifecycle) ---
    # health_check: servicediscovery discover_instances; health-state get/put_item + outbox update_item; notify().
    "HealthCheckHandlerRole": _lambda(
        function("health-check") | table_calls("health-state", GET, PUT, UPDATE) | NOTIFIER
        | allow(["servicediscovery:DiscoverInstances"], ["*"],
                "StringEquals servicediscovery:NamespaceName=tradai-<env>.local")),
    # heartbeat_check: trading-state scan + update_item (flip, outbox); notify().
    "TradingHeartbeatCheckHandlerRole": _lambda(function("trading-heartbeat-check")
                                                | table_calls("trading-state", SCAN, UPDATE) | NOTIFIER),
    # drift_monitor: drift-state get/put_item; s3 get_object (no VersionId) under results/drift/ (ListBucket on
    # that prefix makes a missing key a 404); MLflow secret; notify().
    "DriftMonitorHandlerRole": _lambda(
        function("drift-monitor") | table_calls("drift-state", GET, PUT) | NOTIFIER | MLFLOW
        | allow(["s3:GetObject"], [f"{bucket('results')}/drift/*"])
        | allow(["s3:ListBucket"], [bucket("results")], "StringLike s3:prefix=drift/*")),
    # retraining_scheduler: retraining-state get/put/update_item; states start_execution + describe_execution;
    # MLflow (registered models).
    "RetrainingSchedulerHandlerRole": _lambda(
        function("retraining-scheduler") | table_calls("retraining-state", GET, PUT, UPDATE) | MLFLOW
        | allow(["states:StartExecution"], ["states:stateMachine:tradai-retraining-<env>"])
        | allow(["states:DescribeExecution"], ["states:execution:tradai-retraining-<env>:*"])),
    # model_rollback: rollback-state get_item + update_item (Rollbacks.get/append); MLflow; notify().
    "ModelRollbackRole": _lambda(function("model-rollback") | table_calls("rollback-state", GET, UPDATE) | NOTIFIER
                                 | MLFLOW),
    # infra_drift: cloudformation detect_stack_drift, describe_stack_drift_detection_status,
    # describe_stack_resource_drifts on the env's 4 stacks; drift detection reads each resource with the
    # caller's rights (CONFIGURATION_READ_ACTIONS: configuration reads only); infra-drift-state get/put_item
    # + outbox update_item; notify().
    "InfraDriftDetectorJobHandlerRole": _lambda(
        function("infra-drift-detector") | table_calls("infra-drift-state", GET, PUT, UPDATE) | NOTIFIER
        | allow(["cloudformation:DetectStackDrift", "cloudformation:DetectStackResourceDrift",
                 "cloudformation:DescribeStackResourceDrifts"],
                [f"cloudformation:stack/tradai-{stack}-<env>/*"
                 for stack in ("foundation", "persistent", "compute", "edge")])
        | allow(["cloudformation:DescribeStackDriftDetectionStatus"], ["*"])
        | allow(CONFIGURATION_READ_ACTIONS, ["*"]), in_vpc=False),
    # check_retraining: retraining-state get + record (update_item); drift-state get_item; MLflow.
    "RetrainingPipelineCheckRetrainingNeededFunctionRole": _lambda(
        function("check-retraining-needed") | RETRAINING_RECORD | table_calls("drift-state", GET) | MLFLOW),
    # compare_models: retraining-state get/update_item; shadow-test-state get/put/update_item; MLflow.
    "RetrainingPipelineCompareModelsFunctionRole": _lambda(
        function("compare-models") | RETRAINING_RECORD | table_calls("shadow-test-state", GET, PUT, UPDATE)
        | MLFLOW),
    # promote_model: retraining-state get/update_item; deployments record (put/get_item); MLflow set alias/tag.
    "RetrainingPipelinePromoteModelFunctionRole": _lambda(
        function("promote-model") | RETRAINING_RECORD | table_calls("deployments", GET, PUT) | MLFLOW),
    # Retraining ASL: Check/Compare*/Promote/Notify* invokes; Train and ShadowTest .sync; MarkFailed UpdateItem.
    "RetrainingPipelineStateMachineRole": Role("compute", STATES, frozenset(
        invoke("check-retraining-needed", "compare-models", "promote-model", "notify-completion")
        | RUN_STRATEGY_SYNC | STATE_MACHINE_OBSERVABILITY
        | allow(["dynamodb:UpdateItem"], [table("retraining-state")]))),

    # --- compute: strategy deployments (lambda_src/deployments) ---
    # deployer: trading-state get/update_item (slots), deployments get/put/query/update_item, config-versions
    # query (config_hash-index)/get_item; ecs run_task (tags: TagResource)/list_tasks/describe_tasks/stop_task of
    # the trading tasks; Cloud Map register/deregister/get_instance (+ the Route 53 records and VPC check it
    # makes with the caller's rights).
    "StrategyDeploymentDeployerRole": _lambda(
        function("strategy-deployer") | table_calls("trading-state", GET, UPDATE)
        | table_calls("deployments", GET, PUT, UPDATE, QUERY)
        | table_calls("config-versions", GET) | index_calls("config-versions", "config_hash-index", QUERY)
        | allow(["ecs:RunTask"], ["ecs:task-definition/strategy-live-trading-<env>:*",
                                  "ecs:task-definition/strategy-dry-run-trading-<env>:*"], ON_CLUSTER)
        | allow(["iam:PassRole"], [f"iam:role/{mode}{kind}" for mode in ("LiveTrading", "DryRunTrading")
                                   for kind in ("TaskRole", "TaskDefinitionExecutionRole")], TO_ECS_TASKS)
        | allow(["ecs:DescribeTasks", "ecs:StopTask"], [CLUSTER_TASKS])
        | allow(["ecs:TagResource"], [CLUSTER_TASKS], "StringEquals ecs:CreateAction=RunTask")
        | allow(["ecs:ListTasks"], ["*"], ON_CLUSTER)
        | allow(["servicediscovery:RegisterInstance", "servicediscovery:DeregisterInstance",
                 "servicediscovery:GetInstance"], ["servicediscovery:service/live-trading",
                                                   "servicediscovery:service/dry-run-trading"])
        | allow(["route53:ChangeResourceRecordSets", "route53:GetHostedZone"],
                ["route53:hostedzone/<Namespace.HostedZoneId>"])
        | allow(["ec2:DescribeVpcs"], ["*"]), in_vpc=False),
    # Deployment ASL: every step invokes the deployer.
    "StrategyDeploymentStateMachineRole": Role("compute", STATES, frozenset(
        invoke("strategy-deployer") | STATE_MACHINE_OBSERVABILITY)),
}
