"""Names shared by the operations constructs (compute stack) and the operations handlers."""

SERVICE = "operations"
METRICS_NAMESPACE = "TradAI/Operations"

# --- tradai-health-check (EventBridge, every 2 minutes, in the VPC) -------------------------------------------
ENV_HEALTH_TABLE = "HEALTH_STATE_TABLE"
ENV_SERVICE_NAMESPACE = "SERVICE_NAMESPACE"  # Cloud Map namespace, e.g. tradai-dev.local
# JSON list of {"service": "<Cloud Map service name>", "path": "<health path>"} (spec 2.1).
ENV_HEALTH_TARGETS = "HEALTH_TARGETS"
ENV_PROBE_TIMEOUT_SECONDS = "PROBE_TIMEOUT_SECONDS"
ENV_HEALTH_TTL_MINUTES = "HEALTH_TTL_MINUTES"
HEALTHY, DEGRADED, UNHEALTHY = "HEALTHY", "DEGRADED", "UNHEALTHY"
HEALTH_STATUSES = (HEALTHY, DEGRADED, UNHEALTHY)
METRIC_SERVICE_HEALTHY = "ServiceHealthy"  # 1 healthy, 0 not; dimension service_name
METRIC_PROBE_LATENCY = "ProbeLatency"  # milliseconds; dimension service_name
DIMENSION_SERVICE = "service_name"

# --- tradai-trading-heartbeat-check (EventBridge, every 5 minutes, in the VPC) --------------------------------
ENV_TRADING_TABLE = "TRADING_STATE_TABLE"
ENV_HEARTBEAT_STALE_MINUTES = "HEARTBEAT_STALE_MINUTES"
# tradai-trading-state items, written by the live and dry-run trading containers (strategy_id is the key):
ATTR_MODE = "mode"  # "live" | "dry-run"
ATTR_STATUS = "status"
ATTR_LAST_HEARTBEAT = "last_heartbeat"  # ISO-8601 UTC, e.g. 2026-12-01T05:30:00.000Z
MONITORED_MODES = ("live", "dry-run")
TRADING_RUNNING, TRADING_STALE = "RUNNING", "STALE"  # the checker marks RUNNING -> STALE, and back on recovery
METRIC_STALE_STRATEGIES = "StaleStrategies"

# --- tradai-infra-drift-detector (EventBridge, every 6 hours, outside the VPC) --------------------------------
ENV_INFRA_DRIFT_TABLE = "INFRA_DRIFT_TABLE"
ENV_STACK_NAMES = "STACK_NAMES"  # comma-separated CloudFormation stack names of this environment
# Comma-separated <stack name>/<logical resource id> that are runtime-managed by design: never reported.
ENV_RUNTIME_MANAGED = "RUNTIME_MANAGED"
ENV_DETECTION_TIMEOUT_SECONDS = "DETECTION_TIMEOUT_SECONDS"
METRIC_DRIFTED_STACKS = "DriftedStacks"

# --- added with the handlers ------------------------------------------------------------------------------------
# Health targets may name a "port" used when Cloud Map records none (A registrations without AWS_INSTANCE_PORT).
ATTR_INSTANCE_IPV4, ATTR_INSTANCE_PORT = "AWS_INSTANCE_IPV4", "AWS_INSTANCE_PORT"  # Cloud Map instance attributes
# Written by the heartbeat checker on tradai-trading-state items.
ATTR_STALE_SINCE, ATTR_STALE_HEARTBEAT = "stale_since", "stale_heartbeat"
DIMENSION_MODE = "mode"  # of METRIC_STALE_STRATEGIES
# drift_status of tradai-infra-drift-state; has_drift is the string "true" | "false" (GSI hash key).
DRIFTED, IN_SYNC, DRIFT_UNKNOWN = "DRIFTED", "IN_SYNC", "UNKNOWN"
DRIFT_INDEX = "has_drift-last_check-index"
# A notice written with the state change that causes it, removed once sent (every operations state table).
ATTR_PENDING_NOTICE = "pending_notice"
