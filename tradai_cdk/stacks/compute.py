"""Compute stack: ECS cluster, services, on-demand tasks, ALB, Cloud Map, ECR, backtest queue (spec 2, 6, 10).

Translates the config into the props of the constructs in ``tradai_cdk/constructs`` and wires them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import (
    aws_cloudwatch as cloudwatch,
    aws_cloudwatch_actions as cw_actions,
    aws_ec2 as ec2,
    aws_ecs as ecs,
    aws_elasticloadbalancingv2 as elbv2,
    aws_iam as iam,
    aws_secretsmanager as secretsmanager,
    aws_servicediscovery as servicediscovery,
    aws_sns as sns,
)
from constructs import Construct

from ..config import require_image_tag
from ..config.model import ComputeMode, ExecutorMode, ServiceSpec, TaskSpec
from ..config.validation import required
from ..constructs.alarms import FunctionAlarms, StateMachineAlarms, alarm, service_below_desired
from ..constructs.backtest_pipeline import (
    BacktestPipeline,
    FunctionSizing,
    PipelineTables,
    PipelineTiming,
)
from ..constructs.container_security import ContainerSecurity
from ..constructs.fifo_work_queue import FifoWorkQueue
from ..constructs.image_repositories import ImageRepositories
from ..constructs.on_demand_task import OnDemandTask
from ..constructs.service_load_balancer import ServiceLoadBalancer
from ..constructs.shared_ecs_host import SharedEcsHost
from ..constructs.strategy_deployment import DeploymentTables, DeploymentTiming, StrategyDeployment, TradingMode
from ..constructs.tradai_bucket import TradaiBucket
from ..constructs.tradai_function import FunctionProps, VpcPlacement
from ..constructs.tradai_service import (
    FargatePlacement,
    Grant,
    LoadBalancing,
    ServiceProps,
    SharedHostPlacement,
    TradaiService,
)
from ..constructs.tradai_table import TradaiTable
from ..constructs.workflow_steps import StrategyTask
from .base import TradaiStack, log_retention, pascal
from .lambda_assets import lambda_code, lambda_runtime, powertools_layer
from .operations import Operations
from .persistent import ALB_LOG_PREFIX, LOGS_BUCKET


@dataclass(frozen=True)
class Access:
    """What one workload may touch; becomes both its IAM grants and its environment variables."""

    tables_rw: Sequence[str] = ()
    tables_read: Sequence[str] = ()
    buckets_rw: Sequence[str] = ()
    buckets_read: Sequence[str] = ()
    secrets: Sequence[str] = ()


# Least privilege per workload (keys of config.tables / config.buckets / config.secrets).
SERVICE_ACCESS = {
    "backend-api": Access(
        tables_rw=("workflow-state", "deployments", "config-versions", "rollback-state"),
        tables_read=("trading-state", "health-state"),
        buckets_rw=("configs",),
        buckets_read=("results",),
        secrets=("tradai/database-url", "tradai/jwt-secret"),
    ),
    # Market data comes from the exchange's public endpoints: only live trading holds the Binance API key.
    "data-collection": Access(tables_rw=("health-state",), buckets_rw=("arcticdb",)),
    "mlflow": Access(buckets_rw=("mlflow",), secrets=("tradai/database-url", "tradai/mlflow-credentials")),
    "strategy-service": Access(
        tables_rw=("deployments", "config-versions", "trading-state"), buckets_read=("configs",)
    ),
}
TASK_ACCESS = {
    "strategy-container": Access(
        tables_rw=("workflow-state",), buckets_rw=("results",), buckets_read=("configs", "arcticdb")
    ),
    "live-trading": Access(
        tables_rw=("trading-state",), buckets_read=("configs", "arcticdb"), secrets=("tradai/binance-api",)
    ),
    "dry-run-trading": Access(tables_rw=("trading-state",), buckets_read=("configs", "arcticdb")),
}
# Internal services answer on the ALB only to requests that name them (diagnostics, health checks).
MLFLOW_RULE_PRIORITY = 10
DEFAULT_SERVICE = "backend-api"
DEPLOYER = "strategy-deployer"
TRADING_TASKS = {"dry-run": "dry-run-trading", "live": "live-trading"}  # trading mode -> on-demand task (spec 2.2)
PIPELINE_FUNCTIONS = (
    "backtest-consumer",
    "sqs-consumer",
    "orphan-scanner",
    "validate-strategy",
    "data-collection-proxy",
    "notify-completion",
    "update-status",
    "cleanup-resources",
)


def _env_name(key: str, suffix: str) -> str:
    return f"{key.upper().replace('-', '_')}_{suffix}"


class ComputeStack(TradaiStack):
    """Everything that runs containers, and the ALB in front of the services."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        private_subnets: Sequence[ec2.ISubnet],
        public_subnets: Sequence[ec2.ISubnet],
        security_groups: Mapping[str, ec2.ISecurityGroup],
        tables: Mapping[str, TradaiTable],
        buckets: Mapping[str, TradaiBucket],
        secrets: Mapping[str, secretsmanager.ISecret],
        alerts_topic: sns.ITopic,
        runtime_managed: Sequence[str],
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        config = self.config
        self._tables, self._buckets, self._secrets = tables, buckets, secrets
        self._retention = log_retention(config.profile.log_retention_days)
        # Imported read-only: the SG rules are exactly spec 4.1's, so CDK must not add its own.
        ecs_sg = self._frozen("EcsSecurityGroup", security_groups["ecs"])
        alb_sg = self._frozen("AlbSecurityGroup", security_groups["alb"])
        lambda_sg = self._frozen("LambdaSecurityGroup", security_groups["lambda"])

        self._images = self._image_repositories()
        self._image_tag = require_image_tag(config.compute.image_tag)
        self.repositories = self._images.repositories
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=f"{config.naming.project}-{config.env}",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED
            if config.compute.container_insights
            else ecs.ContainerInsights.DISABLED,
            enable_fargate_capacity_providers=True,
        )
        self.shared_host = self._shared_host(private_subnets, ecs_sg)
        self.namespace = servicediscovery.PrivateDnsNamespace(self, "Namespace", name=config.namespace, vpc=vpc)
        self.discovery = {entry.name: self._discovery_service(entry.name) for entry in config.service_discovery}
        balancer = self._load_balancer(vpc, public_subnets, alb_sg, buckets[LOGS_BUCKET])
        self.load_balancer, self.listener = balancer.load_balancer, balancer.listener
        backtest = self._backtest_queue()
        self.backtest_queue, self.backtest_dlq = backtest.queue, backtest.dead_letter_queue
        self.task_definitions = {task.name: self._on_demand_task(task) for task in config.on_demand_tasks}
        self._layers = [powertools_layer(self, config.powertools_version, config.lambda_runtime)]
        self.pipeline = self._pipeline(private_subnets, ecs_sg, lambda_sg, vpc, alerts_topic)
        self.operations = Operations(
            self,
            config=config,
            tables=tables,
            buckets=buckets,
            secrets=secrets,
            alerts_topic=alerts_topic,
            placement=VpcPlacement(vpc=vpc, subnets=private_subnets, security_group=lambda_sg),
            layers=self._layers,
            strategy_task=self._strategy_task(private_subnets, ecs_sg),
            notify_function=self.pipeline.functions["notify-completion"].function,
            runtime_managed=runtime_managed,
            log_retention=self._retention,
        )
        self.deployment = self._strategy_deployment(private_subnets, ecs_sg)

        self.services = {}
        for spec in sorted(config.services, key=lambda s: s.name != DEFAULT_SERVICE):
            placement = (
                FargatePlacement(subnets=private_subnets, security_group=ecs_sg)
                if self.shared_host is None
                else SharedHostPlacement(
                    capacity_provider=self.shared_host.capacity_provider.capacity_provider_name,
                    memory_reservation_mib=required(
                        config.profile.consolidated_host, "profile.consolidated_host"
                    ).reservation(spec.name),
                )
            )
            self.services[spec.name] = TradaiService(
                self,
                pascal(spec.name),
                cluster=self.cluster,
                placement=placement,
                discovery=self.discovery[spec.name],
                load_balancing=self._routing(spec.name, vpc),
                props=self._service_props(spec),
            )
            cdk.Tags.of(self.services[spec.name]).add("Service", spec.name)
        self._alarms(cw_actions.SnsAction(alerts_topic))

    def _alarms(self, action: cloudwatch.IAlarmAction) -> None:
        """Errors and throttles of every function, failed workflows, dead letters, services short of tasks."""
        config, thresholds = self.config, self.config.profile.alarms
        functions = {
            **{key: f.function for key, f in self.pipeline.functions.items()},
            **self.operations.functions,
            DEPLOYER: self.deployment.deployer.function,
        }
        for key, function in sorted(functions.items()):
            FunctionAlarms(
                self,
                f"{pascal(key)}Alarms",
                function=function,
                function_name=config.function_name(key),
                errors=thresholds.lambda_errors,
                throttles=thresholds.lambda_throttles,
                action=action,
            )
        for construct_id, machine, name in (
            ("BacktestWorkflowAlarms", self.pipeline.state_machine, self.pipeline.state_machine_name),
            (
                "RetrainingWorkflowAlarms",
                self.operations.retraining.state_machine,
                self.operations.retraining.state_machine_name,
            ),
            ("DeploymentWorkflowAlarms", self.deployment.state_machine, self.deployment.state_machine_name),
        ):
            StateMachineAlarms(
                self,
                construct_id,
                state_machine=machine,
                name=name,
                threshold=thresholds.state_machine_failures,
                action=action,
            )
        dlq_name = config.naming.name(config.backtest_dlq.base_name)
        alarm(
            self,
            "BacktestDlqAlarm",
            alarm_name=f"{dlq_name}-not-empty",
            action=action,
            threshold=1,
            metric=self.backtest_dlq.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            description=f"{dlq_name}: backtest requests failed 3 deliveries and wait in the DLQ; inspect them "
            "and redrive once the cause is fixed",
        )
        for spec in config.services:
            service_below_desired(
                self,
                f"{pascal(spec.name)}BelowDesiredAlarm",
                cluster_name=self.cluster.cluster_name,
                service_name=config.naming.name(spec.name),
                minutes=thresholds.ecs_below_desired_minutes,
                action=action,
            )

    def _strategy_deployment(
        self, subnets: Sequence[ec2.ISubnet], security_group: ec2.ISecurityGroup
    ) -> StrategyDeployment:
        """Stage, promote and roll back strategies: the live/dry-run trading tasks, found through Cloud Map."""
        config = self.config
        spec, settings = config.lambda_spec(DEPLOYER), config.deployments
        ports = {entry.name: entry.port for entry in config.service_discovery}
        modes = {
            mode: TradingMode(
                task_definition=self.task_definitions[task],
                capacity_provider=config.task(task).capacity_provider,
                discovery_service=self.discovery[task],
                port=ports[task],
            )
            for mode, task in TRADING_TASKS.items()
        }
        deployment = StrategyDeployment(
            self,
            "StrategyDeployment",
            cluster=self.cluster,
            modes=modes,
            subnets=subnets,
            security_group=security_group,
            namespace=self.namespace,
            deployer=FunctionProps(
                function_name=config.function_name(DEPLOYER),
                handler="deployments.deployer.handler",
                code=lambda_code(config.lambda_runtime),
                runtime=lambda_runtime(config.lambda_runtime),
                memory_mib=spec.memory_mib,
                timeout=cdk.Duration.seconds(spec.timeout_seconds),
                log_retention=self._retention,
                layers=self._layers,
                description="Each step of staging, promoting and rolling back a strategy",
            ),
            tables=DeploymentTables(
                trading_state=self._tables["trading-state"],
                deployments=self._tables["deployments"],
                config_versions=self._tables["config-versions"],
            ),
            configs_bucket_name=self._buckets["configs"].bucket_name,
            environment_name=config.env,
            deployment_ttl=cdk.Duration.days(settings.ttl_days),
            timing=DeploymentTiming(
                health_timeout=cdk.Duration.seconds(settings.health_timeout_seconds),
                poll_interval=cdk.Duration.seconds(settings.poll_seconds),
                run_timeout=cdk.Duration.minutes(settings.run_timeout_minutes),
            ),
            log_retention=self._retention,
            state_machine_name=config.naming.name("strategy-deployment"),
        )
        cdk.Tags.of(deployment).add("Service", "strategy-deployment")
        return deployment

    def _strategy_task(self, subnets: Sequence[ec2.ISubnet], security_group: ec2.ISecurityGroup) -> StrategyTask:
        """The strategy container as the backtest and retraining workflows run it."""
        config = self.config
        task = config.backtest.task
        return StrategyTask(
            cluster=self.cluster,
            task_definition=self.task_definitions[task],
            family_prefix=config.task_family_prefix,
            capacity_provider=config.task(task).capacity_provider,
            subnets=subnets,
            security_group=security_group,
        )

    def _frozen(self, construct_id: str, group: ec2.ISecurityGroup) -> ec2.ISecurityGroup:
        return ec2.SecurityGroup.from_security_group_id(
            self, construct_id, group.security_group_id, mutable=False, allow_all_outbound=False
        )

    def _image_repositories(self) -> ImageRepositories:
        config = self.config
        images = sorted({s.image for s in config.services} | {t.image for t in config.on_demand_tasks})
        return ImageRepositories(
            self,
            "Repositories",
            repository_names={i: config.naming.name(i) for i in images},
            keep_images=config.compute.ecr_keep_images,
        )

    def _image(self, image: str) -> ecs.ContainerImage:
        return self._images.image(image, self._image_tag)

    def _shared_host(self, subnets: Sequence[ec2.ISubnet], security_group: ec2.ISecurityGroup) -> SharedEcsHost | None:
        """Dev/staging: one EC2 host carries all four services (spec 10)."""
        config = self.config
        if config.profile.compute_mode is not ComputeMode.CONSOLIDATED_EC2:
            return None
        host = required(config.profile.consolidated_host, "profile.consolidated_host")
        return SharedEcsHost(
            self,
            "SharedHost",
            cluster=self.cluster,
            subnets=subnets,
            security_group=security_group,
            instance_type=host.instance_type,
            ami_parameter_name=host.ami_ssm_parameter,
            auto_scaling_group_name=config.naming.name("ecs-host"),
            capacity_provider_name=config.naming.name("ecs-host-capacity"),
            reserved_memory_mib=host.ecs_reserved_memory_mib,
        )

    def _discovery_service(self, name: str) -> servicediscovery.Service:
        """A records for awsvpc tasks; SRV for services on the shared host (ECS allows only SRV in bridge mode)."""
        on_shared_host = self.shared_host is not None and name in {s.name for s in self.config.services}
        record = servicediscovery.DnsRecordType.SRV if on_shared_host else servicediscovery.DnsRecordType.A
        return self.namespace.create_service(
            f"{pascal(name)}Discovery", name=name, dns_record_type=record, dns_ttl=cdk.Duration.seconds(10)
        )

    def _load_balancer(
        self,
        vpc: ec2.IVpc,
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
        logs_bucket: TradaiBucket,
    ) -> ServiceLoadBalancer:
        config = self.config
        return ServiceLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            subnets=subnets,
            security_group=security_group,
            internet_facing=config.compute.alb_internet_facing,
            load_balancer_name=config.naming.name("alb"),
            deletion_protection=config.profile.deletion_protection,
            access_logs_bucket_name=logs_bucket.bucket_name,
            access_logs_prefix=ALB_LOG_PREFIX,
            certificate_arn=config.profile.certificate_arn,
        )

    def _routing(self, service: str, vpc: ec2.IVpc) -> LoadBalancing | None:
        """backend-api by default, MLflow by its path; services no API route reaches get no ALB route at all."""
        if service not in self.config.api_backed_services:
            return None
        if service == DEFAULT_SERVICE:
            return LoadBalancing(listener=self.listener, vpc=vpc)
        base = self.config.compute.mlflow_base_path
        return LoadBalancing(
            listener=self.listener,
            vpc=vpc,
            priority=MLFLOW_RULE_PRIORITY,
            conditions=[elbv2.ListenerCondition.path_patterns([base, f"{base}/*"])],
        )

    def _backtest_queue(self) -> FifoWorkQueue:
        """Spec 6: the FIFO backtest queue and its dead-letter queue."""
        config = self.config
        queue, dlq = config.backtest_queue, config.backtest_dlq
        return FifoWorkQueue(
            self,
            "BacktestQueue",
            queue_name=config.naming.name(queue.base_name),
            dead_letter_queue_name=config.naming.name(dlq.base_name),
            content_based_deduplication=queue.content_based_deduplication,
            visibility_timeout=cdk.Duration.seconds(
                required(queue.visibility_timeout_seconds, "backtest_queue.visibility_timeout_seconds")
            ),
            receive_wait=cdk.Duration.seconds(
                required(queue.receive_wait_seconds, "backtest_queue.receive_wait_seconds")
            ),
            retention_period=cdk.Duration.seconds(queue.retention_seconds),
            max_receive_count=required(dlq.max_receive_count, "backtest_dlq.max_receive_count"),
            dead_letter_retention=cdk.Duration.seconds(dlq.retention_seconds),
        )

    def _pipeline(
        self,
        private_subnets: Sequence[ec2.ISubnet],
        ecs_sg: ec2.ISecurityGroup,
        lambda_sg: ec2.ISecurityGroup,
        vpc: ec2.IVpc,
        alerts_topic: sns.ITopic,
    ) -> BacktestPipeline:
        """Spec 2.4/2.5/7: consumers, workflow, task functions and orphan scanner of the backtest queue."""
        config = self.config
        backtest = config.backtest
        sizing = {
            key: FunctionSizing(
                config.function_name(key), spec.memory_mib, cdk.Duration.seconds(spec.timeout_seconds), spec.in_vpc
            )
            for key in PIPELINE_FUNCTIONS
            for spec in [config.lambda_spec(key)]
        }
        data_collection = config.service("data-collection")
        enabled = "sqs-consumer" if config.profile.executor_mode is ExecutorMode.STEPFUNCTIONS else "backtest-consumer"
        pipeline = BacktestPipeline(
            self,
            "BacktestPipeline",
            functions=sizing,
            code=lambda_code(config.lambda_runtime),
            runtime=lambda_runtime(config.lambda_runtime),
            layers=self._layers,
            queue=self.backtest_queue,
            enabled_consumer=enabled,
            task=self._strategy_task(private_subnets, ecs_sg),
            tables=PipelineTables(
                workflow_state=self._tables["workflow-state"],
                idempotency=self._tables["idempotency"],
                notifications=self._tables["notifications"],
            ),
            alerts_topic=alerts_topic,
            data_collection_url=f"http://{data_collection.name}.{config.namespace}:{data_collection.port}"
            f"{backtest.data_sync_path}",
            placement=VpcPlacement(vpc=vpc, subnets=private_subnets, security_group=lambda_sg),
            timing=PipelineTiming(
                run_timeout=cdk.Duration.minutes(backtest.run_timeout_minutes),
                task_timeout=cdk.Duration.minutes(backtest.task_timeout_minutes),
                orphan_scan_every=cdk.Duration.minutes(
                    required(config.lambda_spec("orphan-scanner").schedule_minutes, "orphan-scanner schedule_minutes")
                ),
                stuck_after=cdk.Duration.minutes(backtest.stuck_after_minutes),
                run_ttl=cdk.Duration.days(backtest.run_ttl_days),
                consumer_max_concurrency=backtest.consumer_max_concurrency,
            ),
            log_retention=self._retention,
            state_machine_name=config.naming.name("backtest"),
        )
        cdk.Tags.of(pipeline).add("Service", "backtest-pipeline")
        return pipeline

    def _access(self, access: Access) -> tuple[dict[str, str], dict[str, ecs.Secret], list[Grant]]:
        """Environment variables, ECS secrets and grants for one workload's ``Access``."""
        env: dict[str, str] = {}
        secrets: dict[str, ecs.Secret] = {}
        grants: list[Grant] = []
        for keys, grant in ((access.tables_rw, "grant_read_write"), (access.tables_read, "grant_read")):
            for key in keys:
                table = self._tables[key]
                env[_env_name(key, "TABLE")] = table.table_name
                grants.append(getattr(table, grant))
        for keys, grant in ((access.buckets_rw, "grant_read_write"), (access.buckets_read, "grant_read")):
            for key in keys:
                bucket = self._buckets[key]
                env[_env_name(key, "BUCKET")] = bucket.bucket_name
                grants.append(getattr(bucket, grant))
        for name in access.secrets:
            variable = name.split("/", 1)[1].upper().replace("-", "_")
            secrets[variable] = ecs.Secret.from_secrets_manager(self._secrets[name])
        return env, secrets, grants

    def _service_props(self, spec: ServiceSpec) -> ServiceProps:
        config = self.config
        env, secrets, grants = self._access(SERVICE_ACCESS[spec.name])
        env.update({"TRADAI_ENV": config.env, "SERVICE_NAME": spec.name, "PORT": str(spec.port)})
        if spec.name == "backend-api":
            env.update(self._executor_environment())
            env["MODEL_ROLLBACK_FUNCTION"] = self.operations.rollback.function.function_name
            env["STRATEGY_DEPLOYMENT_ARN"] = self.deployment.state_machine.state_machine_arn
            grants.append(self._grant_send_backtests)
            grants.append(self.pipeline.grant_read_executions)
            grants.append(self._grant_invoke_rollback)
            grants.append(self.deployment.grant_start)
        return ServiceProps(
            service_name=config.naming.name(spec.name),
            family=config.naming.name(spec.name),
            container_name=spec.name,
            cpu=spec.cpu,
            memory_mib=spec.memory_mib,
            port=spec.port,
            health_check_path=spec.health_check_path,
            desired_count=config.profile.service_desired_count,
            image=self._image(spec.image),
            log_retention=self._retention,
            environment=env,
            secrets=secrets,
            grants=grants,
            security=ContainerSecurity(config.compute.container_user, spec.writable_paths),
        )

    def _grant_send_backtests(self, grantee: iam.IGrantable) -> None:
        """SendMessage only: backend-api gets SQS_QUEUE_URL, so it never resolves the URL or reads attributes
        (CDK's grant_send_messages adds GetQueueUrl/GetQueueAttributes). The queue is SQS-managed encrypted: no
        KMS grant is needed."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.backtest_queue.queue_arn])
        )

    def _grant_invoke_rollback(self, grantee: iam.IGrantable) -> None:
        """InvokeFunction of the unqualified model-rollback function (MODEL_ROLLBACK_FUNCTION is its name), not of
        its versions and aliases (CDK's grant_invoke adds ``<arn>:*``)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.operations.rollback.function.function_arn]
            )
        )

    def _executor_environment(self) -> dict[str, str]:
        """BACKEND_EXECUTOR_MODE (spec 2.4) and what the chosen mode needs."""
        mode = self.config.profile.executor_mode
        env = {"BACKEND_EXECUTOR_MODE": mode.value}
        if mode in (ExecutorMode.ECS, ExecutorMode.SQS):
            env.update(ECS_CLUSTER=self.cluster.cluster_arn, ECS_TASK_PREFIX=self.config.task_family_prefix)
        if mode in (ExecutorMode.SQS, ExecutorMode.STEPFUNCTIONS):
            env["SQS_QUEUE_URL"] = self.backtest_queue.queue_url
        if mode is ExecutorMode.STEPFUNCTIONS:
            env["STEP_FUNCTIONS_ARN"] = self.pipeline.state_machine.state_machine_arn
        return env

    def _on_demand_task(self, task: TaskSpec) -> ecs.FargateTaskDefinition:
        """Desired count 0: the backtest pipeline runs these with per-run overrides (spec 2.2, 2.5)."""
        config = self.config
        env, secrets, grants = self._access(TASK_ACCESS[task.name])
        mlflow = config.service("mlflow")
        env.update(dict(config.compute.strategy_env_defaults))
        env.update(
            {
                "DYNAMODB_TABLE": self._tables["workflow-state"].table_name,
                "S3_RESULTS_BUCKET": self._buckets["results"].bucket_name,
                "ARCTICDB_S3_URI": f"s3://{self._buckets['arcticdb'].bucket_name}",
                "MLFLOW_TRACKING_URI": f"http://{mlflow.name}.{config.namespace}:{mlflow.port}"
                f"{config.compute.mlflow_base_path}",
            }
        )
        ports = {entry.name: entry.port for entry in config.service_discovery}
        return OnDemandTask(
            self,
            pascal(task.name),
            family=f"{config.task_family_prefix}{task.name.removeprefix(config.task_family_prefix)}-{config.env}",
            cpu=task.cpu,
            memory_mib=task.memory_mib,
            container_name="strategy",
            image=self._image(task.image),
            log_stream_prefix=task.name,
            log_retention=self._retention,
            environment=env,
            secrets=secrets,
            security=ContainerSecurity(config.compute.container_user, task.writable_paths),
            grants=grants,
            container_port=ports.get(task.name),
            tags={"CapacityProvider": task.capacity_provider, "Service": task.name},
        ).task_definition
