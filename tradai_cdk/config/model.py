"""Typed, immutable shape of TradAI's configuration (spec v9.3.0).

Only types live here; the values are in ``canonical.py``. Every stack and
construct reads these objects, never a literal of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class SubnetTier(str, Enum):
    PUBLIC = "public"
    PRIVATE = "private"
    DATABASE = "database"


class ComputeMode(str, Enum):
    """Where the long-running ECS services run (spec section 10)."""

    CONSOLIDATED_EC2 = "consolidated-ec2"
    FARGATE = "fargate"


class ExecutorMode(str, Enum):
    """BACKEND_EXECUTOR_MODE values (spec 2.4)."""

    LOCAL = "local"
    ECS = "ecs"
    SQS = "sqs"
    STEPFUNCTIONS = "stepfunctions"


@dataclass(frozen=True)
class Naming:
    """``{project}-{component}-{environment}[-{suffix}]`` (spec 9.1).

    ``bucket_suffix`` is spec 9.1's optional suffix for the S3 buckets only: their names are global, so an
    environment whose names another AWS account already holds sets one (context ``bucket_suffix``).
    """

    project: str
    env: str
    bucket_suffix: str | None = None

    def name(self, component: str, suffix: str | None = None) -> str:
        parts = [self.project, component, self.env] + ([suffix] if suffix else [])
        return "-".join(parts)

    def bucket(self, component: str) -> str:
        """Physical (globally unique) S3 bucket name: ``{project}-{component}-{env}[-{bucket_suffix}]``."""
        return self.name(component, self.bucket_suffix)

    def secret(self, short: str) -> str:
        """Secrets Manager name ``{project}/{env}/{short}``: account-unique, so it carries the environment."""
        return f"{self.project}/{self.env}/{short}"


@dataclass(frozen=True)
class SubnetSpec:
    name: str
    tier: SubnetTier
    availability_zone: str
    cidr: str


@dataclass(frozen=True)
class NetworkConfig:
    vpc_cidr: str
    region: str
    availability_zones: tuple[str, ...]
    dns_hostnames: bool
    dns_support: bool
    subnets: tuple[SubnetSpec, ...]
    gateway_endpoints: tuple[str, ...]
    flow_log_traffic_type: str

    def subnets_of(self, tier: SubnetTier) -> tuple[SubnetSpec, ...]:
        return tuple(s for s in self.subnets if s.tier is tier)

    def subnet(self, name: str) -> SubnetSpec:
        return next(s for s in self.subnets if s.name == name)


@dataclass(frozen=True)
class NatConfig:
    """NAT-instance HA (spec 1.4)."""

    instance_type: str
    ami_ssm_parameter: str
    subnet: str
    asg_min: int
    asg_max: int
    asg_desired: int
    route_function: str
    lifecycle_heartbeat_seconds: int
    health_check_grace_seconds: int
    ready_timeout_seconds: int  # launch -> the instance's ready tag; past it the route function ABANDONs
    readiness_poll_seconds: int
    route_audit_minutes: int  # the route function checks the private default routes this often


@dataclass(frozen=True)
class SgRule:
    """One row of a spec 4.1 table; the peer is a CIDR or another SG's key."""

    direction: str
    protocol: str
    from_port: int
    to_port: int
    description: str
    peer_cidr: str | None = None
    peer_group: str | None = None

    def covers(self, port: int) -> bool:
        return self.from_port <= port <= self.to_port


@dataclass(frozen=True)
class SecurityGroupSpec:
    key: str
    name: str
    description: str
    rules: tuple[SgRule, ...]

    def ingress(self) -> tuple[SgRule, ...]:
        return tuple(r for r in self.rules if r.direction == "ingress")

    def egress(self) -> tuple[SgRule, ...]:
        return tuple(r for r in self.rules if r.direction == "egress")


