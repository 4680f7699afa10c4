"""Where the config departs from a value spec v9.3.0 states, as data (issue 16).

Each row names a cell of the configuration mirror (docs/canonical-config.md, ``make docs``) by spec section,
table, row and column, with the spec's value, ours, and the heading of the docs/decisions.md section that
explains it. The mirror marks these cells; tests/test_config_doc.py fails when a row no longer departs.
Settings the spec does not mention (log groups, keys, container hardening, ...) are not deviations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deviation:
    section: str  # spec section, e.g. "4.1"
    item: str | None  # the row, by its key cell; None: every row of ``column``
    column: str
    spec: str | None  # the spec's value (an example when ``item`` is None); None: the spec has no such row
    ours: str  # the config's value as the mirror shows it
    decision: str  # heading of the docs/decisions.md section
    table: str = ""  # the table, when the section has several (4.1: the security group's name)


PULUMI = "Translation from Pulumi"
NAMING = "Naming"
NETWORK = "Network (spec 1)"
PERSISTENT = "Persistent tier (spec 3.1-3.3, 4.2, 8)"
COMPUTE = "Compute tier (spec 2, 6, 10)"
BACKTEST = "Backtest pipeline (spec 2.4, 2.5, 3.2, 6, 7)"
NO_WAY_AROUND = "No way around the API (issue 12; departures from spec 4.1/5.1)"
OPERATIONS = "Operations and ML lifecycle (issue 13; spec 3.2 rows 3-12, 7)"
DEPLOYMENTS = "Strategy deployments (issue 14; spec 2.2, 2.3, 2.5, 3.2, 5.1)"


def _added_rule(group: str, purpose: str, decision: str) -> Deviation:
    """A security-group rule spec 4.1 does not list (rows of 4.1 are keyed by their purpose)."""
    return Deviation("4.1", purpose, "Purpose", None, purpose, decision, table=group)


DEVIATIONS = (
    Deviation(
        "1.3",
        "Private RT",
        "Routes",
        "0.0.0.0/0 -> NAT Instance",
        "0.0.0.0/0 -> NAT Instance; s3, dynamodb -> gateway endpoints",
        NETWORK,
    ),
    Deviation("1.4", "Lambda", "Value", "tradai-update-nat-routes", "tradai-update-nat-routes-{env}", NAMING),
    Deviation(
        "3.2",
        "tradai-infra-drift-state-{env}",
        "Purpose",
        "Pulumi infrastructure drift detection (no TTL for audit)",
        "CloudFormation drift detection state (no TTL for audit)",
        PULUMI,
    ),
    _added_rule("tradai-ecs-sg", "MLflow from services and tasks", BACKTEST),
    _added_rule("tradai-ecs-sg", "Service-to-service via Cloud Map", BACKTEST),
    _added_rule("tradai-ecs-sg", "To MLflow", BACKTEST),
    _added_rule("tradai-ecs-sg", "To services via Cloud Map", BACKTEST),
    _added_rule("tradai-ecs-sg", "MLflow from Lambda", OPERATIONS),
    _added_rule("tradai-apigw-sg", "To the ALB (HTTP)", NO_WAY_AROUND),
    _added_rule("tradai-apigw-sg", "To the ALB (HTTPS)", NO_WAY_AROUND),
    Deviation("6.1", "Queue Name", "Value", "tradai-backtest-queue.fifo", "tradai-backtest-queue-{env}.fifo", COMPUTE),
    Deviation("6.2", "Queue Name", "Value", "tradai-backtest-dlq.fifo", "tradai-backtest-dlq-{env}.fifo", COMPUTE),
    Deviation("7", None, "Function Name", "tradai-backtest-consumer", "tradai-backtest-consumer-{env}", NAMING),
    Deviation(
        "7",
        "tradai-infra-drift-detector-{env}",
        "Function Name",
        "tradai-pulumi-drift-detector",
        "tradai-infra-drift-detector-{env}",
        PULUMI,
    ),
    Deviation(
        "7",
        "tradai-update-nat-routes-{env}",
        "Trigger",
        "ASG Lifecycle",
        "ASG Lifecycle + EventBridge (5 min, route audit)",
        OPERATIONS,
    ),
    Deviation(
        "7", "tradai-strategy-deployer-{env}", "Function Name", None, "tradai-strategy-deployer-{env}", DEPLOYMENTS
    ),
    Deviation("8", None, "Secret Name", "tradai/database-url", "tradai/{env}/database-url", PERSISTENT),
    Deviation("9.2", "ManagedBy", "Value", "pulumi", "cdk", PULUMI),
)
