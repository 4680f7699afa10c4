"""TradAI canonical configuration v9.3.0, as data.

Each block cites the spec section it transcribes. Values shared by every
environment are module constants; ``PROFILES`` holds section 10's differences
and ``RDS_BY_ENV`` the per-environment RDS values of sections 3.3 and 10.
"""

from __future__ import annotations

from typing import Any

from .model import (
    AlarmThresholds,
    ApiRoute,
    BacktestConfig,
    BucketSpec,
    CognitoConfig,
    ComputeConfig,
    ComputeMode,
    ConsolidatedHost,
    CostAssumptions,
    DeploymentConfig,
    DiscoveryEntry,
    EnvironmentProfile,
    ExecutorMode,
    GsiSpec,
    KeyAttribute,
    LambdaSpec,
    NatConfig,
    NetworkConfig,
    OperationsConfig,
    QueueSpec,
    RdsConfig,
    SecretSpec,
    SecurityGroupSpec,
    ServiceSpec,
    SgRule,
    SubnetSpec,
    SubnetTier,
    TableSpec,
    TaskSpec,
    ThrottleConfig,
    WafRule,
)

SPEC_VERSION = "9.3.0"
PROJECT = "tradai"
ENVIRONMENTS = ("dev", "staging", "prod")

# 9.2 Tag requirements (ManagedBy translated from pulumi to cdk).
COMMON_TAGS = (
    ("Application", "tradai"),
    ("ManagedBy", "cdk"),
    ("CostCenter", "trading-platform"),
    ("Owner", "platform-team"),
)

# 1.1 VPC, 1.2 Subnets.
NETWORK = NetworkConfig(
    vpc_cidr="10.0.0.0/16",
    region="eu-central-1",
    availability_zones=("eu-central-1a", "eu-central-1b"),
    dns_hostnames=True,
    dns_support=True,
    subnets=(
        SubnetSpec("Public-1", SubnetTier.PUBLIC, "eu-central-1a", "10.0.1.0/24"),
        SubnetSpec("Public-2", SubnetTier.PUBLIC, "eu-central-1b", "10.0.2.0/24"),
        SubnetSpec("Private-1", SubnetTier.PRIVATE, "eu-central-1a", "10.0.11.0/24"),
        SubnetSpec("Private-2", SubnetTier.PRIVATE, "eu-central-1b", "10.0.12.0/24"),
        SubnetSpec("Database-1", SubnetTier.DATABASE, "eu-central-1a", "10.0.21.0/24"),
        SubnetSpec("Database-2", SubnetTier.DATABASE, "eu-central-1b", "10.0.22.0/24"),
    ),
    gateway_endpoints=("s3", "dynamodb"),
    flow_log_traffic_type="ALL",
)

# 1.4 NAT instance high availability.
NAT = NatConfig(
    instance_type="t4g.nano",
    ami_ssm_parameter="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
    subnet="Public-1",
    asg_min=1,
    asg_max=1,
    asg_desired=1,
    route_function="update-nat-routes",
    lifecycle_heartbeat_seconds=300,
    health_check_grace_seconds=60,
    ready_timeout_seconds=240,
    readiness_poll_seconds=5,
    route_audit_minutes=5,
)


def _tcp(
    direction: str, ports: tuple[int, int], description: str, *, cidr: str | None = None, group: str | None = None
) -> SgRule:
    return SgRule(direction, "tcp", ports[0], ports[1], description, peer_cidr=cidr, peer_group=group)


ANYWHERE = "0.0.0.0/0"
ALL_PORTS = (0, 65535)

