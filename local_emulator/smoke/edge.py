"""Edge tier: the REST API of spec 5.1 (resources, methods with their auth, integrations), the Cognito
authorizer, the request validators, the VPC link, the backtest queue role and the API's log groups.

The authorizer, validators, model, stage, VPC link and the methods' authorizer and VPC link settings are built
by harness patches 25 and 26, the REST API's endpoint configuration kept by patch 35.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from tradai_cdk.config.model import SubnetTier

from .. import ACCOUNT
from .compute import queue_name
from .model import CheckContext, Findings, Resource, StackView, named
from .persistent import check_log_group

FOUNDATION, PERSISTENT, COMPUTE = "Foundation", "Persistent", "Compute"
API = "api"  # tradai-api-<env>
VPC_LINK = "api-vpc-link"
COGNITO = "COGNITO_USER_POOLS"
AUTHORIZATION_HEADER = "method.request.header.Authorization"
QUEUE_INTEGRATION = "sqs"
GREEDY_SUFFIX = "/*"  # spec 5.1's /mlflow/* is API Gateway's greedy {proxy+}
VARIABLE = re.compile(r"\{[A-Za-z0-9_]+\}")
GREEDY = re.compile(r"\{[A-Za-z0-9_]+\+\}")


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    """Compare the Edge stack with ``cfg.api_routes``, ``cfg.cognito`` and the profile's log retention."""
    cfg = ctx.cfg
    api_name = cfg.naming.name(API)
    apis = named(view, findings, "AWS::ApiGateway::RestApi", "Name", [api_name])
    if api_name not in apis:
        return
    api = apis[api_name]
    client = ctx.client("apigateway")
    described = client.get_rest_api(restApiId=api.physical_id)
    # EndpointConfiguration is kept through patch 35 (else described as {}).
    findings.applied(
        api.logical_id,
        "endpoint types",
        ["REGIONAL"],
        described.get("endpointConfiguration", {}).get("types"),
        api.properties.get("EndpointConfiguration", {}).get("Types"),
    )
    authorizer = _authorizer(view, ctx, findings, api)
    _routes(view, ctx, findings, api, authorizer)
    _vpc_link(view, ctx, findings)
    _validators(view, ctx, findings)
    _stage(view, ctx, findings, api)
    # Access logs, and API Gateway's execution log group of the stage (its name holds the API's id).
    for name in (f"/aws/apigateway/{api_name}", f"API-Gateway-Execution-Logs_{api.physical_id}/{cfg.env}"):
        check_log_group(view, ctx, findings, name)


def shape(path: str) -> str:
    """A path with its variables unnamed: ``/a/{id}`` and ``/a/{name}`` are the same URL to a caller;
    ``/mlflow/*`` and ``/mlflow/{proxy+}`` are both ``/mlflow/{+}``."""
    if path.endswith(GREEDY_SUFFIX):
        path = path[: -len(GREEDY_SUFFIX)] + "/{proxy+}"
    return VARIABLE.sub("{}", GREEDY.sub("{+}", path))


def _authorizer(view: StackView, ctx: CheckContext, findings: Findings, api: Resource) -> Resource | None:
    """The template's Cognito authorizer on the persistent stack's user pool (moto builds none)."""
    declared = [r for r in view.declared("AWS::ApiGateway::Authorizer") if r.properties.get("Type") == COGNITO]
    if len(declared) != 1:
        findings.fail(api.logical_id, "Cognito authorizers in the template", 1, len(declared))
        return declared[0] if declared else None
    authorizer = declared[0]
    props = authorizer.properties
    deployed = ctx.client("apigateway").get_authorizers(restApiId=api.physical_id).get("items", [])
    findings.expect(
        authorizer.logical_id,
        f"Cognito authorizers of the API: {props.get('Name')} (type, identity source, user pool)",
        [(COGNITO, AUTHORIZATION_HEADER, ctx.cfg.cognito.user_pool_name)],
        [(a.get("type"), a.get("identitySource"), _pool_name(ctx, a.get("providerARNs"))) for a in deployed],
    )
    return authorizer


def _pool_name(ctx: CheckContext, arns: list | None) -> str | None:
    if not arns:
        return None
    pool_id = arns[0].rsplit("/", 1)[-1]
    return ctx.client("cognito-idp").describe_user_pool(UserPoolId=pool_id)["UserPool"]["Name"]


