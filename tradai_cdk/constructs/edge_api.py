"""The public REST API (spec 5): Cognito on every route but health, a private integration to the internal ALB
through a VPC link v2, and backtest submissions written straight to the FIFO backtest queue.

What API Gateway runs (the backtest request model, the SQS mapping templates, the access log format) is defined
here as module constants, so tests render and validate exactly what is deployed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import (
    aws_apigateway as apigateway,
    aws_apigatewayv2 as apigatewayv2,
    aws_cognito as cognito,
    aws_ec2 as ec2,
    aws_elasticloadbalancingv2 as elbv2,
    aws_iam as iam,
    aws_logs as logs,
    aws_sqs as sqs,
)
from constructs import Construct

from lambda_src.backtest import request as backtest_request

from .ids import pascal


class RouteTarget(str, Enum):
    """Where a route goes: the ALB behind the VPC link (path-routed to a service) or the backtest queue."""

    LOAD_BALANCER = "load-balancer"
    QUEUE = "queue"


@dataclass(frozen=True)
class ApiRoute:
    """One method of the API; ``path`` is API Gateway's resource path (``{param}``, greedy ``{proxy+}``)."""

    method: str
    path: str
    target: RouteTarget
    authorized: bool


@dataclass(frozen=True)
class PrivateBackend:
    """The ALB listener the VPC link v2 reaches; ``dns_name`` is the Host the integration URIs name."""

    listener: elbv2.IApplicationListener
    dns_name: str
    tls: bool
    subnets: Sequence[ec2.ISubnet]
    security_group: ec2.ISecurityGroup
    vpc_link_name: str


@dataclass(frozen=True)
class Throttle:
    rate_limit: int
    burst_limit: int


@dataclass(frozen=True)
class StageProps:
    stage_name: str
    throttle: Throttle
    method_throttles: Mapping[tuple[str, str], Throttle]  # (HTTP method, resource path) -> its own limits
    access_log_group_name: str
    log_retention: logs.RetentionDays


BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "ANY"})
PATH_PARAMETER = re.compile(r"\{([A-Za-z0-9_]+)\+?\}")
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
TRACE_ATTRIBUTE = backtest_request.TRACE_ATTRIBUTE
JOB_ID_OVERRIDE = "TradaiJobId"  # request-override header carrying the validated job_id to the 202 template

# JSON access log: one object per request (spec 5; fields of $context, all strings so every line parses).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "user": "$context.authorizer.claims.sub",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latency": "$context.responseLatency",
    "integrationLatency": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "errorMessage": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}


def _whole(pattern: str) -> str:
    """``pattern`` matching the whole string. Java and Python let ``$`` match before a final newline;
    ``(?![\\s\\S])`` (nothing follows) is the end of input in every regex dialect, like ``re.fullmatch``."""
    return f"^(?:{pattern})(?![\\s\\S])"


UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_STRING = apigateway.JsonSchemaType.STRING
# POST /api/v1/backtests: the message contract of lambda_src/backtest/request.py, checked before anything is queued.
# trace_id is not accepted: the queue's trace_id attribute is always API Gateway's request id.
BACKTEST_REQUEST_SCHEMA = apigateway.JsonSchema(
    schema=apigateway.JsonSchemaVersion.DRAFT4,
    title="BacktestRequest",
    type=apigateway.JsonSchemaType.OBJECT,
    required=["job_id", "strategy", "timeframe", "timerange", "pairs"],
    additional_properties=False,
    properties={
        "job_id": apigateway.JsonSchema(type=_STRING, pattern=_whole(UUID)),
        "strategy": apigateway.JsonSchema(type=_STRING, pattern=_whole(backtest_request.STRATEGY.pattern)),
        "strategy_id": apigateway.JsonSchema(type=_STRING, pattern=_whole(backtest_request.STRATEGY_ID.pattern)),
        "timeframe": apigateway.JsonSchema(type=_STRING, enum=list(backtest_request.TIMEFRAMES)),
        "timerange": apigateway.JsonSchema(type=_STRING, pattern=_whole(backtest_request.TIMERANGE.pattern)),
        "pairs": apigateway.JsonSchema(
            type=apigateway.JsonSchemaType.ARRAY,
            min_items=1,
            max_items=backtest_request.MAX_PAIRS,
            unique_items=True,
            items=apigateway.JsonSchema(type=_STRING, pattern=_whole(backtest_request.PAIR.pattern)),
        ),
        "experiment_name": apigateway.JsonSchema(
            type=_STRING, pattern=_whole(backtest_request.EXPERIMENT_NAME.pattern)
        ),
    },
)