# 4.1 Security groups, row by row.
SECURITY_GROUPS = (
    SecurityGroupSpec(
        "alb",
        "tradai-alb-sg",
        "TradAI ALB: HTTP(S) in, services out",
        (
            _tcp("ingress", (80, 80), "HTTP redirect", cidr=ANYWHERE),
            _tcp("ingress", (443, 443), "HTTPS", cidr=ANYWHERE),
            _tcp("egress", (8000, 8003), "To services", group="ecs"),
            _tcp("egress", (5000, 5000), "To MLflow", group="ecs"),
        ),
    ),
    SecurityGroupSpec(
        "ecs",
        "tradai-ecs-sg",
        "TradAI ECS services and tasks",
        (
            _tcp("ingress", (8000, 8000), "Backend API", group="alb"),
            _tcp("ingress", (8002, 8002), "Data Collection", group="alb"),
            _tcp("ingress", (8003, 8003), "Strategy Service", group="alb"),
            _tcp("ingress", (5000, 5000), "MLflow", group="alb"),
            _tcp("ingress", (8000, 8003), "Internal calls", group="lambda"),
            _tcp("egress", (443, 443), "AWS APIs", cidr=ANYWHERE),
            _tcp("egress", (5432, 5432), "Database", group="rds"),
            # Not in spec 4.1 (decision): tasks reach MLflow (spec 2.5) and each other through Cloud Map.
            _tcp("ingress", (5000, 5000), "MLflow from services and tasks", group="ecs"),
            _tcp("ingress", (8000, 8005), "Service-to-service via Cloud Map", group="ecs"),
            _tcp("egress", (5000, 5000), "To MLflow", group="ecs"),
            _tcp("egress", (8000, 8005), "To services via Cloud Map", group="ecs"),
            # Not in spec 4.1 (decision): the other end of tradai-lambda-sg's "To MLflow" egress (ML functions).
            _tcp("ingress", (5000, 5000), "MLflow from Lambda", group="lambda"),
        ),
    ),
    SecurityGroupSpec(
        "lambda",
        "tradai-lambda-sg",
        "TradAI VPC Lambdas",
        (
            _tcp("egress", (443, 443), "AWS APIs", cidr=ANYWHERE),
            _tcp("egress", (8000, 8003), "To services", group="ecs"),
            _tcp("egress", (5000, 5000), "To MLflow", group="ecs"),
        ),
    ),
    # Not in spec 4.1 (decision): the API Gateway VPC link's interfaces, the only way in to the internal ALB.
    SecurityGroupSpec(
        "apigw",
        "tradai-apigw-sg",
        "TradAI API Gateway VPC link to the internal ALB",
        (
            _tcp("egress", (80, 80), "To the ALB (HTTP)", group="alb"),
            _tcp("egress", (443, 443), "To the ALB (HTTPS)", group="alb"),
        ),
    ),
    SecurityGroupSpec(
        "rds",
        "tradai-rds-sg",
        "TradAI PostgreSQL",
        (
            _tcp("ingress", (5432, 5432), "From ECS", group="ecs"),
            _tcp("ingress", (5432, 5432), "From Lambda", group="lambda"),
        ),
    ),
    SecurityGroupSpec(
        "nat",
        "tradai-nat-sg",
        "TradAI NAT instance",
        (
            _tcp("ingress", ALL_PORTS, "From Private-1", cidr="10.0.11.0/24"),
            _tcp("ingress", ALL_PORTS, "From Private-2", cidr="10.0.12.0/24"),
            _tcp("egress", ALL_PORTS, "To internet", cidr=ANYWHERE),
        ),
    ),
)

# 2.1 ports and health checks, 2.2 task sizes (long-running services).
SERVICES = (
    ServiceSpec("backend-api", 512, 1024, 8000, "/api/v1/health", image="backend-api"),
    ServiceSpec("data-collection", 256, 512, 8002, "/api/v1/health", image="data-collection"),
    ServiceSpec("mlflow", 512, 1024, 5000, "/mlflow/", image="mlflow"),
    ServiceSpec("strategy-service", 512, 1024, 8003, "/api/v1/health", image="strategy-service"),
)

