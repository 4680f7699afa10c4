"""The model retraining workflow: check -> train -> compare -> shadow test -> compare -> promote -> notify.

Execution input {"retraining_id", "model_name"} (the retraining scheduler starts one per model and window):
check-retraining-needed decides; the strategy container trains in ``train`` mode and registers a challenger
version; compare-models keeps it only when it beats the champion; the strategy container backtests it on
an out-of-sample window (the shadow test); compare-models judges the shadow run; promote-model moves the
champion alias. Any failure marks tradai-retraining-state FAILED (only if this run still owns the item),
notifies and fails the execution. Every step is idempotent, so a redriven execution is safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aws_cdk as cdk
from aws_cdk import (
    aws_iam as iam,
    aws_lambda as lambda_,
    aws_logs as logs,
    aws_secretsmanager as secretsmanager,
    aws_stepfunctions as sfn,
    aws_stepfunctions_tasks as tasks,
)
from constructs import Construct

from lambda_src.backtest import contract as backtest_contract
from lambda_src.ml_lifecycle import contract

from .ids import pascal
from .tradai_function import FunctionProps, TradaiFunction, VpcPlacement
from .tradai_table import GET, PUT, UPDATE
from .workflow_steps import StrategyTask, invoke_step, logged_state_machine, run_strategy_task, step_timeout

STEP_MARGIN = cdk.Duration.seconds(10)  # a Lambda task's timeout beyond its function's own
HANDLERS = {
    "check-retraining-needed": "ml_lifecycle.check_retraining.handler",
    "compare-models": "ml_lifecycle.compare_models.handler",
    "promote-model": "ml_lifecycle.promote_model.handler",
}
# The DynamoDB calls of each function (ml_lifecycle.retraining_state / state): table field -> actions.
TABLE_CALLS: dict[str, dict[str, tuple[str, ...]]] = {
    "check-retraining-needed": {
        "retraining_state": (GET, UPDATE),  # Retrainings get/record
        "drift_state": (GET,),  # DriftStates.get
    },
    "compare-models": {
        "retraining_state": (GET, UPDATE),  # Retrainings get/record
        "shadow_test_state": (GET, PUT, UPDATE),  # ShadowTests get/create/finish
    },
    "promote-model": {
        "retraining_state": (GET, UPDATE),  # Retrainings get/record
        "deployments": (GET, PUT),  # Deployments.record: conditional put_item, get_item
    },
}


class StateTable(Protocol):
    @property
    def table_name(self) -> str: ...
    @property
    def table_arn(self) -> str: ...

    def grant(self, grantee: iam.IGrantable, actions: Sequence[str], indexes: Sequence[str] = ()) -> iam.Grant: ...


@dataclass(frozen=True)
class RetrainingTables:
    retraining_state: StateTable
    shadow_test_state: StateTable
    deployments: StateTable
    drift_state: StateTable


@dataclass(frozen=True)
class RetrainingFunction:
    """Name, sizing and the settings (environment) of one of the workflow's functions."""

    function_name: str
    memory_mib: int
    timeout: cdk.Duration
    settings: Mapping[str, str]


@dataclass(frozen=True)
class RetrainingTiming:
    train_timeout: cdk.Duration
    shadow_timeout: cdk.Duration
    run_timeout: cdk.Duration


