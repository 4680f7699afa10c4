"""``AWS::CloudWatch::Alarm`` (patch 15), in moto's CloudWatch backend with every property the API keeps."""

from __future__ import annotations

from typing import Any

from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends

from .base import AddedResource


def _queries(metrics: list[dict]) -> list[MetricDataQuery] | None:
    """CloudFormation's ``Metrics`` as moto's model (as its PutMetricAlarm handler builds them)."""
    queries = []
    for query in metrics:
        stat = query.get("MetricStat")
        metric_stat = None
        if stat:
            metric = stat["Metric"]
            dimensions = [Dimension(d["Name"], d["Value"]) for d in metric.get("Dimensions", [])]
            metric_stat = MetricStat(
                Metric(metric["MetricName"], metric.get("Namespace"), dimensions),
                stat.get("Period"),
                stat.get("Stat"),
                stat.get("Unit"),
            )
        optional: dict[str, Any] = {
            "label": query.get("Label"),
            "period": query.get("Period"),
            "return_data": query.get("ReturnData"),
            "expression": query.get("Expression"),
        }
        queries.append(MetricDataQuery(query["Id"], metric_stat=metric_stat, **optional))
    return queries or None


class Alarm(AddedResource):
    TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"
    ATTRIBUTES = ("Arn",)

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> Alarm:
        backend = cloudwatch_backends[account_id][region_name]
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=properties.get("Namespace"),  # type: ignore[arg-type]
            metric_name=properties.get("MetricName"),  # type: ignore[arg-type]
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            period=properties.get("Period"),  # type: ignore[arg-type]
            threshold=float(properties["Threshold"]),
            statistic=properties.get("Statistic"),  # type: ignore[arg-type]
            description=properties.get("AlarmDescription"),  # type: ignore[arg-type]
            dimensions=properties.get("Dimensions", []),
            alarm_actions=properties.get("AlarmActions", []),
            metric_data_queries=_queries(properties.get("Metrics", [])),
            datapoints_to_alarm=properties.get("DatapointsToAlarm"),
            extended_statistic=properties.get("ExtendedStatistic"),
            ok_actions=properties.get("OKActions", []),
            insufficient_data_actions=properties.get("InsufficientDataActions", []),
            unit=properties.get("Unit"),
            actions_enabled=str(properties.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=properties.get("TreatMissingData"),
        )
        return cls(name, {"Arn": alarm.alarm_arn}, lambda: backend.delete_alarms([name]))


MODELS = (Alarm,)
