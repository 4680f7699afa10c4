"""Edge stack: the public API (spec 5), its WAF (4.3) and CloudTrail (10)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import (
    aws_cloudwatch_actions as cw_actions,
    aws_cognito as cognito,
    aws_ec2 as ec2,
    aws_elasticloadbalancingv2 as elbv2,
    aws_sns as sns,
    aws_sqs as sqs,
)
from constructs import Construct

from ..config import TradaiConfig
from ..config.model import ApiRoute as RouteSpec
from ..constructs.alarms import ApiAlarms
from ..constructs.audit_trail import AuditTrail
from ..constructs.edge_api import ApiRoute, EdgeApi, PrivateBackend, RouteTarget, StageProps, Throttle
from ..constructs.operations_dashboard import OperationsDashboard
from ..constructs.tradai_bucket import TradaiBucket
from ..constructs.web_acl import WebAcl, WebAclRule
from .base import TradaiStack, log_retention
from .dashboard import TIER_TITLES, dashboard_section, health_section
from .persistent import CLOUDTRAIL_LOG_PREFIX

QUEUE_INTEGRATION = "sqs"  # spec 5.1 "SQS Direct Integration"; every other row is a service behind the ALB
GREEDY_SUFFIX = "/*"  # spec 5.1 "/mlflow/*" is API Gateway's greedy "/mlflow/{proxy+}"
# Spec 5.2's per-route override limits submissions (POST) on that path; reads of the same path keep the default.
THROTTLED_METHOD = "POST"


def api_routes(specs: Sequence[RouteSpec]) -> tuple[ApiRoute, ...]:
    """Spec 5.1 rows in API Gateway's spelling.

    API Gateway allows one variable path part per parent resource, so a row that names the variable of an
    already declared position differently uses the first name (``/strategies/{name}/stage`` becomes
    ``/strategies/{id}/stage``): the URL is the same, only the parameter's name inside API Gateway differs.
    """
    variables: dict[str, str] = {}
    return tuple(
        ApiRoute(spec.method, api_path(spec.path, variables), _target(spec), spec.auth_required) for spec in specs
    )


def _target(spec: RouteSpec) -> RouteTarget:
    return RouteTarget.QUEUE if spec.integration == QUEUE_INTEGRATION else RouteTarget.LOAD_BALANCER


def api_path(path: str, variables: dict[str, str]) -> str:
    """One spec path as an API Gateway resource path; ``variables`` (parent -> name) is shared by all rows."""
    if path.endswith(GREEDY_SUFFIX):
        path = path[: -len(GREEDY_SUFFIX)] + "/{proxy+}"
    parts = path.strip("/").split("/")
    for depth, part in enumerate(parts):
        if part.startswith("{"):
            parts[depth] = variables.setdefault("/".join(parts[:depth]), part)
    return "/" + "/".join(parts)


def stage_props(config: TradaiConfig, routes: Sequence[ApiRoute]) -> StageProps:
    """Spec 5.2 throttling (an override keeps the default's burst-to-rate ratio) and the environment's logs."""
    default = config.throttling
    by_spec_path = dict(zip((spec.path for spec in config.api_routes), (route.path for route in routes)))
    overrides = {}
    for path, rate in default.route_overrides:
        burst = max(1, rate * default.burst_limit // default.rate_limit)
        overrides[(THROTTLED_METHOD, by_spec_path[path])] = Throttle(rate, burst)
    api_name = config.naming.name("api")
    return StageProps(
        stage_name=config.env,
        throttle=Throttle(default.rate_limit, default.burst_limit),
        method_throttles=overrides,
        access_log_group_name=f"/aws/apigateway/{api_name}",
        log_retention=log_retention(config.profile.log_retention_days),
    )


class EdgeStack(TradaiStack):
    """Wires the API, the web ACL and the trail to the other tiers' handles."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        private_subnets: Sequence[ec2.ISubnet],
        vpc_link_security_group: ec2.ISecurityGroup,
        listener: elbv2.IApplicationListener,
        load_balancer: elbv2.IApplicationLoadBalancer,
        user_pool: cognito.IUserPool,
        user_pool_client: cognito.IUserPoolClient,
        backtest_queue: sqs.IQueue,
        logs_bucket: TradaiBucket,
        alerts_topic: sns.ITopic,
        monitored_stacks: Sequence[cdk.Stack],
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        config = self.config
        routes = api_routes(config.api_routes)
        self.api = EdgeApi(
            self,
            "Api",
            api_name=config.naming.name("api"),
            routes=routes,
            backend=PrivateBackend(
                listener=listener,
                dns_name=load_balancer.load_balancer_dns_name,
                tls=config.profile.certificate_arn is not None,
                subnets=private_subnets,
                security_group=vpc_link_security_group,
                vpc_link_name=config.naming.name("api-vpc-link"),
            ),
            queue=backtest_queue,
            user_pool=user_pool,
            stage=stage_props(config, routes),
        )
        self.stage = self.api.stage
        self.web_acl = None
        if config.profile.waf_enabled:  # spec 10: staging and prod; a switch in dev
            self.web_acl = WebAcl(
                self,
                "WebAcl",
                name=config.naming.name("api-waf"),
                rules=[
                    WebAclRule(r.name, r.priority, r.rate_limit_per_5min, r.managed_rule_group)
                    for r in config.waf_rules
                ],
                log_retention=log_retention(config.profile.log_retention_days),
                alarm_action=cw_actions.SnsAction(alerts_topic),
                blocked_requests_alarm_threshold=config.waf_blocked_alarm_threshold,
            )
            self.web_acl.associate("ApiStageAssociation", self.stage.stage_arn)
        self.trail = None
        if config.profile.cloudtrail_enabled:  # spec 10: staging and prod; a switch in dev
            self.trail = AuditTrail(
                self,
                "Trail",
                trail_name=config.naming.name("trail"),
                bucket_name=logs_bucket.bucket_name,
                prefix=CLOUDTRAIL_LOG_PREFIX,
                log_retention=log_retention(config.profile.log_retention_days),
            )
        thresholds = config.profile.alarms
        self.api_alarms = ApiAlarms(
            self,
            "ApiAlarms",
            api_name=config.naming.name("api"),
            stage_name=config.env,
            server_error_percent=thresholds.api_5xx_percent,
            p99_latency_ms=thresholds.api_p99_latency_ms,
            action=cw_actions.SnsAction(alerts_topic),
        )
        self.dashboard = OperationsDashboard(
            self,
            "Dashboard",
            dashboard_name=config.naming.name("operations"),
            sections=[
                *(dashboard_section(TIER_TITLES[stack.node.id], stack) for stack in monitored_stacks),
                dashboard_section(TIER_TITLES[self.node.id], self),
                health_section(config),
            ],
        )
        cdk.CfnOutput(self, "ApiUrl", value=self.api.url, description="Invoke URL of the API stage")
        cdk.CfnOutput(self, "UserPoolId", value=user_pool.user_pool_id, description="Cognito user pool of the API")
        cdk.CfnOutput(
            self,
            "UserPoolClientId",
            value=user_pool_client.user_pool_client_id,
            description="Cognito app client the API's callers sign in with",
        )