class RetrainingPipeline(Construct):
    """The three workflow functions (in the VPC: they call MLflow) and the state machine that runs them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, RetrainingFunction],
        code: lambda_.Code,
        runtime: lambda_.Runtime,
        layers: Sequence[lambda_.ILayerVersion],
        placement: VpcPlacement,
        task: StrategyTask,
        tables: RetrainingTables,
        mlflow_secret: secretsmanager.ISecret,
        notify: lambda_.Function,
        timing: RetrainingTiming,
        log_retention: logs.RetentionDays,
        state_machine_name: str,
    ):
        super().__init__(scope, construct_id)
        missing = sorted(set(HANDLERS) - set(functions))
        if missing:
            raise ValueError(f"functions is missing {', '.join(missing)}; required: {', '.join(HANDLERS)}")
        tables_env = {
            "check-retraining-needed": {contract.ENV_DRIFT_TABLE: tables.drift_state.table_name},
            "compare-models": {contract.ENV_SHADOW_TABLE: tables.shadow_test_state.table_name},
            "promote-model": {contract.ENV_DEPLOYMENTS_TABLE: tables.deployments.table_name},
        }
        self.functions: dict[str, TradaiFunction] = {}
        for key, handler in HANDLERS.items():
            spec = functions[key]
            built = TradaiFunction(
                self,
                f"{pascal(key)}Function",
                placement=placement,
                props=FunctionProps(
                    function_name=spec.function_name,
                    handler=handler,
                    code=code,
                    runtime=runtime,
                    memory_mib=spec.memory_mib,
                    timeout=spec.timeout,
                    log_retention=log_retention,
                    layers=layers,
                    description=f"TradAI retraining workflow: {key}",
                ),
                environment={
                    **spec.settings,
                    **tables_env[key],
                    contract.ENV_RETRAINING_TABLE: tables.retraining_state.table_name,
                    contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN: mlflow_secret.secret_arn,
                },
            )
            mlflow_secret.grant_read(built.role)
            for table, actions in TABLE_CALLS[key].items():
                getattr(tables, table).grant(built.role, actions)
            self.functions[key] = built

        self._task, self._tables, self._notify = task, tables, notify
        self.state_machine_name = state_machine_name
        self.state_machine = self._state_machine(timing, log_retention)

    def _state_machine(self, timing: RetrainingTiming, log_retention: logs.RetentionDays) -> sfn.StateMachine:
        path = sfn.JsonPath.string_at
        identity = {"retraining_id": path("$.retraining_id"), "model_name": path("$.model_name")}

        check = self._ml_step("CheckRetrainingNeeded", "check-retraining-needed", identity, "$.check")
        train = run_strategy_task(
            self,
            "Train",
            self._task,
            {
                "JOB_ID": path("$.retraining_id"),
                "STRATEGY": path("$.check.strategy"),
                "TRADING_MODE": contract.TRAIN_MODE,
                "EXPERIMENT_NAME": path("$.model_name"),
            },
            timing.train_timeout,
            result_path=sfn.JsonPath.DISCARD,
        )
        candidate = self._ml_step(
            "CompareCandidate",
            "compare-models",
            {**identity, "phase": contract.PHASE_CANDIDATE, "champion_version": path("$.check.champion_version")},
            "$.candidate",
        )
        shadow = run_strategy_task(
            self,
            "ShadowTest",
            self._task,
            {
                "JOB_ID": path("$.candidate.test_id"),
                "STRATEGY": path("$.check.strategy"),
                "TRADING_MODE": contract.SHADOW_MODE,
                "EXPERIMENT_NAME": path("$.model_name"),
                "TIMERANGE": path("$.check.shadow_timerange"),
                contract.ENV_MODEL_VERSION_OVERRIDE: path("$.candidate.challenger_version"),
            },
            timing.shadow_timeout,
            result_path=sfn.JsonPath.DISCARD,
        )
        versions = {
            "champion_version": path("$.candidate.champion_version"),
            "challenger_version": path("$.candidate.challenger_version"),
        }
        judge = self._ml_step(
            "CompareShadow",
            "compare-models",
            {**identity, **versions, "phase": contract.PHASE_SHADOW, "test_id": path("$.candidate.test_id")},
            "$.shadow",
        )
        promote = self._ml_step(
            "PromoteModel",
            "promote-model",
            {**identity, **versions, "strategy": path("$.check.strategy")},
            "$.promotion",
        )

        done = sfn.Succeed(self, "RetrainingFinished")
        promoted = self._notify_step(
            "NotifyPromoted",
            backtest_contract.COMPLETED,
            sfn.JsonPath.format("promoted version {}", path("$.candidate.challenger_version")),
        )
        rejected = self._notify_step(
            "NotifyRejected",
            backtest_contract.COMPLETED,
            sfn.JsonPath.format("challenger rejected: {}", path("$.candidate.reason")),
        )
        shadow_failed = self._notify_step(
            "NotifyShadowFailed",
            backtest_contract.COMPLETED,
            sfn.JsonPath.format("shadow test failed: {}", path("$.shadow.reason")),
        )
        failure = self._failure_path()
        for step in (check, train, candidate, shadow, judge, promote):
            step.add_catch(failure, errors=["States.ALL"], result_path="$.error")

        definition = check.next(
            sfn.Choice(self, "RetrainingNeeded?")
            .when(
                sfn.Condition.boolean_equals("$.check.needed", True),
                train.next(candidate).next(
                    sfn.Choice(self, "ChallengerBetter?")
                    .when(
                        sfn.Condition.boolean_equals("$.candidate.better", True),
                        shadow.next(judge).next(
                            sfn.Choice(self, "ShadowPassed?")
                            .when(
                                sfn.Condition.boolean_equals("$.shadow.better", True), promote.next(promoted).next(done)
                            )
                            .otherwise(shadow_failed.next(done))
                        ),
                    )
                    .otherwise(rejected.next(done))
                ),
            )
            .otherwise(sfn.Succeed(self, "RetrainingNotNeeded"))
        )
        return logged_state_machine(self, self.state_machine_name, definition, timing.run_timeout, log_retention)

    def _ml_step(
        self, state_id: str, key: str, payload: Mapping[str, Any] | None, result_path: str
    ) -> tasks.LambdaInvoke:
        """A workflow function step (its task timeout: the function's plus a margin for the invoke); an MLflow
        outage is retried for about 15 minutes (every step is idempotent)."""
        function = self.functions[key].function
        timeout = function.timeout.plus(STEP_MARGIN) if function.timeout else STEP_MARGIN
        step = invoke_step(self, state_id, function, payload, result_path, timeout)
        step.add_retry(
            errors=[contract.MLFLOW_UNAVAILABLE_ERROR],
            interval=cdk.Duration.seconds(30),
            max_attempts=5,
            backoff_rate=2,
        )
        return step

    def _notify_step(self, state_id: str, status: str, outcome: str, **fields: Any) -> tasks.LambdaInvoke:
        return invoke_step(
            self,
            state_id,
            self._notify,
            {
                "kind": "retraining",
                "run_id": sfn.JsonPath.string_at("$.retraining_id"),
                "status": status,
                "strategy": sfn.JsonPath.string_at("$.model_name"),
                "outcome": outcome,
                **fields,
            },
            sfn.JsonPath.DISCARD,
            step_timeout(self._notify, STEP_MARGIN),
        )

    def _failure_path(self) -> sfn.IChainable:
        """Mark the model's retraining FAILED if this run still owns it, notify (alert), fail the execution."""
        table = self._tables.retraining_state
        mark = tasks.CallAwsService(
            self,
            "MarkFailed",
            service="dynamodb",
            action="updateItem",
            iam_resources=[table.table_arn],
            iam_action="dynamodb:UpdateItem",
            result_path=sfn.JsonPath.DISCARD,
            parameters={
                "TableName": table.table_name,
                "Key": {"model_name": {"S": sfn.JsonPath.string_at("$.model_name")}},
                "UpdateExpression": "SET #status = :failed, updated_at = :now, #error = :error",
                "ConditionExpression": "retraining_id = :id",
                "ExpressionAttributeNames": {"#status": "status", "#error": "error"},
                "ExpressionAttributeValues": {
                    ":failed": {"S": contract.FAILED},
                    ":id": {"S": sfn.JsonPath.string_at("$.retraining_id")},
                    ":now": {"S": sfn.JsonPath.string_at("$$.State.EnteredTime")},
                    ":error": {"S": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.error"))},
                },
            },
        )
        notify = self._notify_step(
            "NotifyFailed", backtest_contract.FAILED, "retraining failed", error=sfn.JsonPath.object_at("$.error")
        )
        mark.add_catch(notify, errors=["States.ALL"], result_path="$.mark_error")
        return mark.next(notify).next(
            sfn.Fail(
                self,
                "RetrainingFailed",
                error="RetrainingFailed",
                cause_path=sfn.JsonPath.format("Retraining {} failed", sfn.JsonPath.string_at("$.retraining_id")),
            )
        )

    def grant_start(self, grantee: iam.IGrantable) -> None:
        """StartExecution, and DescribeExecution of this workflow's executions (to recognise a run it started)."""
        self.state_machine.grant_start_execution(grantee)
        executions = cdk.Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        iam.Grant.add_to_principal(grantee=grantee, resource_arns=[executions], actions=["states:DescribeExecution"])
