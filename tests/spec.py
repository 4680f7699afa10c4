"""Expectations copied row by row from CANONICAL-CONFIG v9.3.0 (independent of the app's config).

Tests compare the synthesized templates with these rows, so a typo in the
config module cannot agree with itself.
"""

ENVIRONMENTS = ("dev", "staging", "prod")

# 1.1 VPC
VPC_CIDR = "10.0.0.0/16"
REGION = "eu-central-1"
AZS = ("eu-central-1a", "eu-central-1b")

# 1.2 Subnets: name, AZ, CIDR, route table
SUBNETS = (
    ("Public-1", "eu-central-1a", "10.0.1.0/24", "Public RT"),
    ("Public-2", "eu-central-1b", "10.0.2.0/24", "Public RT"),
    ("Private-1", "eu-central-1a", "10.0.11.0/24", "Private RT"),
    ("Private-2", "eu-central-1b", "10.0.12.0/24", "Private RT"),
    ("Database-1", "eu-central-1a", "10.0.21.0/24", "Database RT"),
    ("Database-2", "eu-central-1b", "10.0.22.0/24", "Database RT"),
)

# 1.4 NAT instance
NAT_INSTANCE_TYPE = "t4g.nano"
NAT_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
NAT_ASG = {"MinSize": "1", "MaxSize": "1", "DesiredCapacity": "1"}
NAT_SUBNET = "Public-1"
NAT_INSTANCE_ACTIONS = {"ec2:AssociateAddress", "ec2:ModifyInstanceAttribute"}
NAT_LAMBDA_ROUTE_ACTIONS = {"ec2:CreateRoute", "ec2:ReplaceRoute"}
NAT_LAMBDA_LIFECYCLE_ACTION = "autoscaling:CompleteLifecycleAction"

# Not in spec 4.1 (docs/decisions.md, spec gap): strategy tasks reach MLflow (spec 2.5) and services reach
# each other through Cloud Map (spec 2.3), which needs tradai-ecs-sg to admit and send to itself.
SECURITY_GROUP_ADDITIONS = {
    # The API Gateway VPC link's interfaces reach the internal ALB (spec 5.1 "VPC Link -> ALB").
    "tradai-apigw-sg": {
        ("egress", 80, 80, "tcp", "tradai-alb-sg"),
        ("egress", 443, 443, "tcp", "tradai-alb-sg"),
    },
    "tradai-ecs-sg": {
        ("ingress", 5000, 5000, "tcp", "tradai-ecs-sg"),
        ("ingress", 8000, 8005, "tcp", "tradai-ecs-sg"),
        ("egress", 5000, 5000, "tcp", "tradai-ecs-sg"),
        ("egress", 8000, 8005, "tcp", "tradai-ecs-sg"),
        # The other end of tradai-lambda-sg's "To MLflow" egress: the ML lifecycle functions call MLflow.
        ("ingress", 5000, 5000, "tcp", "tradai-lambda-sg"),
    },
}

# 4.1 Security groups: direction, from, to, protocol, peer (CIDR or SG name)
SECURITY_GROUPS = {
    "tradai-alb-sg": {
        ("ingress", 80, 80, "tcp", "0.0.0.0/0"),
        ("ingress", 443, 443, "tcp", "0.0.0.0/0"),
        ("egress", 8000, 8003, "tcp", "tradai-ecs-sg"),
        ("egress", 5000, 5000, "tcp", "tradai-ecs-sg"),
    },
    "tradai-ecs-sg": {
        ("ingress", 8000, 8000, "tcp", "tradai-alb-sg"),
        ("ingress", 8002, 8002, "tcp", "tradai-alb-sg"),
        ("ingress", 8003, 8003, "tcp", "tradai-alb-sg"),
        ("ingress", 5000, 5000, "tcp", "tradai-alb-sg"),
        ("ingress", 8000, 8003, "tcp", "tradai-lambda-sg"),
        ("egress", 443, 443, "tcp", "0.0.0.0/0"),
        ("egress", 5432, 5432, "tcp", "tradai-rds-sg"),
    },
    "tradai-lambda-sg": {
        ("egress", 443, 443, "tcp", "0.0.0.0/0"),
        ("egress", 8000, 8003, "tcp", "tradai-ecs-sg"),
        ("egress", 5000, 5000, "tcp", "tradai-ecs-sg"),
    },
    "tradai-rds-sg": {
        ("ingress", 5432, 5432, "tcp", "tradai-ecs-sg"),
        ("ingress", 5432, 5432, "tcp", "tradai-lambda-sg"),
    },
    "tradai-nat-sg": {
        ("ingress", 0, 65535, "tcp", "10.0.11.0/24"),
        ("ingress", 0, 65535, "tcp", "10.0.12.0/24"),
        ("egress", 0, 65535, "tcp", "0.0.0.0/0"),
    },
}

