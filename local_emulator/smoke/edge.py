"""Edge tier: the REST API of spec 5.1 (resources, methods with their auth, integrations), the Cognito
authorizer, the backtest queue role and the API's log groups.

moto's CloudFormation builds the REST API, its resources, methods and deployment, log groups and roles; it
does not build the Cognito authorizer, request validators, the model, the stage or the VPC link v2 (their
rows say IGNORED). A method keeps its authorization type and integration type/URI but neither the authorizer
id nor the VPC link settings: those are compared in the template (CREATED rows say so).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Optional

from tradai_cdk.config.model import SubnetTier

from .. import ACCOUNT
from .compute import queue_name
from .persistent import log_key_arn
from .model import CheckContext, Findings, Resource, StackView, named

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
    # moto's CloudFormation drops EndpointConfiguration (described as {}).
    findings.applied(api.logical_id, "endpoint types", ["REGIONAL"],
                     described.get("endpointConfiguration", {}).get("types"),
                     api.properties.get("EndpointConfiguration", {}).get("Types"))
    authorizer = _authorizer(view, ctx, findings, api)
    _routes(view, ctx, findings, api, authorizer)
    _vpc_link(view, ctx, findings)
    # Access logs, and API Gateway's execution log group of the stage (its name holds the API's id).
    for name in (f"/aws/apigateway/{api_name}", f"API-Gateway-Execution-Logs_{api.physical_id}/{cfg.env}"):
        _log_group(view, ctx, findings, name)


def shape(path: str) -> str:
    """A path with its variables unnamed: ``/a/{id}`` and ``/a/{name}`` are the same URL to a caller;
    ``/mlflow/*`` and ``/mlflow/{proxy+}`` are both ``/mlflow/{+}``."""
    if path.endswith(GREEDY_SUFFIX):
        path = path[:-len(GREEDY_SUFFIX)] + "/{proxy+}"
    return VARIABLE.sub("{}", GREEDY.sub("{+}", path))


def _authorizer(view: StackView, ctx: CheckContext, findings: Findings, api: Resource) -> Optional[Resource]:
    """The template's Cognito authorizer on the persistent stack's user pool (moto builds none)."""
    declared = [r for r in view.declared("AWS::ApiGateway::Authorizer") if r.properties.get("Type") == COGNITO]
    if len(declared) != 1:
        findings.fail(api.logical_id, "Cognito authorizers in the template", 1, len(declared))
        return declared[0] if declared else None
    authorizer = declared[0]
    props = authorizer.properties
    deployed = ctx.client("apigateway").get_authorizers(restApiId=api.physical_id).get("items", [])
    expected = (COGNITO, AUTHORIZATION_HEADER, ctx.cfg.cognito.user_pool_name)
    findings.applied(None, f"Cognito authorizer {props.get('Name')} (type, identity source, user pool)", expected,
                     [(a.get("type"), a.get("identitySource"), _pool_name(ctx, a.get("providerARNs")))
                      for a in deployed] or None,
                     (props.get("Type"), props.get("IdentitySource"), _declared_pool_name(ctx, props)))
    return authorizer


def _pool_name(ctx: CheckContext, arns: Optional[list]) -> Optional[str]:
    if not arns:
        return None
    pool_id = arns[0].rsplit("/", 1)[-1]
    return ctx.client("cognito-idp").describe_user_pool(UserPoolId=pool_id)["UserPool"]["Name"]


def _declared_pool_name(ctx: CheckContext, props: dict) -> Optional[str]:
    """UserPoolName of the persistent stack's pool whose Arn the authorizer's provider output carries."""
    (provider,) = props.get("ProviderARNs", [None])
    target = _output_target(ctx, provider, PERSISTENT)
    if target is None or target[1] != "Arn":
        return None
    pool = ctx.views[PERSISTENT].artifact.resources.get(target[0], {})
    return pool.get("Properties", {}).get("UserPoolName") if pool.get("Type") == "AWS::Cognito::UserPool" else None


def _output_target(ctx: CheckContext, value: Any, producer: str) -> Optional[tuple[str, Optional[str]]]:
    """(logical id, GetAtt attribute or None for Ref) behind a ``Fn::GetStackOutput`` of ``producer``."""
    if not (isinstance(value, dict) and "Fn::GetStackOutput" in value):
        return None
    artifact = ctx.views[producer].artifact
    spec = value["Fn::GetStackOutput"]
    if spec.get("StackName") != artifact.stack_name:
        return None
    output = artifact.template.get("Outputs", {}).get(spec.get("OutputName"), {}).get("Value", {})
    if "Ref" in output:
        return output["Ref"], None
    return (output["Fn::GetAtt"][0], output["Fn::GetAtt"][1]) if "Fn::GetAtt" in output else None


def _ref_target(ctx: CheckContext, value: Any, producer: str) -> Optional[str]:
    """The producer's resource whose Ref a ``Fn::GetStackOutput`` carries (None for anything else)."""
    target = _output_target(ctx, value, producer)
    return target[0] if target and target[1] is None else None


def _routes(view, ctx, findings, api: Resource, authorizer: Optional[Resource]) -> None:
    """Every spec 5.1 row is a method on its path, with its auth and its integration; nothing else is."""
    cfg, client = ctx.cfg, ctx.client("apigateway")
    deployed = {shape(r["path"]): r for r in client.get_resources(restApiId=api.physical_id, limit=500)["items"]}
    wanted = {(route.method, shape(route.path)): route for route in cfg.api_routes}
    extra = sorted((method, path) for path, r in deployed.items() for method in r.get("resourceMethods", {})
                   if (method, path) not in wanted)
    findings.expect(api.logical_id, "methods beyond spec 5.1", [], extra)
    prefixes = {"/".join(path.split("/")[:depth]) or "/" for _, path in wanted
                for depth in range(1, path.count("/") + 2)}
    rows = view.by_physical_id("AWS::ApiGateway::Resource")
    for path, resource in deployed.items():
        if resource["id"] in rows:
            findings.holds(rows[resource["id"]].logical_id, f"path {resource['path']} on a spec 5.1 route",
                           path in prefixes, "not a prefix of any route")
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
        findings.expect(lid, f"{method} {route.path} authorization", COGNITO if route.auth_required else "NONE",
                        answer.get("authorizationType"))
        if row is not None:
            _authorizer_of(view, findings, row, answer, authorizer if route.auth_required else None)
            _integration(ctx, findings, row, route, answer.get("methodIntegration") or {}, backend,
                         resource["path"])


def _method_rows(view: StackView) -> dict[tuple[str, str], Resource]:
    """(HTTP method, deployed resource id) -> the template method (only created ones)."""
    return {(r.properties.get("HttpMethod"), view.resolve(r.properties.get("ResourceId"))): r
            for r in view.of_type("AWS::ApiGateway::Method")}


def _authorizer_of(view, findings, row: Resource, answer: dict, authorizer: Optional[Resource]) -> None:
    expected = authorizer.logical_id if authorizer else None
    declared = row.properties.get("AuthorizerId")
    declared = declared.get("Ref") if isinstance(declared, dict) else declared
    actual = answer.get("authorizerId")
    if actual is None and expected is not None:
        findings.dropped(row.logical_id, "authorizer", expected, declared)
    else:  # moto kept it: compare the deployed ids
        findings.expect(row.logical_id, "authorizer", view.deployed.get(expected) if expected else None, actual)


def _backend_uri(ctx: CheckContext) -> Optional[str]:
    """``http(s)://<ALB DNS name>`` of the Compute stack's load balancer."""
    balancers = ctx.views[COMPUTE].of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
    if len(balancers) != 1:
        return None
    dns = ctx.client("elbv2").describe_load_balancers(
        LoadBalancerArns=[balancers[0].physical_id])["LoadBalancers"][0]["DNSName"]
    return f"{'https' if ctx.cfg.profile.certificate_arn else 'http'}://{dns}"


def _integration(ctx, findings, row: Resource, route, integration: dict, backend: Optional[str],
                 path: str) -> None:
    lid, declared, cfg = row.logical_id, row.properties.get("Integration", {}), ctx.cfg
    if route.integration == QUEUE_INTEGRATION:
        findings.expect(lid, "integration (type, method, URI)",
                        ("AWS", "POST", f"arn:aws:apigateway:{cfg.network.region}:sqs:path/{ACCOUNT}/"
                                        f"{queue_name(cfg, cfg.backtest_queue)}"),
                        (integration.get("type"), integration.get("httpMethod"), integration.get("uri")))
        _queue_role(ctx, findings, row, declared)
        return
    findings.expect(lid, "integration (type, method, URI)",
                    ("HTTP_PROXY", route.method, f"{backend}{path.replace('+}', '}')}"),
                    (integration.get("type"), integration.get("httpMethod"), integration.get("uri")))
    if integration.get("connectionType") is None:  # moto's CloudFormation drops the VPC link settings
        port = 443 if cfg.profile.certificate_arn else 80
        listener = next((r.logical_id for r in ctx.views[COMPUTE].declared("AWS::ElasticLoadBalancingV2::Listener")
                         if r.properties.get("Port") == port), None)
        link = next((r.logical_id for r in ctx.views["Edge"].declared("AWS::ApiGatewayV2::VpcLink")), None)
        findings.dropped(lid, "private integration (connection type, VPC link, ALB listener)",
                         ("VPC_LINK", link, listener),
                         (declared.get("ConnectionType"), (declared.get("ConnectionId") or {}).get("Ref"),
                          _ref_target(ctx, declared.get("IntegrationTarget"), COMPUTE)))
    else:
        findings.expect(lid, "connection type", "VPC_LINK", integration.get("connectionType"))


def _queue_role(ctx, findings, row: Resource, declared: dict) -> None:
    """The integration's role: assumed by API Gateway, allowed sqs:SendMessage on the backtest queue only."""
    role_id = (declared.get("Credentials") or {}).get("Fn::GetAtt", [None])[0]
    role = ctx.views["Edge"].deployed.get(role_id)
    if role is None:
        findings.missing(f"the credentials role of {row.logical_id}")
        return
    iam, sqs, cfg = ctx.client("iam"), ctx.client("sqs"), ctx.cfg
    trust = _document(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])
    findings.expect(role_id, "trusted by", ["apigateway.amazonaws.com"],
                    [s.get("Principal", {}).get("Service") for s in trust.get("Statement", [])])
    url = sqs.get_queue_url(QueueName=queue_name(cfg, cfg.backtest_queue))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = _document(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
        statements += [(s.get("Effect"), s.get("Action"), s.get("Resource")) for s in document.get("Statement", [])]
    findings.expect(role_id, "inline policy", [("Allow", "sqs:SendMessage", arn)], statements)
    findings.expect(role_id, "attached policies", [],
                    iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])


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
    """The VPC link v2 (moto builds none), in the template: the private subnets and tradai-apigw-sg."""
    cfg = ctx.cfg
    name = cfg.naming.name(VPC_LINK)
    found = [r for r in view.declared("AWS::ApiGatewayV2::VpcLink") if r.properties.get("Name") == name]
    if not found:
        findings.missing(f"AWS::ApiGatewayV2::VpcLink named {name}")
        return
    props = found[0].properties
    foundation = ctx.views[FOUNDATION].artifact.resources

    def declared(value: Any, tag: str) -> Optional[str]:
        target = _output_target(ctx, value, FOUNDATION)
        body = foundation.get(target[0], {}).get("Properties", {}) if target else {}
        return body.get(tag) if tag != "Name" else {t["Key"]: t["Value"] for t in body.get("Tags", [])}.get(tag)

    expected = (sorted(cfg.naming.name(s.name.lower()) for s in cfg.network.subnets_of(SubnetTier.PRIVATE)),
                [cfg.security_group("apigw").name])
    findings.dropped(None, f"VPC link {name} (subnets, security groups)", expected,
                     (sorted(str(declared(s, "Name")) for s in props.get("SubnetIds", [])),
                      [declared(g, "GroupName") for g in props.get("SecurityGroupIds", [])]))


def _log_group(view, ctx, findings, name: str) -> None:
    """A log group of the stack, found by its deployed name (a template name may be a token), with the
    environment's retention."""
    row = next((r for r in view.of_type("AWS::Logs::LogGroup") if r.physical_id == name), None)
    groups = ctx.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    group = next((g for g in groups if g["logGroupName"] == name), None)
    if row is None or group is None:
        findings.missing(f"log group {name}")
        return
    findings.expect(row.logical_id, f"{name} retention days", ctx.cfg.profile.log_retention_days,
                    group.get("retentionInDays"))
    findings.expect(row.logical_id, f"{name} KMS key", log_key_arn(view, ctx), group.get("kmsKeyId"))
