"""Alarms that always reach someone: each one built here has a name and notifies ``action`` on ALARM and OK."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch, aws_lambda as lambda_, aws_rds as rds, aws_stepfunctions as sfn
from constructs import Construct

FIVE_MINUTES = cdk.Duration.minutes(5)


def alarm(
    scope: Construct,
    construct_id: str,
    *,
    metric: cloudwatch.IMetric,
    threshold: float,
    description: str,
    action: cloudwatch.IAlarmAction,
    below: bool = False,
    evaluation_periods: int = 1,
    missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    alarm_name: str,
) -> cloudwatch.Alarm:
    """``metric`` >= ``threshold`` (or < it when ``below``) for ``evaluation_periods`` periods in a row."""
    comparison = (
        cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
        if below
        else cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    )
    created = cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        comparison_operator=comparison,
        treat_missing_data=missing,
        alarm_description=description,
        alarm_name=alarm_name,
    )
    created.add_alarm_action(action)
    created.add_ok_action(action)
    return created


class FunctionAlarms(Construct):
    """Errors and throttles of one Lambda function, each over 5 minutes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        function_name: str,
        errors: int,
        throttles: int,
        action: cloudwatch.IAlarmAction,
    ):
        super().__init__(scope, construct_id)
        self.errors = alarm(
            self,
            "Errors",
            alarm_name=f"{function_name}-errors",
            metric=function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            threshold=errors,
            action=action,
            description=f"{function_name}: {errors}+ failed invocations in 5 minutes "
            f"(see its log group /aws/lambda/{function_name})",
        )
        self.throttles = alarm(
            self,
            "Throttles",
            alarm_name=f"{function_name}-throttles",
            metric=function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
            threshold=throttles,
            action=action,
            description=f"{function_name}: {throttles}+ throttled invocations in 5 minutes "
            "(account concurrency exhausted or a concurrency limit too low)",
        )


class DatabaseAlarms(Construct):
    """CPU, free storage and connections of one RDS instance (5-minute averages / minimum)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        instance: rds.IDatabaseInstance,
        identifier: str,
        cpu_percent: int,
        free_storage_gib: int,
        connections: int,
        action: cloudwatch.IAlarmAction,
    ):
        super().__init__(scope, construct_id)
        self.cpu = alarm(
            self,
            "Cpu",
            alarm_name=f"{identifier}-cpu",
            action=action,
            threshold=cpu_percent,
            evaluation_periods=3,
            metric=instance.metric_cpu_utilization(period=FIVE_MINUTES, statistic="Average"),
            description=f"{identifier}: CPU at or above {cpu_percent}% for 15 minutes",
        )
        self.free_storage = alarm(
            self,
            "FreeStorage",
            alarm_name=f"{identifier}-free-storage",
            action=action,
            below=True,
            threshold=free_storage_gib * 1024**3,
            metric=instance.metric_free_storage_space(period=FIVE_MINUTES, statistic="Minimum"),
            description=f"{identifier}: less than {free_storage_gib} GiB of storage free; grow it before it fills",
        )
        self.connections = alarm(
            self,
            "Connections",
            alarm_name=f"{identifier}-connections",
            action=action,
            threshold=connections,
            evaluation_periods=2,
            metric=instance.metric_database_connections(period=FIVE_MINUTES, statistic="Maximum"),
            description=f"{identifier}: {connections}+ connections (near the instance class's max_connections)",
        )


class StateMachineAlarms(Construct):
    """Failed and timed-out executions of one workflow, each over 5 minutes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.IStateMachine,
        name: str,
        threshold: int,
        action: cloudwatch.IAlarmAction,
    ):
        super().__init__(scope, construct_id)
        self.failed = alarm(
            self,
            "Failed",
            alarm_name=f"{name}-executions-failed",
            action=action,
            threshold=threshold,
            metric=state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum"),
            description=f"{name}: {threshold}+ failed executions in 5 minutes (see the execution "
            f"history and /aws/vendedlogs/states/{name})",
        )
        self.timed_out = alarm(
            self,
            "TimedOut",
            alarm_name=f"{name}-executions-timed-out",
            action=action,
            threshold=threshold,
            metric=state_machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum"),
            description=f"{name}: {threshold}+ executions hit the workflow timeout in 5 minutes",
        )


def service_below_desired(
    scope: Construct,
    construct_id: str,
    *,
    cluster_name: str,
    service_name: str,
    minutes: int,
    action: cloudwatch.IAlarmAction,
) -> cloudwatch.Alarm:
    """Container Insights: the service ran fewer tasks than desired for ``minutes`` minutes in a row."""

    def insight(metric_name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="ECS/ContainerInsights",
            metric_name=metric_name,
            statistic="Average",
            period=cdk.Duration.minutes(1),
            dimensions_map={"ClusterName": cluster_name, "ServiceName": service_name},
        )

    shortfall = cloudwatch.MathExpression(
        expression="desired - running",
        label="tasks missing",
        period=cdk.Duration.minutes(1),
        using_metrics={"desired": insight("DesiredTaskCount"), "running": insight("RunningTaskCount")},
    )
    return alarm(
        scope,
        construct_id,
        alarm_name=f"{service_name}-below-desired",
        action=action,
        metric=shortfall,
        threshold=1,
        evaluation_periods=minutes,
        description=f"{service_name}: fewer tasks running than desired for {minutes} minutes (crash loop, "
        "failed deployment or no capacity); see the service's events",
    )


class ApiAlarms(Construct):
    """Share of 5xx answers and p99 latency of one REST API stage, over 5 minutes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_name: str,
        stage_name: str,
        server_error_percent: float,
        p99_latency_ms: int,
        action: cloudwatch.IAlarmAction,
    ):
        super().__init__(scope, construct_id)
        dimensions = {"ApiName": api_name, "Stage": stage_name}
        errors = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            statistic="Average",
            period=FIVE_MINUTES,
            dimensions_map=dimensions,
        )
        self.server_errors = alarm(
            self,
            "ServerErrors",
            alarm_name=f"{api_name}-5xx-rate",
            action=action,
            threshold=server_error_percent,
            metric=cloudwatch.MathExpression(
                expression="100 * errors", label="5xx %", period=FIVE_MINUTES, using_metrics={"errors": errors}
            ),
            description=f"{api_name}: {server_error_percent:g}%+ of requests answered 5xx in 5 minutes "
            "(backend down, VPC link or integration failing)",
        )
        self.latency = alarm(
            self,
            "Latency",
            alarm_name=f"{api_name}-p99-latency",
            action=action,
            threshold=p99_latency_ms,
            evaluation_periods=2,
            metric=cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name="Latency",
                statistic="p99",
                period=FIVE_MINUTES,
                dimensions_map=dimensions,
            ),
            description=f"{api_name}: p99 latency at or above {p99_latency_ms} ms for 10 minutes",
        )