# 7. Lambda functions: name, memory, timeout, VPC
LAMBDA_RUNTIME = "python3.11"
UPDATE_NAT_ROUTES = ("tradai-update-nat-routes", 128, 120, False)
# The backtest pipeline's rows: name -> (memory, timeout, VPC, trigger; schedule minutes for EventBridge)
BACKTEST_LAMBDAS = {
    "tradai-backtest-consumer": (256, 30, True, "SQS"),
    "tradai-sqs-consumer": (256, 30, True, "SQS"),
    "tradai-orphan-scanner": (128, 60, True, 5),
    "tradai-validate-strategy": (256, 30, True, "Step Functions"),
    "tradai-data-collection-proxy": (256, 180, True, "Step Functions"),
    "tradai-notify-completion": (128, 30, False, "Step Functions"),
    "tradai-cleanup-resources": (256, 60, True, "Step Functions"),
    "tradai-update-status": (256, 30, True, "Step Functions"),
}
# 7. All 18 rows: spec function name -> (memory MB, timeout s, VPC, trigger as the spec writes it)
LAMBDAS = {
    "tradai-backtest-consumer": (256, 30, True, "SQS"),
    "tradai-sqs-consumer": (256, 30, True, "SQS"),
    "tradai-orphan-scanner": (128, 60, True, "EventBridge (5 min)"),
    "tradai-health-check": (256, 60, True, "EventBridge (2 min)"),
    "tradai-trading-heartbeat-check": (256, 60, True, "EventBridge (5 min)"),
    "tradai-drift-monitor": (512, 120, True, "EventBridge (12 hours)"),
    "tradai-retraining-scheduler": (256, 60, True, "EventBridge (6 hours)"),
    "tradai-validate-strategy": (256, 30, True, "Step Functions"),
    "tradai-data-collection-proxy": (256, 180, True, "Step Functions"),
    "tradai-notify-completion": (128, 30, False, "Step Functions"),
    "tradai-check-retraining-needed": (256, 30, True, "Step Functions"),
    "tradai-compare-models": (512, 120, True, "Step Functions"),
    "tradai-promote-model": (256, 60, True, "Step Functions"),
    "tradai-model-rollback": (256, 60, True, "Backend API"),
    "tradai-cleanup-resources": (256, 60, True, "Step Functions"),
    "tradai-update-status": (256, 30, True, "Step Functions"),
    "tradai-pulumi-drift-detector": (512, 300, False, "EventBridge (6 hours)"),
    "tradai-update-nat-routes": (128, 120, False, "ASG Lifecycle"),
}
# Not in spec 7 (docs/decisions.md): functions added by later issues, same columns.
ADDED_LAMBDAS = {"tradai-strategy-deployer": (256, 60, False, "Step Functions")}
# docs/decisions.md: CloudFormation drift detection replaces the Pulumi drift detector, and its name says so.
FUNCTION_RENAMES = {"tradai-pulumi-drift-detector": "tradai-infra-drift-detector"}
# 3.2 rows 3-12 and the functions that own their writes (issue 13).
AUDIT_TABLES_WITHOUT_TTL = ("tradai-rollback-state", "tradai-infra-drift-state")