# Where Freqtrade writes (spec 2.5 RESULTS_DIR and its data, logs and FreqAI models); the rest of
# /freqtrade/user_data (strategies, the baked-in config) stays read-only in the image.
FREQTRADE_WRITABLE = (
    "/tmp",
    "/freqtrade/user_data/backtest_results",
    "/freqtrade/user_data/data",
    "/freqtrade/user_data/logs",
    "/freqtrade/user_data/models",
)

# 2.2 on-demand task definitions (desired count 0); all three run the strategy (freqtrade) image.
ON_DEMAND_TASKS = (
    TaskSpec("strategy-container", 1024, 2048, "FARGATE_SPOT", image="strategy", writable_paths=FREQTRADE_WRITABLE),
    TaskSpec("live-trading", 1024, 2048, "FARGATE", image="strategy", writable_paths=FREQTRADE_WRITABLE),
    TaskSpec("dry-run-trading", 1024, 2048, "FARGATE_SPOT", image="strategy", writable_paths=FREQTRADE_WRITABLE),
)

# 2.2/2.5 cluster-wide compute settings; strategy_env_defaults are 2.5's optional defaults
# that do not depend on the environment (the rest is wired from the deployed resources).
COMPUTE = ComputeConfig(
    container_insights=True,
    image_tag=None,  # never a default: `cdk synth -c image_tag=<git sha>` (ECR tags are immutable)
    container_user="1000:1000",
    ecr_keep_images=20,
    mlflow_base_path="/mlflow",
    alb_internet_facing=False,
    strategy_env_defaults=(
        ("CONFIG_PATH", "/freqtrade/user_data/config.json"),
        ("RESULTS_DIR", "/freqtrade/user_data/backtest_results"),
        ("EXPERIMENT_NAME", "default"),
    ),
)

# 10. Consolidated EC2 host of dev/staging: t3.small = 2 vCPU, 2 GiB, 3 ENIs. The services
# run in bridge mode with soft memory reservations that fit what the host offers ECS.
CONSOLIDATED_HOST = ConsolidatedHost(
    instance_type="t3.small",
    vcpus=2,
    memory_mib=2048,
    max_enis=3,
    kernel_reserved_memory_mib=150,
    ecs_reserved_memory_mib=256,
    ami_ssm_parameter="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
    memory_reservations=(
        ("backend-api", 384),
        ("data-collection", 192),
        ("mlflow", 448),
        ("strategy-service", 320),
    ),
)

# 2.3 service discovery (namespace tradai-{env}.local).
SERVICE_DISCOVERY = (
    DiscoveryEntry("backend-api", 8000),
    DiscoveryEntry("data-collection", 8002),
    DiscoveryEntry("mlflow", 5000),
    DiscoveryEntry("strategy-service", 8003),
    DiscoveryEntry("live-trading", 8004),
    DiscoveryEntry("dry-run-trading", 8005),
)

# 2.4 ECS_TASK_PREFIX default.
TASK_FAMILY_PREFIX = "strategy-"


def _s(name: str) -> KeyAttribute:
    return KeyAttribute(name, "S")