@dataclass(frozen=True)
class ServiceSpec:
    """A long-running ECS service (spec 2.1-2.3); ``image`` names its ECR repository."""

    name: str
    cpu: int
    memory_mib: int
    port: int
    health_check_path: str
    image: str
    writable_paths: tuple[str, ...] = ("/tmp",)  # the root filesystem is read-only; these are scratch volumes


@dataclass(frozen=True)
class TaskSpec:
    """An on-demand ECS task definition, desired count 0 (spec 2.2)."""

    name: str
    cpu: int
    memory_mib: int
    capacity_provider: str
    image: str
    writable_paths: tuple[str, ...] = ("/tmp",)


@dataclass(frozen=True)
class DiscoveryEntry:
    """A Cloud Map service in the private namespace (spec 2.3)."""

    name: str
    port: int


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: str = "S"


@dataclass(frozen=True)
class GsiSpec:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None
    projection: str
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """One DynamoDB table of spec 3.2; the physical name is tradai-<key>-<env>."""

    key: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None
    gsis: tuple[GsiSpec, ...]
    ttl_attribute: str | None
    point_in_time_recovery: bool
    purpose: str


@dataclass(frozen=True)
class BucketSpec:
    """One S3 bucket of spec 3.1; the physical name is tradai-<component>-<env>[-<bucket_suffix>]."""

    component: str
    purpose: str
    versioned: bool
    glacier_after_days: int | None = None
    expire_after_days: int | None = None


@dataclass(frozen=True)
class RdsConfig:
    engine_version: str
    instance_class: str
    allocated_storage_gib: int
    storage_type: str
    multi_az: bool
    backup_retention_days: int
    force_ssl: bool
    publicly_accessible: bool
    port: int
    database_name: str
    monitoring_interval_seconds: int  # enhanced monitoring (OS metrics)
    performance_insights: bool  # 7-day free tier, shown in CloudWatch Database Insights (standard mode)


@dataclass(frozen=True)
class CognitoConfig:
    user_pool_name: str
    mfa: str
    mfa_types: tuple[str, ...]
    password_min_length: int
    require_uppercase: bool
    require_lowercase: bool
    require_digits: bool
    require_symbols: bool
    account_recovery: str
    advanced_security: bool


@dataclass(frozen=True)
class WafRule:
    name: str
    priority: int
    action: str
    rate_limit_per_5min: int | None = None
    managed_rule_group: str | None = None


@dataclass(frozen=True)
class ApiRoute:
    """One row of spec 5.1; ``integration`` is a service name or ``sqs``."""

    method: str
    path: str
    integration: str
    auth_required: bool


@dataclass(frozen=True)
class ThrottleConfig:
    rate_limit: int
    burst_limit: int
    route_overrides: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class QueueSpec:
    base_name: str
    fifo: bool
    retention_seconds: int
    content_based_deduplication: bool = False
    visibility_timeout_seconds: int | None = None
    receive_wait_seconds: int | None = None
    max_receive_count: int | None = None


@dataclass(frozen=True)
class LambdaSpec:
    """One row of spec 7; ``trigger`` is sqs|schedule|stepfunctions|backend-api|asg-lifecycle."""

    name: str
    memory_mib: int
    timeout_seconds: int
    in_vpc: bool
    trigger: str
    schedule_minutes: int | None = None


@dataclass(frozen=True)
class SecretSpec:
    name: str  # spec 8's name, e.g. tradai/database-url
    contents: str
    rotation: str

    @property
    def short(self) -> str:
        """The name without the project prefix (``database-url``); see ``Naming.secret``."""
        return self.name.split("/", 1)[1]


@dataclass(frozen=True)
class ConsolidatedHost:
    """The one EC2 host of dev/staging (spec 10) and the soft memory each service reserves on it."""

    instance_type: str
    vcpus: int
    memory_mib: int
    max_enis: int
    kernel_reserved_memory_mib: int
    ecs_reserved_memory_mib: int
    ami_ssm_parameter: str
    memory_reservations: tuple[tuple[str, int], ...]

    def reservation(self, service: str) -> int:
        return dict(self.memory_reservations)[service]

    @property
    def schedulable_memory_mib(self) -> int:
        """Memory the ECS agent registers: nominal RAM less what the kernel and ECS_RESERVED_MEMORY keep."""
        return self.memory_mib - self.kernel_reserved_memory_mib - self.ecs_reserved_memory_mib