def _routes(view, ctx, findings, api: Resource, authorizer: Resource | None) -> None:
    """Every spec 5.1 row is a method on its path, with its auth and its integration; nothing else is."""
    cfg, client = ctx.cfg, ctx.client("apigateway")
    deployed = {shape(r["path"]): r for r in client.get_resources(restApiId=api.physical_id, limit=500)["items"]}
    wanted = {(route.method, shape(route.path)): route for route in cfg.api_routes}
    extra = sorted(
        (method, path)
        for path, r in deployed.items()
        for method in r.get("resourceMethods", {})
        if (method, path) not in wanted
    )
    findings.expect(api.logical_id, "methods beyond spec 5.1", [], extra)
    prefixes = {
        "/".join(path.split("/")[:depth]) or "/" for _, path in wanted for depth in range(1, path.count("/") + 2)
    }
    rows = view.by_physical_id("AWS::ApiGateway::Resource")
    for path, resource in deployed.items():
        if resource["id"] in rows:
            findings.holds(
                rows[resource["id"]].logical_id,
                f"path {resource['path']} on a spec 5.1 route",
                path in prefixes,
                "not a prefix of any route",
            )
    methods = _method_rows(view)
    backend = _backend_uri(ctx)
    for (method, path), route in wanted.items():
        resource = deployed.get(path)
        if resource is None or method not in resource.get("resourceMethods", {}):
            findings.missing(f"{method} {route.path} on {api.physical_id}")
            continue
        row = methods.get((method, resource["id"]))
        lid = row.logical_id if row else api.logical_id
        answer = client.get_method(restApiId=api.physical_id, resourceId=resource["id"], httpMethod=method)
        findings.expect(
            lid,
            f"{method} {route.path} authorization",
            COGNITO if route.auth_required else "NONE",
            answer.get("authorizationType"),
        )
        if row is not None:
            _authorizer_of(view, findings, row, answer, authorizer if route.auth_required else None)
            _integration(ctx, findings, row, route, answer.get("methodIntegration") or {}, backend, resource["path"])


def _method_rows(view: StackView) -> dict[tuple[str | None, str], Resource]:
    """(HTTP method, deployed resource id) -> the template method (only created ones)."""
    return {
        (r.properties.get("HttpMethod"), view.resolve(r.properties.get("ResourceId"))): r
        for r in view.of_type("AWS::ApiGateway::Method")
    }


def _authorizer_of(view, findings, row: Resource, answer: dict, authorizer: Resource | None) -> None:
    expected = view.deployed.get(authorizer.logical_id) if authorizer else None
    findings.expect(row.logical_id, "authorizer", expected, answer.get("authorizerId"))


def _backend_uri(ctx: CheckContext) -> str | None:
    """``http(s)://<ALB DNS name>`` of the Compute stack's load balancer."""
    balancers = ctx.views[COMPUTE].of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
    if len(balancers) != 1:
        return None
    dns = ctx.client("elbv2").describe_load_balancers(LoadBalancerArns=[balancers[0].physical_id])["LoadBalancers"][0][
        "DNSName"
    ]
    return f"{'https' if ctx.cfg.profile.certificate_arn else 'http'}://{dns}"


def _integration(ctx, findings, row: Resource, route, integration: dict, backend: str | None, path: str) -> None:
    lid, declared, cfg = row.logical_id, row.properties.get("Integration", {}), ctx.cfg
    if route.integration == QUEUE_INTEGRATION:
        findings.expect(
            lid,
            "integration (type, method, URI)",
            (
                "AWS",
                "POST",
                f"arn:aws:apigateway:{cfg.network.region}:sqs:path/{ACCOUNT}/{queue_name(cfg, cfg.backtest_queue)}",
            ),
            (integration.get("type"), integration.get("httpMethod"), integration.get("uri")),
        )
        _queue_role(ctx, findings, row, declared)
        return
    findings.expect(
        lid,
        "integration (type, method, URI)",
        ("HTTP_PROXY", route.method, f"{backend}{path.replace('+}', '}')}"),
        (integration.get("type"), integration.get("httpMethod"), integration.get("uri")),
    )
    port = 443 if cfg.profile.certificate_arn else 80
    listener = next(
        (
            r.physical_id
            for r in ctx.views[COMPUTE].of_type("AWS::ElasticLoadBalancingV2::Listener")
            if r.properties.get("Port") == port
        ),
        None,
    )
    link = next((r.physical_id for r in ctx.views["Edge"].of_type("AWS::ApiGatewayV2::VpcLink")), None)
    findings.expect(
        lid,
        f"private integration (connection type, VPC link {cfg.naming.name(VPC_LINK)}, ALB listener on {port})",
        ("VPC_LINK", link, listener),
        (integration.get("connectionType"), integration.get("connectionId"), integration.get("integrationTarget")),
    )