# 3.2 DynamoDB tables (all PAY_PER_REQUEST and encrypted).
TABLES = (
    TableSpec(
        "workflow-state",
        _s("run_id"),
        None,
        (
            GsiSpec("status-created_at-index", _s("status"), _s("created_at"), "ALL"),
            GsiSpec(
                "trace_id-index", _s("trace_id"), None, "INCLUDE", ("job_id", "status", "created_at", "execution_arn")
            ),
        ),
        "ttl",
        True,
        "Backtest job tracking and E2E correlation",
    ),
    TableSpec("idempotency", _s("idempotency_key"), None, (), "expiration", False, "Lambda idempotency deduplication"),
    TableSpec("health-state", _s("service_name"), None, (), "expires_at", True, "Service health check state"),
    TableSpec("trading-state", _s("strategy_id"), None, (), "ttl", True, "Live trading container state and heartbeats"),
    TableSpec(
        "deployments",
        _s("strategy_name"),
        _s("deployment_id"),
        (GsiSpec("environment-created_at-index", _s("environment"), _s("created_at"), "ALL"),),
        "ttl",
        True,
        "Strategy deployment history and rollback info",
    ),
    TableSpec("drift-state", _s("model_name"), None, (), "expires_at", True, "Model/data drift detection state"),
    TableSpec("retraining-state", _s("model_name"), None, (), "expires_at", True, "Model retraining scheduling state"),
    TableSpec("rollback-state", _s("model_name"), None, (), None, True, "Model rollback tracking (no TTL for audit)"),
    TableSpec(
        "shadow-test-state",
        _s("test_id"),
        None,
        (GsiSpec("model_name-status_created_at-index", _s("model_name"), _s("status_created_at"), "ALL"),),
        "expires_at",
        True,
        "Shadow trading test state and metrics",
    ),
    TableSpec("notifications", _s("notification_id"), None, (), "expire_at", True, "Notification delivery tracking"),
    TableSpec(
        "infra-drift-state",
        _s("stack_name"),
        None,
        (GsiSpec("has_drift-last_check-index", _s("has_drift"), _s("last_check"), "ALL"),),
        None,
        True,
        "CloudFormation drift detection state (no TTL for audit)",
    ),
    TableSpec(
        "config-versions",
        _s("strategy_name"),
        _s("config_id"),
        (
            GsiSpec("config_hash-index", _s("config_hash"), None, "KEYS_ONLY"),
            GsiSpec("status-index", _s("strategy_name"), _s("status"), "ALL"),
        ),
        "ttl",
        True,
        "Immutable config version registry (content-addressable)",
    ),
)

# 3.1 S3 buckets (all SSE-S3).
BUCKETS = (
    BucketSpec("configs", "Strategy configs, base configs", versioned=True),
    BucketSpec("results", "Backtest results, reports", versioned=True, glacier_after_days=30),
    BucketSpec("arcticdb", "ArcticDB time-series data", versioned=True),
    BucketSpec("logs", "ALB logs, CloudTrail, audit", versioned=False, expire_after_days=90),
    BucketSpec("mlflow", "MLflow artifacts", versioned=True),
)

# 4.2 Cognito.
COGNITO = CognitoConfig(
    user_pool_name="tradai-users",
    mfa="REQUIRED",
    mfa_types=("TOTP",),
    password_min_length=12,
    require_uppercase=True,
    require_lowercase=True,
    require_digits=True,
    require_symbols=True,
    account_recovery="EMAIL_ONLY",
    advanced_security=False,
)

# 4.3 WAF.
WAF_RULES = (
    WafRule("RateLimitRule", 1, "Block", rate_limit_per_5min=100),
    WafRule("AWSManagedRulesCommonRuleSet", 2, "Block", managed_rule_group="AWSManagedRulesCommonRuleSet"),
    WafRule(
        "AWSManagedRulesKnownBadInputsRuleSet", 3, "Block", managed_rule_group="AWSManagedRulesKnownBadInputsRuleSet"
    ),
    WafRule("AWSManagedRulesSQLiRuleSet", 4, "Block", managed_rule_group="AWSManagedRulesSQLiRuleSet"),
)
# Not in the spec: blocked requests per 5 minutes that raise the WAF alarm (one client over the rate limit
# for a whole window stays below it).
WAF_BLOCKED_ALARM_THRESHOLD = 500