@dataclass(frozen=True)
class ComputeConfig:
    """Cluster-wide settings of the compute tier (spec 2)."""

    container_insights: bool
    image_tag: str | None  # from the `image_tag` context at synth (an immutable tag, e.g. a git SHA)
    container_user: str  # uid:gid every container runs as (never root)
    ecr_keep_images: int
    mlflow_base_path: str
    strategy_env_defaults: tuple[tuple[str, str], ...]
    alb_internet_facing: bool  # False: only the API's VPC link reaches the services (spec 5.1)


@dataclass(frozen=True)
class BacktestConfig:
    """The backtest pipeline: which on-demand task runs a backtest, and the workflow's limits."""

    task: str
    run_timeout_minutes: int
    task_timeout_minutes: int
    stuck_after_minutes: int
    run_ttl_days: int
    consumer_max_concurrency: int
    data_sync_path: str


@dataclass(frozen=True)
class AlarmThresholds:
    """What pages the on-call in one environment; every alarm notifies the alerts topic."""

    lambda_errors: int  # errors of one function in 5 minutes
    lambda_throttles: int  # throttles of one function in 5 minutes
    state_machine_failures: int  # failed or timed-out executions of one workflow in 5 minutes
    ecs_below_desired_minutes: int  # minutes a service may run fewer tasks than desired
    rds_cpu_percent: int
    rds_free_storage_gib: int
    rds_connections: int
    api_5xx_percent: float  # share of API requests answered 5xx in 5 minutes
    api_p99_latency_ms: int


@dataclass(frozen=True)
class OperationsConfig:
    """Health, heartbeat and drift checks and the model lifecycle (spec 7's scheduled and ML functions)."""

    health_probe_timeout_seconds: int
    health_state_ttl_minutes: int
    heartbeat_stale_minutes: int
    drift_psi_threshold: float  # PSI above this is data drift (0.1 moderate, 0.25 significant)
    performance_drop_threshold: float  # relative score drop that is model drift
    performance_metric: str  # MLflow run metric, higher is better
    champion_alias: str  # MLflow alias of the production model version
    min_improvement: float  # relative gain a challenger needs over the champion
    max_model_age_days: int
    shadow_window_days: int
    state_ttl_days: int  # expires_at of drift, retraining and shadow-test state
    deployment_ttl_days: int
    drift_detection_timeout_seconds: int
    train_timeout_minutes: int
    shadow_timeout_minutes: int
    retraining_timeout_hours: int


@dataclass(frozen=True)
class DeploymentConfig:
    """Strategy deployments (spec 2.2/2.3/5.1 stage and promote): the workflow's limits."""

    health_timeout_seconds: int  # a new trading task must be healthy and heartbeating within this
    poll_seconds: int
    run_timeout_minutes: int
    ttl_days: int  # tradai-deployments history


@dataclass(frozen=True)
class EnvironmentProfile:
    """The per-environment column of spec section 10 (plus 3.3's RDS storage/backups)."""

    compute_mode: ComputeMode
    consolidated_host: ConsolidatedHost | None
    service_desired_count: int
    log_retention_days: int
    deletion_protection: bool
    waf_enabled: bool
    cloudtrail_enabled: bool
    executor_mode: ExecutorMode
    alarms: AlarmThresholds
    certificate_arn: str | None = None
    alert_emails: tuple[str, ...] = ()  # subscribed to the operational alerts topic


