"""The backtest pipeline: queue consumers, the Step Functions workflow, its task functions and the orphan scanner.

Flow (spec 2.4): the backtest queue feeds exactly one enabled consumer. ``sqs-consumer`` (LAUNCH_MODE
stepfunctions) starts the workflow: validate -> mark RUNNING -> data collection -> the strategy task on
the configured capacity provider (``.sync``) -> mark COMPLETED -> notify; any failure -> cleanup ->
mark FAILED -> notify -> fail. ``backtest-consumer`` (LAUNCH_MODE ecs) runs the same task directly with
the same overrides. ``orphan-scanner`` fails runs left RUNNING with nothing alive and stops strategy
tasks that belong to no live run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aws_cdk as cdk
from aws_cdk import (
    aws_events as events,
    aws_events_targets as targets,
    aws_iam as iam,
    aws_lambda as lambda_,
    aws_lambda_event_sources as event_sources,
    aws_logs as logs,
    aws_sns as sns,
    aws_sqs as sqs,
    aws_stepfunctions as sfn,
    aws_stepfunctions_tasks as tasks,
)
from constructs import Construct

from lambda_src.backtest import contract
from lambda_src.shared import contract as shared_contract

from .ids import pascal
from .tradai_function import FunctionProps, TradaiFunction, VpcPlacement
from .tradai_table import DELETE, GET, PUT, QUERY, UPDATE
from .workflow_steps import StrategyTask, invoke_step, logged_state_machine, run_strategy_task

CONSUMERS = {"backtest-consumer": contract.LAUNCH_ECS, "sqs-consumer": contract.LAUNCH_STEPFUNCTIONS}
HANDLERS = {
    "backtest-consumer": "backtest.consumer.handler",
    "sqs-consumer": "backtest.consumer.handler",
    "orphan-scanner": "backtest.orphan_scanner.handler",
    "validate-strategy": "backtest.validate_strategy.handler",
    "data-collection-proxy": "backtest.data_collection_proxy.handler",
    "notify-completion": "backtest.notify_completion.handler",
    "update-status": "backtest.update_status.handler",
    "cleanup-resources": "backtest.cleanup_resources.handler",
}
STATUS_INDEX = "status-created_at-index"  # backtest.runs.STATUS_INDEX: Runs.stuck queries it
# The DynamoDB calls of each function (backtest.runs.Runs, Powertools idempotency, shared.notify.Notifier).
RUN_CALLS = {
    "update-status": (GET, UPDATE),  # transition: update_item, get_item when its condition fails
    "consumer": (GET, PUT, UPDATE),  # create_submitted, get, transition / set_fields
    "orphan-scanner": (GET, UPDATE),  # get, transition (+ Query on STATUS_INDEX)
}
IDEMPOTENCY_CALLS = (GET, PUT, UPDATE, DELETE)  # DynamoDBPersistenceLayer: get/put/update/delete_item
NOTIFIER_CALLS = (GET, PUT, UPDATE)  # Notifier: conditional put_item, get_item, update_item


class GrantableTable(Protocol):
    """A table consumers reach by name, with grants of exactly the calls made, on it or on named indexes."""

    @property
    def table_name(self) -> str: ...

    def grant(self, grantee: iam.IGrantable, actions: Sequence[str], indexes: Sequence[str] = ()) -> iam.Grant: ...


@dataclass(frozen=True)
class FunctionSizing:
    function_name: str
    memory_mib: int
    timeout: cdk.Duration
    in_vpc: bool


@dataclass(frozen=True)
class PipelineTables:
    workflow_state: GrantableTable
    idempotency: GrantableTable
    notifications: GrantableTable


@dataclass(frozen=True)
class PipelineTiming:
    run_timeout: cdk.Duration
    task_timeout: cdk.Duration
    orphan_scan_every: cdk.Duration
    stuck_after: cdk.Duration
    run_ttl: cdk.Duration
    consumer_max_concurrency: int


class BacktestPipeline(Construct):
    """Consumers, state machine, functions and grants; ``state_machine`` is what BACKEND_EXECUTOR_MODE needs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, FunctionSizing],
        code: lambda_.Code,
        runtime: lambda_.Runtime,
        layers: Sequence[lambda_.ILayerVersion],
        queue: sqs.IQueue,
        enabled_consumer: str,
        task: StrategyTask,
        tables: PipelineTables,
        alerts_topic: sns.ITopic,
        data_collection_url: str,
        placement: VpcPlacement,
        timing: PipelineTiming,
        log_retention: logs.RetentionDays,
        state_machine_name: str,
    ):
        super().__init__(scope, construct_id)
        if enabled_consumer not in CONSUMERS:
            raise ValueError(f"enabled_consumer={enabled_consumer!r}; allowed: {', '.join(CONSUMERS)}")
        self._task, self._retention = task, log_retention
        common = {
            contract.ENV_WORKFLOW_TABLE: tables.workflow_state.table_name,
            contract.ENV_RUN_TTL_DAYS: str(int(timing.run_ttl.to_days())),
        }
        task_env = {
            contract.ENV_ECS_CLUSTER: task.cluster.cluster_arn,
            contract.ENV_ECS_TASK_PREFIX: task.family_prefix,
            contract.ENV_TASK_FAMILY: task.task_definition.family,
        }

        def build(key: str, environment: Mapping[str, str], async_retries: int | None = None) -> TradaiFunction:
            sizing = functions[key]
            return TradaiFunction(
                self,
                pascal(key),
                props=FunctionProps(
                    function_name=sizing.function_name,
                    handler=HANDLERS[key],
                    code=code,
                    runtime=runtime,
                    memory_mib=sizing.memory_mib,
                    timeout=sizing.timeout,
                    log_retention=log_retention,
                    layers=layers,
                    description=f"TradAI backtest pipeline: {key}",
                ),
                environment=environment,
                placement=placement if sizing.in_vpc else None,
                async_retries=async_retries,
            )

        self.functions: dict[str, TradaiFunction] = {}
        for key in ("validate-strategy", "update-status", "cleanup-resources"):
            self.functions[key] = build(key, {**common, **task_env})
        self.functions["data-collection-proxy"] = build(
            "data-collection-proxy", {contract.ENV_DATA_COLLECTION_URL: data_collection_url}
        )
        self.functions["notify-completion"] = build(
            "notify-completion",
            {
                shared_contract.ENV_NOTIFICATIONS_TABLE: tables.notifications.table_name,
                shared_contract.ENV_ALERTS_TOPIC_ARN: alerts_topic.topic_arn,
            },
        )
        tables.workflow_state.grant(self.functions["update-status"].role, RUN_CALLS["update-status"])
        tables.notifications.grant(self.functions["notify-completion"].role, NOTIFIER_CALLS)
        alerts_topic.grant_publish(self.functions["notify-completion"].role)
        self._grant_stop_tasks(self.functions["cleanup-resources"].role)

        self.state_machine_name = state_machine_name
        self.task_family = task.task_definition.family
        self.state_machine = self._state_machine(state_machine_name, timing)

        launch_env = {
            **common,
            **task_env,
            contract.ENV_IDEMPOTENCY_TABLE: tables.idempotency.table_name,
            contract.ENV_CAPACITY_PROVIDER: task.capacity_provider,
            contract.ENV_TASK_SUBNETS: ",".join(s.subnet_id for s in task.subnets),
            contract.ENV_TASK_SECURITY_GROUPS: task.security_group.security_group_id,
            contract.ENV_STEP_FUNCTIONS_ARN: self.state_machine.state_machine_arn,
        }
        self.consumer_mappings: dict[str, lambda_.EventSourceMapping] = {}
        for key, mode in CONSUMERS.items():
            consumer = build(key, {**launch_env, contract.ENV_LAUNCH_MODE: mode})
            self.functions[key] = consumer
            tables.workflow_state.grant(consumer.role, RUN_CALLS["consumer"])
            tables.idempotency.grant(consumer.role, IDEMPOTENCY_CALLS)
            if mode == contract.LAUNCH_ECS:
                self._grant_run_task(consumer.role)
                self._grant_list_tasks(consumer.role)  # a retried record finds the task it already started
            else:
                self.state_machine.grant_start_execution(consumer.role)
            source = event_sources.SqsEventSource(
                queue,
                batch_size=10,
                report_batch_item_failures=True,
                enabled=key == enabled_consumer,
                max_concurrency=timing.consumer_max_concurrency,
            )
            consumer.function.add_event_source(source)

        scanner = build(
            "orphan-scanner",
            {**common, **task_env, contract.ENV_STUCK_AFTER_MINUTES: str(int(timing.stuck_after.to_minutes()))},
            async_retries=0,
        )
        self.functions["orphan-scanner"] = scanner
        tables.workflow_state.grant(scanner.role, RUN_CALLS["orphan-scanner"])
        tables.workflow_state.grant(scanner.role, [QUERY], indexes=[STATUS_INDEX])
        self._grant_stop_tasks(scanner.role)
        self.grant_read_executions(scanner.role, actions=["states:DescribeExecution"])  # describe_execution only
        self.schedule = events.Rule(
            self,
            "OrphanScanSchedule",
            schedule=events.Schedule.rate(timing.orphan_scan_every),
            description="Fails backtest runs and stops strategy tasks left behind",
        )
        self.schedule.add_target(targets.LambdaFunction(scanner.function, retry_attempts=0))

    def _state_machine(self, name: str, timing: PipelineTiming) -> sfn.StateMachine:
        fns = {key: f.function for key, f in self.functions.items()}
        run_id = sfn.JsonPath.string_at("$.run_id")

        def invoke(
            state_id: str, key: str, payload: dict[str, Any] | None, result_path: str, timeout: cdk.Duration
        ) -> tasks.LambdaInvoke:
            return invoke_step(self, state_id, fns[key], payload, result_path, timeout)

        def status(state_id: str, value: str, **fields: Any) -> tasks.LambdaInvoke:
            return invoke(
                state_id,
                "update-status",
                {"run_id": run_id, "status": value, **fields},
                sfn.JsonPath.DISCARD,
                cdk.Duration.seconds(30),
            )

        def notify(state_id: str, value: str, **fields: Any) -> tasks.LambdaInvoke:
            return invoke(
                state_id,
                "notify-completion",
                {
                    "run_id": run_id,
                    "status": value,
                    "trace_id": sfn.JsonPath.string_at("$.trace_id"),
                    "strategy": sfn.JsonPath.string_at("$.strategy"),
                    **fields,
                },
                sfn.JsonPath.DISCARD,
                cdk.Duration.seconds(30),
            )

        validate = invoke("Validate", "validate-strategy", None, "$.validation", cdk.Duration.seconds(30))
        running = status("MarkRunning", contract.RUNNING, execution_arn=sfn.JsonPath.execution_id)
        collect = invoke(
            "CollectData",
            "data-collection-proxy",
            {
                "run_id": run_id,
                "trace_id": sfn.JsonPath.string_at("$.trace_id"),
                "pairs": sfn.JsonPath.string_at("$.pairs"),
                "timeframe": sfn.JsonPath.string_at("$.timeframe"),
                "timerange": sfn.JsonPath.string_at("$.timerange"),
            },
            "$.data",
            cdk.Duration.seconds(200),
        )
        collect.add_retry(
            errors=["DataSyncUnavailable"], interval=cdk.Duration.seconds(10), max_attempts=3, backoff_rate=2
        )
        run = self._run_task(timing.task_timeout)
        completed = status("MarkCompleted", contract.COMPLETED)
        notify_ok = notify("NotifyCompleted", contract.COMPLETED)

        error = sfn.JsonPath.object_at("$.error")
        cleanup = invoke(
            "Cleanup", "cleanup-resources", {"run_id": run_id, "error": error}, "$.cleanup", cdk.Duration.seconds(60)
        )
        failed = status("MarkFailed", contract.FAILED, error=error)
        notify_failed = notify("NotifyFailed", contract.FAILED, error=error)
        cleanup.next(failed).next(notify_failed).next(
            sfn.Fail(
                self, "BacktestFailed", error="BacktestFailed", cause_path=sfn.JsonPath.format("Run {} failed", run_id)
            )
        )
        for step in (validate, running, collect, run, completed):
            step.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")
        cleanup.add_catch(failed, errors=["States.ALL"], result_path="$.cleanup_error")

        definition = (
            validate.next(running)
            .next(collect)
            .next(run)
            .next(completed)
            .next(notify_ok)
            .next(sfn.Succeed(self, "BacktestSucceeded"))
        )
        return logged_state_machine(self, name, definition, timing.run_timeout, self._retention)

    def grant_read_executions(
        self,
        grantee: iam.IGrantable,
        actions: Sequence[str] = ("states:DescribeExecution", "states:GetExecutionHistory"),
    ) -> iam.Grant:
        """``actions`` (by default DescribeExecution / GetExecutionHistory) on this workflow's executions only."""
        unknown = set(actions) - {"states:DescribeExecution", "states:GetExecutionHistory"}
        if not actions or unknown:
            raise ValueError(f"actions={list(actions)}: allowed: states:DescribeExecution, states:GetExecutionHistory")
        executions = cdk.Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        return iam.Grant.add_to_principal(grantee=grantee, resource_arns=[executions], actions=list(actions))

    def _run_task(self, timeout: cdk.Duration) -> tasks.EcsRunTask:
        """The strategy container with the spec 2.5 per-run overrides taken from the workflow input."""
        return run_strategy_task(
            self,
            "RunBacktest",
            self._task,
            {variable: sfn.JsonPath.string_at(f"$.{field}") for field, variable in contract.RUN_OVERRIDES.items()},
            timeout,
            result_path="$.task",
        )

    def _task_definition_arn(self) -> str:
        """Every revision of the strategy task's family."""
        stack = cdk.Stack.of(self)
        return stack.format_arn(
            service="ecs", resource="task-definition", resource_name=f"{self._task.task_definition.family}:*"
        )

    def _grant_run_task(self, role: iam.IRole) -> None:
        task = self._task
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:RunTask"],
                resources=[self._task_definition_arn()],
                conditions={"ArnEquals": {"ecs:cluster": task.cluster.cluster_arn}},
            )
        )
        roles = [task.task_definition.task_role]
        if task.task_definition.execution_role is not None:
            roles.append(task.task_definition.execution_role)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[r.role_arn for r in roles],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:TagResource"],
                resources=[self._tasks_arn()],
                conditions={"StringEquals": {"ecs:CreateAction": "RunTask"}},
            )
        )

    def _tasks_arn(self) -> str:
        """Tasks of this cluster (task ids are generated at launch)."""
        return cdk.Stack.of(self).format_arn(
            service="ecs", resource="task", resource_name=f"{self._task.cluster.cluster_name}/*"
        )

    def _grant_stop_tasks(self, role: iam.IRole) -> None:
        """List, describe and stop tasks in this cluster only."""
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:DescribeTasks", "ecs:StopTask"], resources=[self._tasks_arn()])
        )
        self._grant_list_tasks(role)

    def _grant_list_tasks(self, role: iam.IRole) -> None:
        """ListTasks has no resource-level permission; the condition keeps it to this cluster."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:ListTasks"],
                resources=["*"],
                conditions={"ArnEquals": {"ecs:cluster": self._task.cluster.cluster_arn}},
            )
        )