# 5.1 API routes: integration "alb" (health via the ALB), "sqs", or the target service.
_API = "backend-api"
API_ROUTES = (
    ApiRoute("GET", "/api/v1/health", "alb", False),
    ApiRoute("GET", "/api/v1/strategies", _API, True),
    ApiRoute("GET", "/api/v1/strategies/{id}", _API, True),
    ApiRoute("POST", "/api/v1/strategies", _API, True),
    ApiRoute("POST", "/api/v1/strategies/{name}/stage", _API, True),
    ApiRoute("POST", "/api/v1/strategies/{name}/promote", _API, True),
    ApiRoute("POST", "/api/v1/backtests", "sqs", True),
    ApiRoute("GET", "/api/v1/backtests", _API, True),
    ApiRoute("GET", "/api/v1/backtests/{job_id}", _API, True),
    ApiRoute("POST", "/api/v1/backtests/{job_id}/cancel", _API, True),
    ApiRoute("GET", "/api/v1/backtests/{job_id}/equity", _API, True),
    ApiRoute("GET", "/api/v1/backtests/{job_id}/report-data", _API, True),
    ApiRoute("GET", "/api/v1/data/symbols", _API, True),
    ApiRoute("GET", "/api/v1/data/freshness", _API, True),
    ApiRoute("POST", "/api/v1/data/sync", _API, True),
    ApiRoute("GET", "/api/v1/models/{name}/versions", _API, True),
    ApiRoute("POST", "/api/v1/models/{name}/rollback", _API, True),
    ApiRoute("GET", "/api/v1/catalog/strategies", _API, True),
    ApiRoute("GET", "/api/v1/catalog/strategies/{name}", _API, True),
    ApiRoute("GET", "/api/v1/catalog/strategies/{name}/compare", _API, True),
    ApiRoute("ANY", "/mlflow/*", "mlflow", True),
)

# 5.2 Throttling.
THROTTLING = ThrottleConfig(rate_limit=100, burst_limit=200, route_overrides=(("/api/v1/backtests", 10),))

# 6.1 Backtest queue, 6.2 dead-letter queue.
BACKTEST_QUEUE = QueueSpec(
    "backtest-queue",
    fifo=True,
    retention_seconds=345600,
    content_based_deduplication=True,
    visibility_timeout_seconds=900,
    receive_wait_seconds=20,
)
BACKTEST_DLQ = QueueSpec("backtest-dlq", fifo=True, retention_seconds=1209600, max_receive_count=3)

# 7. Lambda functions (all Python 3.11).
LAMBDAS = (
    LambdaSpec("backtest-consumer", 256, 30, True, "sqs"),
    LambdaSpec("sqs-consumer", 256, 30, True, "sqs"),
    LambdaSpec("orphan-scanner", 128, 60, True, "schedule", schedule_minutes=5),
    LambdaSpec("health-check", 256, 60, True, "schedule", schedule_minutes=2),
    LambdaSpec("trading-heartbeat-check", 256, 60, True, "schedule", schedule_minutes=5),
    LambdaSpec("drift-monitor", 512, 120, True, "schedule", schedule_minutes=12 * 60),
    LambdaSpec("retraining-scheduler", 256, 60, True, "schedule", schedule_minutes=6 * 60),
    LambdaSpec("validate-strategy", 256, 30, True, "stepfunctions"),
    LambdaSpec("data-collection-proxy", 256, 180, True, "stepfunctions"),
    LambdaSpec("notify-completion", 128, 30, False, "stepfunctions"),
    LambdaSpec("check-retraining-needed", 256, 30, True, "stepfunctions"),
    LambdaSpec("compare-models", 512, 120, True, "stepfunctions"),
    LambdaSpec("promote-model", 256, 60, True, "stepfunctions"),
    LambdaSpec("model-rollback", 256, 60, True, "backend-api"),
    LambdaSpec("cleanup-resources", 256, 60, True, "stepfunctions"),
    LambdaSpec("update-status", 256, 30, True, "stepfunctions"),
    LambdaSpec("infra-drift-detector", 512, 300, False, "schedule", schedule_minutes=6 * 60),
    LambdaSpec("update-nat-routes", 128, 120, False, "asg-lifecycle"),
    # Not in spec 7 (decision): each step of the strategy deployment workflow (stage, promote, rollback).
    LambdaSpec("strategy-deployer", 256, 60, False, "stepfunctions"),
)
LAMBDA_RUNTIME = "python3.11"
# Powertools for AWS Lambda (Python): AWS's public layer of this version (the version tests run with).
POWERTOOLS_VERSION = "3.37.0"

