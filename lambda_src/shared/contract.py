"""Names shared by the constructs that deploy a notifying function and ``shared.notify`` (no AWS SDK import:
the CDK app imports this module)."""

ENV_NOTIFICATIONS_TABLE = "NOTIFICATIONS_TABLE"
ENV_ALERTS_TOPIC_ARN = "ALERTS_TOPIC_ARN"
