"""Names shared by the NatInstanceHA construct, the boot script and this handler.

The construct imports this module (``lambda_src.nat_routes.contract``) to build the
EventBridge pattern, the alarm's metric, the instance role's tag condition and the
function's environment, so a rename cannot leave one side behind.
"""

LAUNCH_EVENT = "EC2 Instance-launch Lifecycle Action"
EVENT_SOURCE = "aws.autoscaling"
LAUNCH_TRANSITION = "autoscaling:EC2_INSTANCE_LAUNCHING"
HOOK_NAME = "route-update"

SERVICE = "nat-routes"
METRICS_NAMESPACE = "TradAI/NatInstance"
METRIC_ROUTE_UPDATED = "RouteUpdated"
METRIC_ROUTE_UPDATE_FAILED = "RouteUpdateFailed"
METRIC_SECONDS_TO_SWITCH = "SecondsToRouteSwitch"
METRIC_ROUTES_UNUSABLE = "RoutesUnusable"  # published by the scheduled route audit
DIMENSION_GROUP = "AutoScalingGroupName"

# The instance tags itself with this key as the last step of its boot.
BOOT_TAG_KEY = "tradai:nat-boot"
BOOT_READY = "ready"
BOOT_FAILED = "failed"

# Seconds the function keeps back after readiness for source/dest check, EIP, routes and completion.
SWITCH_RESERVE_SECONDS = 20

# Key the handler adds to the event when it hands an unfinished wait on to its next invocation.
CONTINUATION_KEY = "tradai:continuation"

ENV_ROUTE_TABLE_IDS = "ROUTE_TABLE_IDS"
ENV_GROUP_NAME = "AUTO_SCALING_GROUP_NAME"
ENV_HOOK_NAME = "LIFECYCLE_HOOK_NAME"
ENV_EIP_ALLOCATION_ID = "EIP_ALLOCATION_ID"
ENV_READY_TIMEOUT = "READY_TIMEOUT_SECONDS"
ENV_POLL_INTERVAL = "POLL_INTERVAL_SECONDS"