# The backtest pipeline (spec 2.4, 2.5, 6, 7): the task a backtest runs and the workflow's limits.
BACKTEST = BacktestConfig(
    task="strategy-container",
    run_timeout_minutes=180,
    task_timeout_minutes=120,
    stuck_after_minutes=30,
    run_ttl_days=90,
    consumer_max_concurrency=2,
    data_sync_path="/api/v1/data/sync",
)

# Spec 7's health, heartbeat, drift and model-lifecycle functions (values the spec leaves open).
OPERATIONS = OperationsConfig(
    health_probe_timeout_seconds=5,
    health_state_ttl_minutes=60,
    heartbeat_stale_minutes=10,
    drift_psi_threshold=0.2,
    performance_drop_threshold=0.2,
    performance_metric="sharpe_ratio",
    champion_alias="champion",
    min_improvement=0.02,
    max_model_age_days=30,
    shadow_window_days=14,
    state_ttl_days=30,
    deployment_ttl_days=365,
    drift_detection_timeout_seconds=240,
    train_timeout_minutes=240,
    shadow_timeout_minutes=120,
    retraining_timeout_hours=12,
)

# Strategy deployments: a trading task has 10 minutes to run, pass its health check and heartbeat.
DEPLOYMENTS = DeploymentConfig(health_timeout_seconds=600, poll_seconds=15, run_timeout_minutes=45, ttl_days=365)

# Alarm thresholds: dev and staging page on what would hurt prod, with room for their smaller RDS.
_SMALL_ENV_ALARMS = AlarmThresholds(
    lambda_errors=1,
    lambda_throttles=1,
    state_machine_failures=1,
    ecs_below_desired_minutes=10,
    rds_cpu_percent=85,
    rds_free_storage_gib=4,
    rds_connections=70,
    api_5xx_percent=5.0,
    api_p99_latency_ms=5000,
)
PROD_ALARMS = AlarmThresholds(
    lambda_errors=1,
    lambda_throttles=1,
    state_machine_failures=1,
    ecs_below_desired_minutes=5,
    rds_cpu_percent=80,
    rds_free_storage_gib=10,
    rds_connections=150,
    api_5xx_percent=1.0,
    api_p99_latency_ms=3000,
)

# 8. Secrets Manager.
SECRETS = (
    SecretSpec("tradai/database-url", "PostgreSQL connection string", "manual"),
    SecretSpec("tradai/mlflow-credentials", "MLflow tracking auth", "manual"),
    SecretSpec("tradai/binance-api", "Binance API key/secret", "manual"),
    SecretSpec("tradai/jwt-secret", "JWT signing key", "manual"),
)

# 10. Environment differences.
PROFILES = {
    "dev": EnvironmentProfile(
        compute_mode=ComputeMode.CONSOLIDATED_EC2,
        consolidated_host=CONSOLIDATED_HOST,
        service_desired_count=1,
        log_retention_days=30,
        deletion_protection=False,
        waf_enabled=False,
        cloudtrail_enabled=False,
        executor_mode=ExecutorMode.STEPFUNCTIONS,
        alarms=_SMALL_ENV_ALARMS,
    ),
    "staging": EnvironmentProfile(
        compute_mode=ComputeMode.CONSOLIDATED_EC2,
        consolidated_host=CONSOLIDATED_HOST,
        service_desired_count=1,
        log_retention_days=30,
        deletion_protection=False,
        waf_enabled=True,
        cloudtrail_enabled=True,
        executor_mode=ExecutorMode.STEPFUNCTIONS,
        alarms=_SMALL_ENV_ALARMS,
    ),
    "prod": EnvironmentProfile(
        compute_mode=ComputeMode.FARGATE,
        consolidated_host=None,
        service_desired_count=2,
        log_retention_days=90,
        deletion_protection=True,
        waf_enabled=True,
        cloudtrail_enabled=True,
        executor_mode=ExecutorMode.STEPFUNCTIONS,
        alarms=PROD_ALARMS,
    ),
}