# 2.4 SQS consumer environment
CONSUMER_LAUNCH_MODES = ("ecs", "stepfunctions")
ECS_TASK_PREFIX = "strategy-"
# 2.2 strategy-container: cpu, memory, capacity provider
STRATEGY_CONTAINER = (1024, 2048, "FARGATE_SPOT")
# 2.5 per-run overrides of the strategy container
RUN_OVERRIDES = {"JOB_ID", "STRATEGY", "STRATEGY_ID", "TRADING_MODE", "TIMEFRAME", "TIMERANGE", "PAIRS",
                 "EXPERIMENT_NAME"}

# 9.2 Tags (ManagedBy translated to cdk)
REQUIRED_TAGS = {"Application": "tradai", "ManagedBy": "cdk", "CostCenter": "trading-platform",
                 "Owner": "platform-team"}

# 10. Environment differences
LOG_RETENTION_DAYS = {"dev": 30, "staging": 30, "prod": 90}
DELETION_PROTECTION = {"dev": False, "staging": False, "prod": True}

# 3.1 S3 buckets: component -> (versioning, glacier after days, expire after days); all SSE-S3
BUCKETS = {
    "configs": (True, None, None),
    "results": (True, 30, None),
    "arcticdb": (True, None, None),
    "logs": (False, None, 90),
    "mlflow": (True, None, None),
}

# 3.2 DynamoDB tables: key -> (partition, sort, GSIs, TTL attribute, PITR)
# GSI: (name, hash, range, projection, non-key attributes)
TABLES = {
    "workflow-state": ("run_id", None, (
        ("status-created_at-index", "status", "created_at", "ALL", ()),
        ("trace_id-index", "trace_id", None, "INCLUDE", ("job_id", "status", "created_at", "execution_arn")),
    ), "ttl", True),
    "idempotency": ("idempotency_key", None, (), "expiration", False),
    "health-state": ("service_name", None, (), "expires_at", True),
    "trading-state": ("strategy_id", None, (), "ttl", True),
    "deployments": ("strategy_name", "deployment_id", (
        ("environment-created_at-index", "environment", "created_at", "ALL", ()),
    ), "ttl", True),
    "drift-state": ("model_name", None, (), "expires_at", True),
    "retraining-state": ("model_name", None, (), "expires_at", True),
    "rollback-state": ("model_name", None, (), None, True),
    "shadow-test-state": ("test_id", None, (
        ("model_name-status_created_at-index", "model_name", "status_created_at", "ALL", ()),
    ), "expires_at", True),
    "notifications": ("notification_id", None, (), "expire_at", True),
    "infra-drift-state": ("stack_name", None, (
        ("has_drift-last_check-index", "has_drift", "last_check", "ALL", ()),
    ), None, True),
    "config-versions": ("strategy_name", "config_id", (
        ("config_hash-index", "config_hash", None, "KEYS_ONLY", ()),
        ("status-index", "strategy_name", "status", "ALL", ()),
    ), "ttl", True),
}

# 3.3 RDS (staging follows dev, section 10)
RDS_ENGINE_VERSION = "15.13"
RDS = {
    "dev": {"DBInstanceClass": "db.t4g.micro", "AllocatedStorage": "20", "MultiAZ": False, "BackupRetentionPeriod": 7},
    "staging": {"DBInstanceClass": "db.t4g.micro", "AllocatedStorage": "20", "MultiAZ": False,
                "BackupRetentionPeriod": 7},
    "prod": {"DBInstanceClass": "db.t4g.small", "AllocatedStorage": "50", "MultiAZ": True,
             "BackupRetentionPeriod": 14},
}

# 4.2 Cognito
USER_POOL_NAME = "tradai-users"
PASSWORD_POLICY = {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True,
                   "RequireSymbols": True}

# 8. Secrets
SECRETS = ("tradai/database-url", "tradai/mlflow-credentials", "tradai/binance-api", "tradai/jwt-secret")

