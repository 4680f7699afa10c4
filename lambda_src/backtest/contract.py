"""Names shared by the BacktestPipeline construct, its state machine and the backtest handlers."""

SERVICE = "backtest"
METRICS_NAMESPACE = "TradAI/Backtest"

# Run status in tradai-workflow-state; a run only ever moves forward along ALLOWED_TRANSITIONS.
SUBMITTED, RUNNING, COMPLETED, FAILED, CANCELLED = "SUBMITTED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})
ALLOWED_TRANSITIONS = {
    SUBMITTED: frozenset({RUNNING, FAILED, CANCELLED}),
    RUNNING: frozenset({COMPLETED, FAILED, CANCELLED}),
}

# Spec 2.4: how a consumer launches a backtest.
LAUNCH_ECS = "ecs"
LAUNCH_STEPFUNCTIONS = "stepfunctions"
LAUNCH_MODES = (LAUNCH_ECS, LAUNCH_STEPFUNCTIONS)

# Environment variables (read and validated once per cold start).
ENV_LAUNCH_MODE = "LAUNCH_MODE"
ENV_ECS_CLUSTER = "ECS_CLUSTER"
ENV_ECS_TASK_PREFIX = "ECS_TASK_PREFIX"
ENV_STEP_FUNCTIONS_ARN = "STEP_FUNCTIONS_ARN"
ENV_TASK_FAMILY = "TASK_FAMILY"
ENV_CAPACITY_PROVIDER = "CAPACITY_PROVIDER"
ENV_TASK_SUBNETS = "TASK_SUBNETS"
ENV_TASK_SECURITY_GROUPS = "TASK_SECURITY_GROUPS"
ENV_WORKFLOW_TABLE = "WORKFLOW_STATE_TABLE"
ENV_IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
ENV_DATA_COLLECTION_URL = "DATA_COLLECTION_URL"
ENV_RUN_TTL_DAYS = "RUN_TTL_DAYS"
ENV_STUCK_AFTER_MINUTES = "STUCK_AFTER_MINUTES"

CONTAINER_NAME = "strategy"
TRADING_MODE = "backtest"
# Workflow input field -> the strategy container's environment variable (spec 2.5 per-run overrides).
RUN_OVERRIDES = {
    "job_id": "JOB_ID",
    "strategy": "STRATEGY",
    "strategy_id": "STRATEGY_ID",
    "trading_mode": "TRADING_MODE",
    "timeframe": "TIMEFRAME",
    "timerange": "TIMERANGE",
    "pairs": "PAIRS",
    "experiment_name": "EXPERIMENT_NAME",
    "trace_id": "TRACE_ID",
}
# Error name update-status raises for a refused (backward or unknown) transition.
STATUS_REGRESSION_ERROR = "StatusRegression"
INVALID_REQUEST_ERROR = "InvalidBacktestRequest"
