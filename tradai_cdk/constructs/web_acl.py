"""A REGIONAL WAF web ACL: a per-IP rate limit and AWS managed rule groups, logged, with a blocked-spike alarm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch, aws_logs as logs, aws_wafv2 as wafv2
from constructs import Construct

from .alarms import alarm

RATE_WINDOW_SECONDS = 300  # spec 4.3: "100/5min per IP"


@dataclass(frozen=True)
class WebAclRule:
    """Either a per-IP rate limit (requests per 5 minutes) or an AWS managed rule group; both block."""

    name: str
    priority: int
    rate_limit_per_5min: int | None = None
    managed_rule_group: str | None = None


class WebAcl(Construct):
    """Web ACL ``name`` with ``rules``, logging to ``aws-waf-logs-<name>``; ``associate`` attaches it to a resource."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        rules: Sequence[WebAclRule],
        log_retention: logs.RetentionDays,
        alarm_action: cloudwatch.IAlarmAction,
        blocked_requests_alarm_threshold: int,
    ):
        super().__init__(scope, construct_id)
        self.acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=name,
            scope="REGIONAL",
            default_action={"allow": {}},
            visibility_config=self._visibility(name),
            rules=[self._rule(rule) for rule in rules],
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"aws-waf-logs-{name}",
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        stack = cdk.Stack.of(self)
        destination = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.log_group.log_group_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        wafv2.CfnLoggingConfiguration(
            self, "Logging", resource_arn=self.acl.attr_arn, log_destination_configs=[destination]
        )
        self.blocked_alarm = alarm(
            self,
            "BlockedRequestsAlarm",
            alarm_name=f"{name}-blocked-requests",
            threshold=blocked_requests_alarm_threshold,
            action=alarm_action,
            description=f"{name}: blocked requests spiked (attack, or a client over the rate limit)",
            metric=cloudwatch.Metric(
                namespace="AWS/WAFV2",
                metric_name="BlockedRequests",
                statistic="Sum",
                period=cdk.Duration.minutes(5),
                dimensions_map={"WebACL": name, "Region": stack.region, "Rule": "ALL"},
            ),
        )

    def associate(self, construct_id: str, resource_arn: str) -> wafv2.CfnWebACLAssociation:
        return wafv2.CfnWebACLAssociation(self, construct_id, resource_arn=resource_arn, web_acl_arn=self.acl.attr_arn)

    @staticmethod
    def _visibility(metric_name: str) -> dict[str, Any]:
        return {"cloudWatchMetricsEnabled": True, "metricName": metric_name, "sampledRequestsEnabled": True}

    def _rule(self, rule: WebAclRule) -> dict[str, Any]:
        statement: dict[str, Any]
        action: dict[str, Any]
        if rule.rate_limit_per_5min is not None:
            statement = {
                "rateBasedStatement": {
                    "limit": rule.rate_limit_per_5min,
                    "aggregateKeyType": "IP",
                    "evaluationWindowSec": RATE_WINDOW_SECONDS,
                }
            }
            action = {"action": {"block": {}}}
        else:  # a managed group's own rules block; "none" keeps their actions
            statement = {"managedRuleGroupStatement": {"vendorName": "AWS", "name": rule.managed_rule_group}}
            action = {"overrideAction": {"none": {}}}
        return {
            "name": rule.name,
            "priority": rule.priority,
            "statement": statement,
            "visibilityConfig": self._visibility(rule.name),
            **action,
        }