# 2.1/2.2 services: name -> (cpu, memory MiB, port, health check path)
SERVICES = {
    "backend-api": (512, 1024, 8000, "/api/v1/health"),
    "data-collection": (256, 512, 8002, "/api/v1/health"),
    "mlflow": (512, 1024, 5000, "/mlflow/"),
    "strategy-service": (512, 1024, 8003, "/api/v1/health"),
}
# 2.2 on-demand tasks: name -> (cpu, memory MiB, launch type)
ON_DEMAND_TASKS = {
    "strategy-container": (1024, 2048, "FARGATE_SPOT"),
    "live-trading": (1024, 2048, "FARGATE"),
    "dry-run-trading": (1024, 2048, "FARGATE_SPOT"),
}
ECS_TASK_PREFIX = "strategy-"
# 2.3 service discovery: name -> port
SERVICE_DISCOVERY = {"backend-api": 8000, "data-collection": 8002, "mlflow": 5000, "strategy-service": 8003,
                     "live-trading": 8004, "dry-run-trading": 8005}
# 2.5 strategy container defaults
STRATEGY_ENV = {"CONFIG_PATH": "/freqtrade/user_data/config.json",
                "RESULTS_DIR": "/freqtrade/user_data/backtest_results", "EXPERIMENT_NAME": "default"}

# 6. SQS
BACKTEST_QUEUE = {"FifoQueue": True, "ContentBasedDeduplication": True, "VisibilityTimeout": 900,
                  "MessageRetentionPeriod": 345600, "ReceiveMessageWaitTimeSeconds": 20}
BACKTEST_DLQ = {"FifoQueue": True, "MessageRetentionPeriod": 1209600}
MAX_RECEIVE_COUNT = 3

# 10. Environment differences (compute)
COMPUTE_MODE = {"dev": "ec2", "staging": "ec2", "prod": "fargate"}
CONSOLIDATED_INSTANCE = "t3.small"
T3_SMALL = {"vcpus": 2, "memory_mib": 2048, "max_enis": 3}
DESIRED_COUNT = {"dev": 1, "staging": 1, "prod": 2}

# 5.1: the services the API's routes reach through the VPC link -> ALB (the rest are internal, Cloud Map only)
API_BACKED_SERVICES = {"backend-api", "mlflow"}

# 5.1 API routes: method, path, integration, auth required (row by row)
API_ROUTES = (
    ("GET", "/api/v1/health", "VPC Link -> ALB", False),
    ("GET", "/api/v1/strategies", "VPC Link -> Backend API", True),
    ("GET", "/api/v1/strategies/{id}", "VPC Link -> Backend API", True),
    ("POST", "/api/v1/strategies", "VPC Link -> Backend API", True),
    ("POST", "/api/v1/strategies/{name}/stage", "VPC Link -> Backend API", True),
    ("POST", "/api/v1/strategies/{name}/promote", "VPC Link -> Backend API", True),
    ("POST", "/api/v1/backtests", "SQS Direct Integration", True),
    ("GET", "/api/v1/backtests", "VPC Link -> Backend API", True),
    ("GET", "/api/v1/backtests/{job_id}", "VPC Link -> Backend API", True),
    ("POST", "/api/v1/backtests/{job_id}/cancel", "VPC Link -> Backend API", True),
    ("GET", "/api/v1/backtests/{job_id}/equity", "VPC Link -> Backend API", True),
    ("GET", "/api/v1/backtests/{job_id}/report-data", "VPC Link -> Backend API", True),
    ("GET", "/api/v1/data/symbols", "VPC Link -> Backend API", True),
    ("GET", "/api/v1/data/freshness", "VPC Link -> Backend API", True),
    ("POST", "/api/v1/data/sync", "VPC Link -> Backend API", True),
    ("GET", "/api/v1/models/{name}/versions", "VPC Link -> Backend API", True),
    ("POST", "/api/v1/models/{name}/rollback", "VPC Link -> Backend API", True),
    ("GET", "/api/v1/catalog/strategies", "VPC Link -> Backend API", True),
    ("GET", "/api/v1/catalog/strategies/{name}", "VPC Link -> Backend API", True),
    ("GET", "/api/v1/catalog/strategies/{name}/compare", "VPC Link -> Backend API", True),
    ("ANY", "/mlflow/*", "VPC Link -> MLflow", True),
)
# 5.2 throttling: default rate (req/s) and burst; per-route override (req/s)
API_THROTTLING = {"rate": 100, "burst": 200}
API_ROUTE_RATE_OVERRIDES = {"/api/v1/backtests": 10}