@dataclass(frozen=True)
class TradaiConfig:
    """Everything one environment (dev, staging or prod) is built from."""

    env: str
    spec_version: str
    naming: Naming
    tags: tuple[tuple[str, str], ...]
    profile: EnvironmentProfile
    network: NetworkConfig
    nat: NatConfig
    security_groups: tuple[SecurityGroupSpec, ...]
    compute: ComputeConfig
    services: tuple[ServiceSpec, ...]
    on_demand_tasks: tuple[TaskSpec, ...]
    service_discovery: tuple[DiscoveryEntry, ...]
    task_family_prefix: str
    tables: tuple[TableSpec, ...]
    buckets: tuple[BucketSpec, ...]
    rds: RdsConfig
    cognito: CognitoConfig
    waf_rules: tuple[WafRule, ...]
    waf_blocked_alarm_threshold: int  # blocked requests per 5 minutes that page the on-call
    api_routes: tuple[ApiRoute, ...]
    throttling: ThrottleConfig
    backtest_queue: QueueSpec
    backtest_dlq: QueueSpec
    lambdas: tuple[LambdaSpec, ...]
    lambda_runtime: str
    powertools_version: str
    backtest: BacktestConfig
    operations: OperationsConfig
    deployments: DeploymentConfig
    secrets: tuple[SecretSpec, ...]

    def security_group(self, key: str) -> SecurityGroupSpec:
        return next(sg for sg in self.security_groups if sg.key == key)

    def service(self, name: str) -> ServiceSpec:
        return next(s for s in self.services if s.name == name)

    def task(self, name: str) -> TaskSpec:
        return next(t for t in self.on_demand_tasks if t.name == name)

    def lambda_spec(self, name: str) -> LambdaSpec:
        return next(fn for fn in self.lambdas if fn.name == name)

    @property
    def api_backed_services(self) -> tuple[str, ...]:
        """Services a spec 5.1 route reaches through the ALB; the others are reached through Cloud Map only."""
        integrations = {route.integration for route in self.api_routes}
        return tuple(s.name for s in self.services if s.name in integrations)

    @property
    def namespace(self) -> str:
        """Cloud Map private DNS namespace (spec 2.3)."""
        return f"{self.naming.project}-{self.env}.local"

    def bucket_name(self, component: str) -> str:
        """Physical name of the bucket ``component`` (S3 names are global: it carries the optional suffix)."""
        return self.naming.bucket(component)

    @property
    def bucket_names(self) -> tuple[str, ...]:
        """Every bucket name of this environment, in ``buckets`` order."""
        return tuple(self.bucket_name(spec.component) for spec in self.buckets)

    def function_name(self, name: str) -> str:
        """Physical Lambda name: account-unique, so it carries the environment."""
        return self.naming.name(name)


@dataclass(frozen=True)
class CostAssumptions:
    """Usage one environment's cost estimate assumes (``make cost``); counts are per month unless named otherwise.

    Fixed costs come from the synthesized templates; these cover what the templates cannot say.
    """

    backtests_per_day: int  # strategy-container runs (backtests, training and shadow tests)
    backtest_minutes: int  # average run time of one
    live_trading_tasks: int  # live strategies running around the clock
    dry_run_tasks: int  # dry-run strategies running around the clock
    api_requests_per_month: int  # also what the web ACL inspects
    alb_average_lcus: float  # load balancer capacity units in use on average
    nat_egress_gb_per_month: float  # private subnets -> internet, through the NAT
    log_gb_per_month: float  # CloudWatch Logs ingested, all log groups together
    lambda_invocations_per_month: int  # all functions together, scheduled ones included
    lambda_average_ms: int
    dynamodb_reads_per_month: int  # read request units, all tables together
    dynamodb_writes_per_month: int  # write request units
    dynamodb_storage_gib: float
    step_function_transitions_per_month: int
    sqs_requests_per_month: int  # including the event source mappings' polling
    s3_storage_gib: float  # all buckets, S3 Standard
    ecr_storage_gib: float  # all repositories
    rds_changed_gib_per_day: float  # backups beyond the free allowance (the database's size) grow by this per day kept
    container_insights_cluster_metrics: int  # metrics Container Insights publishes per cluster
    container_insights_service_metrics: int  # ... per running service (service and task-family dimensions)
