"""Names shared by the StrategyDeployment construct, its workflow and the strategy deployer handler.

Workflow ``tradai-strategy-deployment-<env>``; backend-api starts it (POST /api/v1/strategies/{name}/stage and
/promote, and rollback) with the execution name = the deployment id, so a repeated request finds the same run.
Input: {"action": "stage" | "promote" | "rollback", "strategy_name", "strategy_id", "requested_by",
        stage: "config_hash" (content hash of a tradai-config-versions item),
        rollback: optional "deployment_id" to restore (default: the live deployment before the current one)}.

The workflow invokes the deployer once per step with {"step": <STEP_*>, "deployment_id": <execution name>,
"request": <the input>, "plan": <prepare's output>, "task": <start's output>, "check": <last check>}:
  prepare  validate, resolve the config (stage: by hash; promote: the staged dry-run's; rollback: the chosen
           deployment's), claim the slot in tradai-trading-state with a condition (never two tasks of one
           strategy in one mode), record the deployment IN_PROGRESS; rollback first stops the current live task
           (two live traders must never overlap). Output: the plan (mode, task family, config_path, deadline...).
  start    RunTask of the mode's task definition (idempotent: startedBy = deployment id), per-run overrides
           STRATEGY_ID, STRATEGY, TRADING_MODE, CONFIG_PATH (spec 2.5) and TRADING_STATE_KEY.
  check    {"state": WAITING | HEALTHY | FAILED, "reason"}: HEALTHY once the task is RUNNING, its container
           health is not UNHEALTHY and tradai-trading-state holds a heartbeat newer than the task's start;
           FAILED when the task stopped or the deadline passed.
  activate register the task in Cloud Map (the mode's service, instance id = strategy id, attributes
           AWS_INSTANCE_IPV4/PORT, strategy_id, task_arn, deployment_id), mark the slot RUNNING, record the
           deployment SUCCEEDED; promote then retires the dry-run (stop, deregister, slot STOPPED).
  abort    stop the started task, deregister it, mark the slot FAILED and the deployment FAILED with the error;
           whatever ran before (the dry-run of a failed promote) is left running.
"""

SERVICE = "strategy-deployments"
METRICS_NAMESPACE = "TradAI/Deployments"

STAGE, PROMOTE, ROLLBACK = "stage", "promote", "rollback"
ACTIONS = (STAGE, PROMOTE, ROLLBACK)
DRY_RUN, LIVE = "dry-run", "live"  # trading modes (spec 2.5 TRADING_MODE) and Cloud Map services' modes
MODE_OF_ACTION = {STAGE: DRY_RUN, PROMOTE: LIVE, ROLLBACK: LIVE}

STEP_PREPARE, STEP_START, STEP_CHECK, STEP_ACTIVATE, STEP_ABORT = "prepare", "start", "check", "activate", "abort"
STEPS = (STEP_PREPARE, STEP_START, STEP_CHECK, STEP_ACTIVATE, STEP_ABORT)
WAITING, HEALTHY, FAILED_CHECK = "WAITING", "HEALTHY", "FAILED"

# tradai-trading-state: one item per strategy and mode; the trading container updates last_heartbeat on it.
SLOT_STARTING, SLOT_RUNNING, SLOT_STOPPED, SLOT_FAILED = "STARTING", "RUNNING", "STOPPED", "FAILED"
SLOT_FREE = (SLOT_STOPPED, SLOT_FAILED)  # a slot in these statuses may be claimed again
SLOT_STALE = "STALE"  # set (and cleared) by the heartbeat checker on a RUNNING slot whose heartbeat is stale


def state_key(strategy_id: str, mode: str) -> str:
    """tradai-trading-state key of a strategy's task in one mode, e.g. ``pascal-btc#live``."""
    return f"{strategy_id}#{mode}"


# tradai-deployments status.
IN_PROGRESS, SUCCEEDED, FAILED, RETIRED = "IN_PROGRESS", "SUCCEEDED", "FAILED", "RETIRED"

# tradai-config-versions items name their config file in the configs bucket.
ATTR_CONFIG_KEY = "s3_key"

# Deployer environment.
ENV_TRADING_TABLE = "TRADING_STATE_TABLE"
ENV_DEPLOYMENTS_TABLE = "DEPLOYMENTS_TABLE"
ENV_CONFIG_VERSIONS_TABLE = "CONFIG_VERSIONS_TABLE"
ENV_CONFIGS_BUCKET = "CONFIGS_BUCKET"
ENV_ECS_CLUSTER = "ECS_CLUSTER"
ENV_TASK_SUBNETS = "TASK_SUBNETS"
ENV_TASK_SECURITY_GROUPS = "TASK_SECURITY_GROUPS"
ENV_ENVIRONMENT = "TRADAI_ENV"
ENV_DEPLOYMENT_TTL_DAYS = "DEPLOYMENT_TTL_DAYS"
ENV_HEALTH_TIMEOUT_SECONDS = "HEALTH_TIMEOUT_SECONDS"
# JSON object mode -> {"family", "capacity_provider", "discovery_service_id", "port"}.
ENV_MODES = "TRADING_MODES"

CONTAINER_NAME = "strategy"
# Per-run container overrides (spec 2.5, plus TRADING_STATE_KEY: where the container writes its heartbeat).
RUN_OVERRIDES = ("STRATEGY_ID", "STRATEGY", "TRADING_MODE", "CONFIG_PATH", "TRADING_STATE_KEY")

# Errors the deployer raises (the Lambda error type the workflow sees is the class name). A malformed event
# raises ValueError naming the field; transient AWS errors propagate as botocore raises them.
ERROR_ALREADY_RUNNING = "AlreadyRunning"  # stage: the strategy's dry-run slot is taken
ERROR_ALREADY_LIVE = "AlreadyLive"  # promote/rollback: the live slot is taken (or a deployment is in progress on it)
ERROR_NOT_STAGED = "NotStaged"  # promote: no RUNNING dry-run of the strategy
ERROR_NOTHING_TO_ROLL_BACK_TO = "NothingToRollBackTo"
ERROR_UNKNOWN_CONFIG = "UnknownConfig"  # stage: config hash unknown, of another strategy, or its item is incomplete
ERROR_TASK_START_FAILED = "TaskStartFailed"  # RunTask answered with failures
ERROR_SLOT_LOST = "SlotLost"  # the slot was taken over by another deployment meanwhile
REFUSALS = (
    ERROR_ALREADY_RUNNING,
    ERROR_ALREADY_LIVE,
    ERROR_NOT_STAGED,
    ERROR_NOTHING_TO_ROLL_BACK_TO,
    ERROR_UNKNOWN_CONFIG,
    ERROR_TASK_START_FAILED,
    ERROR_SLOT_LOST,
)

# tradai-config-versions attribute naming the strategy class of a config; index used to find a config by hash.
ATTR_CONFIG_STRATEGY = "strategy"
CONFIG_HASH_INDEX = "config_hash-index"
# tradai-deployments items written by the deployer carry kind = DEPLOYMENT_KIND (ML promotions share the table).
DEPLOYMENT_KIND = "strategy-deployment"