# SQS SendMessage (query API, form-encoded) built only from validated fields; every value is URL-encoded, so the
# caller can neither name another queue nor add parameters or attributes. One line: no stray whitespace in the form.
SEND_MESSAGE_TEMPLATE = "".join(
    (
        "#set($request = $input.path('$'))",
        f"#set($context.requestOverride.header.{JOB_ID_OVERRIDE} = $request.job_id)",
        "Action=SendMessage",
        "&MessageBody=$util.urlEncode($input.body)",
        "&MessageGroupId=$util.urlEncode($request.strategy)",
        "&MessageDeduplicationId=$util.urlEncode($request.job_id)",
        f"&MessageAttribute.1.Name={TRACE_ATTRIBUTE}",
        "&MessageAttribute.1.Value.DataType=String",
        "&MessageAttribute.1.Value.StringValue=$util.urlEncode($context.requestId)",
    )
)
# 2xx from SQS -> 202 {"message_id", "job_id"}; the job id comes back through the request override (API Gateway
# keeps $context.requestOverride for the response templates). escapeJavaScript(...).replaceAll is AWS's idiom for
# a JSON string: it also escapes ' as \', which JSON does not allow.
ACCEPTED_TEMPLATE = "".join(
    (
        f'#set($jobId = "$!context.requestOverride.header.{JOB_ID_OVERRIDE}")',
        "{\"message_id\": $input.json('$.SendMessageResponse.SendMessageResult.MessageId'), ",
        r""""job_id": "$util.escapeJavaScript($jobId).replaceAll("\\'","'")"}""",
    )
)
# 4xx/5xx from SQS: a fixed message and the request id; nothing of the AWS error reaches the caller.
REJECTED_TEMPLATE = '{"message": "Backtest request not accepted", "request_id": "$context.requestId"}'
FAILED_TEMPLATE = '{"message": "Internal server error", "request_id": "$context.requestId"}'


def path_parameters(path: str) -> list[str]:
    """``/a/{id}/b/{proxy+}`` -> ``["id", "proxy"]``."""
    return PATH_PARAMETER.findall(path)


