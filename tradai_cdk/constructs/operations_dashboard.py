"""One CloudWatch dashboard: per tier, the state of every alarm and the graphs behind them.

Alarms are referenced by name (their ARNs are built from it), so the dashboard may live in any stack of
the environment without cross-stack references.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from .ids import pascal

FULL_WIDTH, GRAPH_WIDTH = 24, 8


@dataclass(frozen=True)
class DashboardSection:
    """A tier: its alarms (by name; ``graphed`` ones also get a graph) and extra metric graphs."""

    title: str
    alarm_names: Sequence[str]
    graphed: Sequence[str] = ()
    graphs: Sequence[tuple[str, Sequence[cloudwatch.IMetric]]] = field(default_factory=tuple)


class OperationsDashboard(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, dashboard_name: str, sections: Sequence[DashboardSection]
    ):
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=dashboard_name, default_interval=cdk.Duration.hours(6)
        )
        for section in sections:
            alarms = {name: self._alarm(name) for name in section.alarm_names}
            self.dashboard.add_widgets(
                cloudwatch.TextWidget(markdown=f"## {section.title}", width=FULL_WIDTH, height=1)
            )
            if alarms:
                self.dashboard.add_widgets(
                    cloudwatch.AlarmStatusWidget(
                        title=f"{section.title}: alarms",
                        alarms=list(alarms.values()),
                        width=FULL_WIDTH,
                        height=2 + len(alarms) // 4,
                        sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
                    )
                )
            widgets: list[cloudwatch.IWidget] = [
                cloudwatch.AlarmWidget(alarm=alarms[name], title=name, width=GRAPH_WIDTH) for name in section.graphed
            ]
            widgets += [
                cloudwatch.GraphWidget(title=title, left=list(metrics), width=GRAPH_WIDTH)
                for title, metrics in section.graphs
            ]
            for start in range(0, len(widgets), FULL_WIDTH // GRAPH_WIDTH):
                self.dashboard.add_widgets(*widgets[start : start + FULL_WIDTH // GRAPH_WIDTH])

    def _alarm(self, name: str) -> cloudwatch.IAlarm:
        return cloudwatch.Alarm.from_alarm_name(self, f"Alarm{pascal(name)}", name)
