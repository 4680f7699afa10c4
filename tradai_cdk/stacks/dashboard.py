"""What the environment's operations dashboard shows: every alarm of each tier, and the checks' own metrics."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

from lambda_src.ml_lifecycle import contract as ml
from lambda_src.operations import contract as ops

from ..config.model import TradaiConfig
from ..constructs.operations_dashboard import DashboardSection

TIER_TITLES = {
    "Foundation": "Network: NAT instance and private routes",
    "Persistent": "Data: PostgreSQL",
    "Compute": "Compute: services, queue, workflows and functions",
    "Edge": "Edge: API and WAF",
}
UNGRAPHED_NAMESPACES = ("AWS/Lambda",)  # per-function errors and throttles appear in the status widget only


def dashboard_section(title: str, stack: cdk.Stack) -> DashboardSection:
    """Every alarm defined in ``stack`` (each must be named), graphing all but the per-function ones."""
    alarms = [child for child in stack.node.find_all() if isinstance(child, cloudwatch.CfnAlarm)]
    names, graphed = [], []
    for alarm in alarms:
        name = alarm.alarm_name
        if not isinstance(name, str) or cdk.Token.is_unresolved(name):
            raise ValueError(f"alarm {alarm.node.path} has no fixed alarm_name; the dashboard refers to alarms by name")
        names.append(name)
        if alarm.namespace not in UNGRAPHED_NAMESPACES:
            graphed.append(name)
    return DashboardSection(title=title, alarm_names=names, graphed=graphed)


def health_section(config: TradaiConfig) -> DashboardSection:
    """Service health, stale strategies, drifted models and stacks, from the scheduled checks' metrics."""

    def metric(
        namespace: str, name: str, service: str, statistic: str = "Maximum", **dimensions: str
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=name,
            statistic=statistic,
            period=cdk.Duration.minutes(5),
            label=next(iter(dimensions.values()), name),
            dimensions_map={"service": service, **dimensions},
        )

    healthy = [
        metric(
            ops.METRICS_NAMESPACE, ops.METRIC_SERVICE_HEALTHY, ops.SERVICE, "Minimum", **{ops.DIMENSION_SERVICE: s.name}
        )
        for s in config.services
    ]
    latency = [
        metric(
            ops.METRICS_NAMESPACE, ops.METRIC_PROBE_LATENCY, ops.SERVICE, "Average", **{ops.DIMENSION_SERVICE: s.name}
        )
        for s in config.services
    ]
    stale = [
        metric(ops.METRICS_NAMESPACE, ops.METRIC_STALE_STRATEGIES, ops.SERVICE, mode=mode)
        for mode in ops.MONITORED_MODES
    ]
    drift = [
        metric(ops.METRICS_NAMESPACE, ops.METRIC_DRIFTED_STACKS, ops.SERVICE),
        metric(ml.METRICS_NAMESPACE, ml.METRIC_MODELS_DRIFTED, ml.SERVICE),
    ]
    return DashboardSection(
        title="Health checks, heartbeats and drift",
        alarm_names=(),
        graphs=(
            ("Service healthy (1 = all instances pass)", healthy),
            ("Health probe latency (ms)", latency),
            ("Stale trading strategies", stale),
            ("Drifted stacks and models", drift),
        ),
    )
