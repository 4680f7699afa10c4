"""Every stack: each alarm notifies the alerts topic on ALARM and OK and, where the config sets its
threshold (``profile.alarms``), watches the right resource with the config's threshold and periods."""

from __future__ import annotations

from typing import Any, NamedTuple

from tradai_cdk.config import TradaiConfig

from .. import ACCOUNT, REGION
from .model import CheckContext, Findings, StackView

WORKFLOWS = ("backtest", "retraining", "strategy-deployment")  # the state machines with execution alarms
AT_LEAST, BELOW = "GreaterThanOrEqualToThreshold", "LessThanThreshold"


class Expected(NamedTuple):
    threshold: float
    periods: int = 1
    comparison: str = AT_LEAST
    dimension: tuple[str, str] | None = None  # (name, value) of the watched metric


def alerts_topic_arn(cfg: TradaiConfig) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{cfg.naming.name('alerts')}"


def expected_alarms(cfg: TradaiConfig) -> dict[str, Expected]:
    """Alarm name -> what ``profile.alarms`` asks of it."""
    limits, name = cfg.profile.alarms, cfg.naming.name
    expected: dict[str, Expected] = {}
    for spec in cfg.lambdas:
        function = ("FunctionName", cfg.function_name(spec.name))
        expected[f"{function[1]}-errors"] = Expected(limits.lambda_errors, dimension=function)
        expected[f"{function[1]}-throttles"] = Expected(limits.lambda_throttles, dimension=function)
    for workflow in WORKFLOWS:
        for signal in ("executions-failed", "executions-timed-out"):
            expected[f"{name(workflow)}-{signal}"] = Expected(limits.state_machine_failures)
    for service in cfg.services:
        expected[f"{name(service.name)}-below-desired"] = Expected(1, limits.ecs_below_desired_minutes)
    db = ("DBInstanceIdentifier", name("db"))
    expected[f"{db[1]}-cpu"] = Expected(limits.rds_cpu_percent, 3, dimension=db)
    expected[f"{db[1]}-free-storage"] = Expected(limits.rds_free_storage_gib * 1024**3, 1, BELOW, db)
    expected[f"{db[1]}-connections"] = Expected(limits.rds_connections, 2, dimension=db)
    api = ("ApiName", name("api"))
    expected[f"{api[1]}-5xx-rate"] = Expected(limits.api_5xx_percent)
    expected[f"{api[1]}-p99-latency"] = Expected(limits.api_p99_latency_ms, 2, dimension=api)
    return expected


def _dimensions(alarm: dict[str, Any]) -> dict[str, str]:
    """The watched metric's dimensions, also inside a metric math alarm."""
    metrics = [alarm] + [q["MetricStat"]["Metric"] for q in alarm.get("Metrics", []) if "MetricStat" in q]
    return {d["Name"]: d["Value"] for m in metrics for d in m.get("Dimensions", [])}


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    resources = view.of_type("AWS::CloudWatch::Alarm")
    if not resources:
        return
    cloudwatch, topic = ctx.client("cloudwatch"), alerts_topic_arn(ctx.cfg)
    ctx.client("sns").get_topic_attributes(TopicArn=topic)  # raises if the alerts topic does not exist
    expected = expected_alarms(ctx.cfg)
    names = [r.physical_id for r in resources]
    alarms = {
        a["AlarmName"]: a
        for start in range(0, len(names), 100)
        for a in cloudwatch.describe_alarms(AlarmNames=names[start : start + 100])["MetricAlarms"]
    }
    for resource in resources:
        lid, alarm = resource.logical_id, alarms.get(resource.physical_id)
        if alarm is None:
            findings.fail(lid, f"alarm {resource.physical_id}", "in CloudWatch", "absent")
            continue
        findings.expect(lid, "ALARM and OK actions", [[topic], [topic]], [alarm["AlarmActions"], alarm["OKActions"]])
        spec = expected.get(alarm["AlarmName"])
        if spec is None:
            continue
        findings.expect(
            lid,
            "threshold, periods, comparison",
            (float(spec.threshold), spec.periods, spec.comparison),
            (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["ComparisonOperator"]),
        )
        if spec.dimension:
            key, value = spec.dimension
            findings.expect(lid, f"watches {key}", value, _dimensions(alarm).get(key))