def _queue_role(ctx, findings, row: Resource, declared: dict) -> None:
    """The integration's role: assumed by API Gateway, allowed sqs:SendMessage on the backtest queue only."""
    role_id = (declared.get("Credentials") or {}).get("Fn::GetAtt", [None])[0]
    role = ctx.views["Edge"].deployed.get(role_id)
    if role is None:
        findings.missing(f"the credentials role of {row.logical_id}")
        return
    iam, sqs, cfg = ctx.client("iam"), ctx.client("sqs"), ctx.cfg
    trust = _document(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])
    findings.expect(
        role_id,
        "trusted by",
        ["apigateway.amazonaws.com"],
        [s.get("Principal", {}).get("Service") for s in trust.get("Statement", [])],
    )
    url = sqs.get_queue_url(QueueName=queue_name(cfg, cfg.backtest_queue))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = _document(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
        statements += [(s.get("Effect"), s.get("Action"), s.get("Resource")) for s in document.get("Statement", [])]
    findings.expect(role_id, "inline policy", [("Allow", "sqs:SendMessage", arn)], statements)
    findings.expect(
        role_id, "attached policies", [], iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    )


def _document(value: Any) -> dict:
    """A policy document as IAM answers it: a dict, JSON, or (moto's CloudFormation, for inline policies of a
    role) the Python repr of the template's dict."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return ast.literal_eval(value)


def _vpc_link(view, ctx, findings) -> None:
    """The VPC link v2 named after the config, in the private subnets with tradai-apigw-sg."""
    cfg = ctx.cfg
    name = cfg.naming.name(VPC_LINK)
    found = [r for r in view.of_type("AWS::ApiGatewayV2::VpcLink") if r.properties.get("Name") == name]
    if not found:
        findings.missing(f"AWS::ApiGatewayV2::VpcLink named {name}")
        return
    link = ctx.client("apigatewayv2").get_vpc_link(VpcLinkId=found[0].physical_id)
    ec2 = ctx.client("ec2")
    subnets = ec2.describe_subnets(SubnetIds=link["SubnetIds"])["Subnets"]
    groups = ec2.describe_security_groups(GroupIds=link["SecurityGroupIds"])["SecurityGroups"]
    findings.expect(
        found[0].logical_id,
        f"VPC link {name} (subnets, security groups)",
        (
            sorted(cfg.naming.name(s.name.lower()) for s in cfg.network.subnets_of(SubnetTier.PRIVATE)),
            [cfg.security_group("apigw").name],
        ),
        (
            sorted({t["Key"]: t["Value"] for t in s.get("Tags", [])}.get("Name", s["SubnetId"]) for s in subnets),
            [g["GroupName"] for g in groups],
        ),
    )


def _validators(view, ctx, findings) -> None:
    """Each request validator validates parameters and is used by a method of the API."""
    apigateway = ctx.client("apigateway")
    used = {answer.get("requestValidatorId") for answer in _methods_answers(view, ctx, "RequestValidatorId")}
    for resource in view.of_type("AWS::ApiGateway::RequestValidator"):
        api = view.resolve(resource.properties["RestApiId"])
        answer = apigateway.get_request_validator(restApiId=api, requestValidatorId=resource.physical_id)
        findings.expect(
            resource.logical_id,
            f"{answer['name']} validates parameters, used by methods",
            (True, True),
            (answer.get("validateRequestParameters"), resource.physical_id in used),
        )


def _stage(view, ctx, findings, api: Resource) -> None:
    """The stage is the environment's, on the stack's deployment, logging to the API's access log group,
    throttled as ``cfg.throttling`` (the default and each route override); the request model is used."""
    cfg, apigateway = ctx.cfg, ctx.client("apigateway")
    deployments = [d.physical_id for d in view.of_type("AWS::ApiGateway::Deployment")]
    for resource in view.of_type("AWS::ApiGateway::Stage"):
        stage = apigateway.get_stage(restApiId=api.physical_id, stageName=resource.physical_id)
        lid, settings = resource.logical_id, stage.get("methodSettings", {})
        findings.expect(lid, "name, deployment", (cfg.env, deployments), (stage["stageName"], [stage["deploymentId"]]))
        destination = (stage.get("accessLogSettings") or {}).get("destinationArn", "")
        findings.expect(
            lid,
            "access log group",
            f"/aws/apigateway/{api.properties.get('Name')}",
            destination.split(":log-group:")[-1],
        )
        default = settings.get("*/*", {})
        findings.expect(
            lid,
            "throttling (rate, burst)",
            (cfg.throttling.rate_limit, cfg.throttling.burst_limit),
            (default.get("throttlingRateLimit"), default.get("throttlingBurstLimit")),
        )
        for path, rate in cfg.throttling.route_overrides:
            prefix = path.replace("/", "~1") + "/"
            rates = [v.get("throttlingRateLimit") for k, v in settings.items() if k.startswith(prefix)]
            findings.expect(lid, f"throttling rate of {path}", [rate], rates)
        for deployment in view.of_type("AWS::ApiGateway::Deployment"):
            if deployment.physical_id == stage["deploymentId"]:
                findings.ok(deployment.logical_id, f"deployed as stage {stage['stageName']}")
    used = {
        model
        for answer in _methods_answers(view, ctx, "RequestModels")
        for model in answer.get("requestModels", {}).values()
    }
    for model in view.of_type("AWS::ApiGateway::Model"):
        answer = apigateway.get_model(restApiId=api.physical_id, modelName=model.physical_id)
        findings.holds(
            model.logical_id, f"model {answer['name']} is a method's request model", model.physical_id in used
        )


def _methods_answers(view, ctx, declaring: str) -> list[dict]:
    """GetMethod's answers for the stack's methods whose template sets ``declaring``."""
    return [
        ctx.client("apigateway").get_method(
            restApiId=view.resolve(m.properties["RestApiId"]),
            resourceId=view.resolve(m.properties["ResourceId"]),
            httpMethod=m.properties["HttpMethod"],
        )
        for m in view.of_type("AWS::ApiGateway::Method")
        if declaring in m.properties
    ]