# 3.3 and 10. RDS (staging follows dev where 3.3 names only dev and prod).
_RDS_COMMON: dict[str, Any] = dict(
    engine_version="15.13",
    storage_type="gp3",
    force_ssl=True,
    publicly_accessible=False,
    port=5432,
    database_name="tradai",
    monitoring_interval_seconds=60,
    performance_insights=True,
)
RDS_BY_ENV = {
    "dev": RdsConfig(
        instance_class="db.t4g.micro", allocated_storage_gib=20, multi_az=False, backup_retention_days=7, **_RDS_COMMON
    ),
    "staging": RdsConfig(
        instance_class="db.t4g.micro", allocated_storage_gib=20, multi_az=False, backup_retention_days=7, **_RDS_COMMON
    ),
    "prod": RdsConfig(
        instance_class="db.t4g.small", allocated_storage_gib=50, multi_az=True, backup_retention_days=14, **_RDS_COMMON
    ),
}

# Not in the spec: the usage `make cost` assumes per environment (tradai_cdk/cost); fixed costs come from the templates.
_COST_COMMON = dict(lambda_average_ms=500, container_insights_cluster_metrics=12, container_insights_service_metrics=22)
COST_ASSUMPTIONS = {
    "dev": CostAssumptions(
        backtests_per_day=10,
        backtest_minutes=15,
        live_trading_tasks=0,
        dry_run_tasks=0,
        api_requests_per_month=100_000,
        alb_average_lcus=0.1,
        nat_egress_gb_per_month=10,
        log_gb_per_month=3,
        lambda_invocations_per_month=100_000,
        dynamodb_reads_per_month=1_000_000,
        dynamodb_writes_per_month=300_000,
        dynamodb_storage_gib=1,
        step_function_transitions_per_month=10_000,
        sqs_requests_per_month=500_000,
        s3_storage_gib=20,
        ecr_storage_gib=10,
        rds_changed_gib_per_day=0.1,
        **_COST_COMMON,
    ),
    "staging": CostAssumptions(
        backtests_per_day=20,
        backtest_minutes=15,
        live_trading_tasks=0,
        dry_run_tasks=1,
        api_requests_per_month=200_000,
        alb_average_lcus=0.1,
        nat_egress_gb_per_month=20,
        log_gb_per_month=5,
        lambda_invocations_per_month=100_000,
        dynamodb_reads_per_month=2_000_000,
        dynamodb_writes_per_month=500_000,
        dynamodb_storage_gib=1,
        step_function_transitions_per_month=20_000,
        sqs_requests_per_month=500_000,
        s3_storage_gib=50,
        ecr_storage_gib=10,
        rds_changed_gib_per_day=0.1,
        **_COST_COMMON,
    ),
    "prod": CostAssumptions(
        backtests_per_day=50,
        backtest_minutes=20,
        live_trading_tasks=1,
        dry_run_tasks=1,
        api_requests_per_month=1_000_000,
        alb_average_lcus=0.5,
        nat_egress_gb_per_month=50,
        log_gb_per_month=15,
        lambda_invocations_per_month=300_000,
        dynamodb_reads_per_month=10_000_000,
        dynamodb_writes_per_month=3_000_000,
        dynamodb_storage_gib=5,
        step_function_transitions_per_month=100_000,
        sqs_requests_per_month=1_000_000,
        s3_storage_gib=200,
        ecr_storage_gib=20,
        rds_changed_gib_per_day=0.5,
        **_COST_COMMON,
    ),
}
