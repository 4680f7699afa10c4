"""The compute stack's operations wiring (spec 7): scheduled checks, the model lifecycle, the drift detector.

Translates the config into the props of ScheduledFunction, RetrainingPipeline, StackDriftDetector and
TradaiFunction, and grants each function exactly the tables, secret, bucket prefix and APIs its handler uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import (
    aws_events as events,
    aws_iam as iam,
    aws_lambda as lambda_,
    aws_logs as logs,
    aws_secretsmanager as secretsmanager,
    aws_sns as sns,
)
from constructs import Construct

from lambda_src.ml_lifecycle import contract as ml
from lambda_src.operations import contract as ops
from lambda_src.shared import contract as shared_contract

from ..config.model import TradaiConfig
from ..config.validation import required
from ..constructs.ids import pascal
from ..constructs.retraining_pipeline import RetrainingFunction, RetrainingPipeline, RetrainingTables, RetrainingTiming
from ..constructs.scheduled_function import ScheduledFunction
from ..constructs.stack_drift_detector import StackDriftDetector
from ..constructs.tradai_bucket import TradaiBucket
from ..constructs.tradai_function import FunctionProps, TradaiFunction, VpcPlacement
from ..constructs.tradai_table import GET, PUT, SCAN, UPDATE, TradaiTable
from ..constructs.workflow_steps import StrategyTask
from .lambda_assets import lambda_code, lambda_runtime

MLFLOW_SECRET = "tradai/mlflow-credentials"
NOTIFIER_CALLS = (GET, PUT, UPDATE)  # shared.notify.Notifier: conditional put_item, get_item, update_item
STACKS = ("foundation", "persistent", "compute", "edge")  # the stacks of one environment (config.naming)
HANDLERS = {
    "health-check": "operations.health_check.handler",
    "trading-heartbeat-check": "operations.heartbeat_check.handler",
    "drift-monitor": "ml_lifecycle.drift_monitor.handler",
    "retraining-scheduler": "ml_lifecycle.retraining_scheduler.handler",
    "model-rollback": "ml_lifecycle.model_rollback.handler",
    "infra-drift-detector": "operations.infra_drift.handler",
}
DESCRIPTIONS = {
    "health-check": "Probes each service's health endpoint through Cloud Map; alerts on state changes",
    "trading-heartbeat-check": "Marks live and dry-run strategies whose heartbeat is stale; alerts once",
    "drift-monitor": "Data (PSI) and model drift of each champion model; flags models over the thresholds",
    "retraining-scheduler": "Starts the retraining workflow for each registered model",
    "model-rollback": "Rolls a model's champion alias back to a named or the previous version (backend-api)",
    "infra-drift-detector": "CloudFormation drift detection of this environment's stacks; alerts on new drift",
}


class Operations:
    """Builds the operations functions into ``scope``; ``functions`` maps spec 7 keys to what was built."""

    def __init__(
        self,
        scope: Construct,
        *,
        config: TradaiConfig,
        tables: Mapping[str, TradaiTable],
        buckets: Mapping[str, TradaiBucket],
        secrets: Mapping[str, secretsmanager.ISecret],
        alerts_topic: sns.ITopic,
        placement: VpcPlacement,
        layers: Sequence[lambda_.ILayerVersion],
        strategy_task: StrategyTask,
        notify_function: lambda_.Function,
        runtime_managed: Sequence[str],
        log_retention: logs.RetentionDays,
    ):
        self._scope, self._config, self._tables = scope, config, tables
        self._alerts, self._layers, self._retention = alerts_topic, layers, log_retention
        self._mlflow_secret = secrets[MLFLOW_SECRET]
        self.functions: dict[str, lambda_.IFunction] = {}
        self.schedules: dict[str, events.Rule] = {}
        mlflow = config.service("mlflow")
        self._mlflow_env = {
            ml.ENV_MLFLOW_TRACKING_URI: f"http://{mlflow.name}.{config.namespace}:{mlflow.port}"
            f"{config.compute.mlflow_base_path}",
            ml.ENV_MLFLOW_CREDENTIALS_SECRET_ARN: self._mlflow_secret.secret_arn,
            ml.ENV_CHAMPION_ALIAS: config.operations.champion_alias,
            ml.ENV_STATE_TTL_DAYS: str(config.operations.state_ttl_days),
        }
        self._notifier_env = {
            shared_contract.ENV_NOTIFICATIONS_TABLE: tables["notifications"].table_name,
            shared_contract.ENV_ALERTS_TOPIC_ARN: alerts_topic.topic_arn,
        }
        self._health_check(placement)
        self._heartbeat_check(placement)
        self._drift_monitor(placement, buckets["results"])
        self.retraining = self._retraining(placement, strategy_task, notify_function)
        self._retraining_scheduler(placement)
        self.rollback = self._model_rollback(placement)
        self.drift_detector = self._infra_drift_detector(runtime_managed)

    # --- building blocks ---------------------------------------------------------------------------------------

    def _props(self, key: str) -> FunctionProps:
        spec = self._config.lambda_spec(key)
        return FunctionProps(
            function_name=self._config.function_name(key),
            handler=HANDLERS[key],
            code=lambda_code(self._config.lambda_runtime),
            runtime=lambda_runtime(self._config.lambda_runtime),
            memory_mib=spec.memory_mib,
            timeout=cdk.Duration.seconds(spec.timeout_seconds),
            log_retention=self._retention,
            layers=self._layers,
            description=DESCRIPTIONS[key],
        )

    def _scheduled(
        self,
        key: str,
        environment: Mapping[str, str],
        placement: VpcPlacement,
        grants: Sequence[Callable[[iam.IGrantable], object]],
    ) -> ScheduledFunction:
        spec = self._config.lambda_spec(key)
        job = ScheduledFunction(
            self._scope,
            pascal(key),
            props=self._props(key),
            environment=environment,
            every=cdk.Duration.minutes(required(spec.schedule_minutes, f"{key} schedule_minutes")),
            placement=placement if spec.in_vpc else None,
        )
        for grant in grants:
            grant(job.role)
        self.functions[key], self.schedules[key] = job.function, job.rule
        return job

    def _notifies(self, role: iam.IGrantable) -> None:
        self._tables["notifications"].grant(role, NOTIFIER_CALLS)
        self._alerts.grant_publish(role)

    def _calls(self, table: str, *actions: str) -> Callable[[iam.IGrantable], object]:
        """A grant of exactly the DynamoDB ``actions`` (the handler's client calls) on ``table``."""
        return lambda role: self._tables[table].grant(role, actions)

    def _mlflow(self, role: iam.IGrantable) -> None:
        self._mlflow_secret.grant_read(role)

    def _table(self, key: str) -> str:
        return self._tables[key].table_name

    # --- spec 7 functions --------------------------------------------------------------------------------------

    def _health_check(self, placement: VpcPlacement) -> None:
        config, settings = self._config, self._config.operations
        # The port is used only when Cloud Map records none for an instance (A-record registrations).
        targets = [{"service": s.name, "path": s.health_check_path, "port": s.port} for s in config.services]
        job = self._scheduled(
            "health-check",
            {
                **self._notifier_env,
                ops.ENV_HEALTH_TABLE: self._table("health-state"),
                ops.ENV_SERVICE_NAMESPACE: config.namespace,
                ops.ENV_HEALTH_TARGETS: json.dumps(targets),
                ops.ENV_PROBE_TIMEOUT_SECONDS: str(settings.health_probe_timeout_seconds),
                ops.ENV_HEALTH_TTL_MINUTES: str(settings.health_state_ttl_minutes),
            },
            placement,
            [self._calls("health-state", GET, PUT, UPDATE), self._notifies],  # StateTable, Outbox
        )
        # DiscoverInstances has no resource-level permission; the condition keeps it to this namespace.
        job.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["servicediscovery:DiscoverInstances"],
                resources=["*"],
                conditions={"StringEquals": {"servicediscovery:NamespaceName": config.namespace}},
            )
        )

    def _heartbeat_check(self, placement: VpcPlacement) -> None:
        self._scheduled(
            "trading-heartbeat-check",
            {
                **self._notifier_env,
                ops.ENV_TRADING_TABLE: self._table("trading-state"),
                ops.ENV_HEARTBEAT_STALE_MINUTES: str(self._config.operations.heartbeat_stale_minutes),
            },
            placement,
            [self._calls("trading-state", SCAN, UPDATE), self._notifies],  # TradingStates, Outbox
        )

    def _drift_monitor(self, placement: VpcPlacement, results: TradaiBucket) -> None:
        settings = self._config.operations
        self._scheduled(
            "drift-monitor",
            {
                **self._notifier_env,
                **self._mlflow_env,
                ml.ENV_DRIFT_TABLE: self._table("drift-state"),
                ml.ENV_RESULTS_BUCKET: results.bucket_name,
                ml.ENV_PERFORMANCE_METRIC: settings.performance_metric,
                ml.ENV_PSI_THRESHOLD: str(settings.drift_psi_threshold),
                ml.ENV_PERFORMANCE_DROP_THRESHOLD: str(settings.performance_drop_threshold),
            },
            placement,
            [
                self._calls("drift-state", GET, PUT),
                self._notifies,
                self._mlflow,  # DriftStates
                lambda role: self._grant_drift_inputs(role, results),
            ],
        )

    @staticmethod
    def _grant_drift_inputs(role: iam.IGrantable, results: TradaiBucket) -> None:
        """GetObject (latest version only) under drift/ of the results bucket, and ListBucket of that prefix so
        a missing key reads as 404, not 403 (drift_inputs.DriftInputs.read)."""
        prefix = f"{ml.DRIFT_PREFIX}/"
        role.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{results.bucket_arn}/{prefix}*"])
        )
        role.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[results.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )

    def _retraining(
        self, placement: VpcPlacement, task: StrategyTask, notify_function: lambda_.Function
    ) -> RetrainingPipeline:
        config, settings = self._config, self._config.operations

        def function(key: str, **extra: str) -> RetrainingFunction:
            spec = config.lambda_spec(key)
            return RetrainingFunction(
                config.function_name(key),
                spec.memory_mib,
                cdk.Duration.seconds(spec.timeout_seconds),
                {**self._mlflow_env, **extra},
            )

        pipeline = RetrainingPipeline(
            self._scope,
            "RetrainingPipeline",
            code=lambda_code(config.lambda_runtime),
            runtime=lambda_runtime(config.lambda_runtime),
            layers=self._layers,
            placement=placement,
            task=task,
            mlflow_secret=self._mlflow_secret,
            notify=notify_function,
            log_retention=self._retention,
            state_machine_name=config.naming.name("retraining"),
            functions={
                "check-retraining-needed": function(
                    "check-retraining-needed",
                    **{
                        ml.ENV_MAX_MODEL_AGE_DAYS: str(settings.max_model_age_days),
                        ml.ENV_SHADOW_WINDOW_DAYS: str(settings.shadow_window_days),
                    },
                ),
                "compare-models": function(
                    "compare-models",
                    **{
                        ml.ENV_PERFORMANCE_METRIC: settings.performance_metric,
                        ml.ENV_MIN_IMPROVEMENT: str(settings.min_improvement),
                    },
                ),
                "promote-model": function(
                    "promote-model",
                    **{ml.ENV_ENVIRONMENT: config.env, ml.ENV_DEPLOYMENT_TTL_DAYS: str(settings.deployment_ttl_days)},
                ),
            },
            tables=RetrainingTables(
                retraining_state=self._tables["retraining-state"],
                shadow_test_state=self._tables["shadow-test-state"],
                deployments=self._tables["deployments"],
                drift_state=self._tables["drift-state"],
            ),
            timing=RetrainingTiming(
                train_timeout=cdk.Duration.minutes(settings.train_timeout_minutes),
                shadow_timeout=cdk.Duration.minutes(settings.shadow_timeout_minutes),
                run_timeout=cdk.Duration.hours(settings.retraining_timeout_hours),
            ),
        )
        self.functions.update({key: built.function for key, built in pipeline.functions.items()})
        cdk.Tags.of(pipeline).add("Service", "retraining-pipeline")
        return pipeline

    def _retraining_scheduler(self, placement: VpcPlacement) -> None:
        every = required(
            self._config.lambda_spec("retraining-scheduler").schedule_minutes, "retraining-scheduler schedule_minutes"
        )
        self._scheduled(
            "retraining-scheduler",
            {
                **self._mlflow_env,
                ml.ENV_RETRAINING_TABLE: self._table("retraining-state"),
                ml.ENV_RETRAINING_STATE_MACHINE_ARN: self.retraining.state_machine.state_machine_arn,
                ml.ENV_SCHEDULE_WINDOW_HOURS: str(max(1, every // 60)),
                # A run left unfinished longer than the workflow may run is abandoned and may be replaced.
                ml.ENV_RETRAINING_STALE_AFTER_HOURS: str(self._config.operations.retraining_timeout_hours + 1),
            },
            placement,
            [
                self._calls("retraining-state", GET, PUT, UPDATE),  # Retrainings get/schedule/set_execution
                self._mlflow,
                self.retraining.grant_start,
            ],
        )

    def _model_rollback(self, placement: VpcPlacement) -> TradaiFunction:
        rollback = TradaiFunction(
            self._scope,
            "ModelRollback",
            props=self._props("model-rollback"),
            placement=placement,
            environment={
                **self._notifier_env,
                **self._mlflow_env,
                ml.ENV_ROLLBACK_TABLE: self._table("rollback-state"),
            },
        )
        self._tables["rollback-state"].grant(rollback.role, [GET, UPDATE])  # Rollbacks get/append
        self._notifies(rollback.role)
        self._mlflow(rollback.role)
        self.functions["model-rollback"] = rollback.function
        return rollback

    def _infra_drift_detector(self, runtime_managed: Sequence[str]) -> StackDriftDetector:
        config = self._config
        spec = config.lambda_spec("infra-drift-detector")
        detector = StackDriftDetector(
            self._scope,
            "InfraDriftDetector",
            props=self._props("infra-drift-detector"),
            every=cdk.Duration.minutes(required(spec.schedule_minutes, "infra-drift-detector schedule_minutes")),
            stack_names=[config.naming.name(stack) for stack in STACKS],
            runtime_managed=runtime_managed,
            detection_timeout=cdk.Duration.seconds(config.operations.drift_detection_timeout_seconds),
            environment={**self._notifier_env, ops.ENV_INFRA_DRIFT_TABLE: self._table("infra-drift-state")},
        )
        self._tables["infra-drift-state"].grant(detector.role, [GET, PUT, UPDATE])  # StateTable, Outbox
        self._notifies(detector.role)
        self.functions["infra-drift-detector"] = detector.function
        self.schedules["infra-drift-detector"] = detector.job.rule
        return detector