class EdgeApi(Construct):
    """A REGIONAL REST API with one stage; ``stage`` is what a web ACL associates with."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_name: str,
        routes: Sequence[ApiRoute],
        backend: PrivateBackend,
        queue: sqs.IQueue,
        user_pool: cognito.IUserPool,
        stage: StageProps,
    ):
        super().__init__(scope, construct_id)
        _check_routes(routes, stage.method_throttles)
        self._backend, self._queue = backend, queue
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=stage.access_log_group_name,
            retention=stage.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.vpc_link = apigatewayv2.CfnVpcLink(
            self,
            "VpcLink",
            name=backend.vpc_link_name,
            subnet_ids=[s.subnet_id for s in backend.subnets],
            security_group_ids=[backend.security_group.security_group_id],
        )
        # Read once: every proxy method's integration points at them (each read is a jsii round trip).
        self._connection = {"vpcLink": self.vpc_link.ref, "target": backend.listener.listener_arn}
        self.rest_api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=api_name,
            description="TradAI public API (spec 5)",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy=True,
            deploy_options=self._stage_options(stage),
        )
        # The stage URL is the stack's ApiUrl output; RestApi's own Endpoint output would repeat it.
        self.rest_api.node.try_remove_child("Endpoint")
        self.stage: apigateway.Stage = self.rest_api.deployment_stage
        self.execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=stage.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            log_group_name=cdk.Fn.join(
                "", ["API-Gateway-Execution-Logs_", self.rest_api.rest_api_id, "/", stage.stage_name]
            ),
        )
        self.stage.node.add_dependency(self.execution_logs)
        self.authorizer = apigateway.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[user_pool], authorizer_name=f"{api_name}-cognito"
        )
        self.body_validator = self.rest_api.add_request_validator(
            "BodyAndParameters",
            request_validator_name="body-and-parameters",
            validate_request_body=True,
            validate_request_parameters=True,
        )
        self.parameter_validator = self.rest_api.add_request_validator(
            "Parameters",
            request_validator_name="parameters",
            validate_request_body=False,
            validate_request_parameters=True,
        )
        # Overridden properties are not in the deployment's hash: another link, listener or scheme must redeploy.
        deployment = self.rest_api.latest_deployment
        assert deployment is not None  # the RestApi deploys (deploy defaults to True)
        deployment.add_to_logical_id({**self._connection, "tls": backend.tls})
        self.queue_role: iam.Role | None = None
        self.methods: dict[tuple[str, str], apigateway.Method] = {}
        for route in routes:
            resource = self.rest_api.root.resource_for_path(route.path)
            add = self._queue_method if route.target is RouteTarget.QUEUE else self._proxy_method
            self.methods[(route.method, route.path)] = add(route, resource)
        self.unauthenticated_methods = [self.methods[(r.method, r.path)] for r in routes if not r.authorized]

    @property
    def url(self) -> str:
        return self.rest_api.url

    def _stage_options(self, stage: StageProps) -> apigateway.StageOptions:
        """Throttling, JSON access logs, ERROR execution logs without bodies, metrics and X-Ray on every method."""
        observed: dict[str, Any] = dict(
            logging_level=apigateway.MethodLoggingLevel.ERROR, data_trace_enabled=False, metrics_enabled=True
        )
        return apigateway.StageOptions(
            stage_name=stage.stage_name,
            tracing_enabled=True,
            throttling_rate_limit=stage.throttle.rate_limit,
            throttling_burst_limit=stage.throttle.burst_limit,
            access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
            access_log_format=apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT)),
            method_options={
                f"{path}/{method}": apigateway.MethodDeploymentOptions(
                    throttling_rate_limit=limits.rate_limit, throttling_burst_limit=limits.burst_limit, **observed
                )
                for (method, path), limits in stage.method_throttles.items()
            },
            **observed,
        )

    def _method_options(self, route: ApiRoute) -> dict[str, Any]:
        parameters = path_parameters(route.path)
        validator: apigateway.RequestValidator | None
        if route.method in BODY_METHODS:
            validator = self.body_validator
        else:
            validator = self.parameter_validator if parameters else None
        auth = (
            dict(authorizer=self.authorizer, authorization_type=apigateway.AuthorizationType.COGNITO)
            if route.authorized
            else dict(authorization_type=apigateway.AuthorizationType.NONE)
        )
        return dict(
            request_parameters={f"method.request.path.{p}": True for p in parameters} or None,
            request_validator=validator,
            **auth,
        )

    def _proxy_method(self, route: ApiRoute, resource: apigateway.IResource) -> apigateway.Method:
        """HTTP_PROXY over the VPC link v2 to the ALB listener, path parameters passed on."""
        backend = self._backend
        scheme = "https" if backend.tls else "http"
        parameters = path_parameters(route.path)
        integration = apigateway.Integration(
            type=apigateway.IntegrationType.HTTP_PROXY,
            integration_http_method=route.method,
            uri=f"{scheme}://{backend.dns_name}{route.path.replace('+}', '}')}",
            options=apigateway.IntegrationOptions(
                request_parameters={f"integration.request.path.{p}": f"method.request.path.{p}" for p in parameters}
                or None
            ),
        )
        method = resource.add_method(route.method, integration, **self._method_options(route))
        # No L2 for a VPC link v2 to an ALB listener yet (aws-cdk-lib 2.275): set them on the CfnMethod.
        cfn = cast(apigateway.CfnMethod, method.node.default_child)
        cfn.add_property_override("Integration.ConnectionType", "VPC_LINK")
        cfn.add_property_override("Integration.ConnectionId", self._connection["vpcLink"])
        cfn.add_property_override("Integration.IntegrationTarget", self._connection["target"])
        return method

    def _queue_method(self, route: ApiRoute, resource: apigateway.IResource) -> apigateway.Method:
        """SQS SendMessage of the validated request; the role may send to this queue and do nothing else."""
        if route.method != "POST" or self.queue_role is not None:
            raise ValueError(f"{route.method} {route.path}: the queue takes exactly one POST route")
        queue = self._queue
        self.queue_role = iam.Role(
            self,
            f"{pascal(route.method.lower())}QueueRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description=f"API Gateway: {route.method} {route.path} sends to the backtest queue",
            inline_policies={
                "SendMessage": iam.PolicyDocument(
                    statements=[iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])]
                )
            },
        )
        integration = apigateway.AwsIntegration(
            service="sqs",
            path=f"{cdk.Stack.of(self).account}/{queue.queue_name}",
            integration_http_method="POST",
            options=apigateway.IntegrationOptions(
                credentials_role=self.queue_role,
                passthrough_behavior=apigateway.PassthroughBehavior.NEVER,
                request_parameters={"integration.request.header.Content-Type": f"'{FORM}'"},
                request_templates={JSON: SEND_MESSAGE_TEMPLATE},
                integration_responses=[
                    apigateway.IntegrationResponse(
                        status_code="202", selection_pattern=r"2\d{2}", response_templates={JSON: ACCEPTED_TEMPLATE}
                    ),
                    apigateway.IntegrationResponse(
                        status_code="400", selection_pattern=r"4\d{2}", response_templates={JSON: REJECTED_TEMPLATE}
                    ),
                    # The default: 5xx, and anything else SQS might answer.
                    apigateway.IntegrationResponse(status_code="500", response_templates={JSON: FAILED_TEMPLATE}),
                ],
            ),
        )
        model = self.rest_api.add_model(
            "BacktestRequestModel", content_type=JSON, model_name="BacktestRequest", schema=BACKTEST_REQUEST_SCHEMA
        )
        return resource.add_method(
            route.method,
            integration,
            request_models={JSON: model},
            method_responses=[apigateway.MethodResponse(status_code=code) for code in ("202", "400", "500")],
            **self._method_options(route),
        )


def _check_routes(routes: Sequence[ApiRoute], throttled: Mapping[tuple[str, str], Throttle]) -> None:
    """Unique methods, API Gateway's one variable path part per parent, throttles on existing methods."""
    keys = [(r.method, r.path) for r in routes]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate API routes: {sorted(k for k in keys if keys.count(k) > 1)}")
    variables: dict[str, str] = {}
    for _, path in keys:
        parts = path.strip("/").split("/")
        for depth, part in enumerate(parts):
            if part.startswith("{"):
                parent = "/".join(parts[:depth])
                if variables.setdefault(parent, part) != part:
                    raise ValueError(
                        f"{path}: /{parent} already has the variable part {variables[parent]}; "
                        "API Gateway allows one per parent"
                    )
    unknown = set(throttled) - set(keys)
    if unknown:
        raise ValueError(f"method throttles for routes the API does not have: {sorted(unknown)}")
