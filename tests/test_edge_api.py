"""Spec 5 (API Gateway) on the edge stack: routes, auth, integrations, validation, throttling, logs, outputs;
the backtest request model against the consumer's rules; the SQS mapping templates rendered with airspeed-ext."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qs, quote_plus

import airspeed
import jsonschema
import pytest

import spec
from backtest.request import InvalidRequest, parse_request
from cfn import ref, resources, tags
from tradai_cdk.constructs import edge_api

COGNITO = "COGNITO_USER_POOLS"
AUTHORIZATION_HEADER = "method.request.header.Authorization"
SQS_PATH = f"arn:aws:apigateway:{spec.REGION}:sqs:path/123456789012/"
FORM = "'application/x-www-form-urlencoded'"
ACCESS_LOG_FIELDS = {  # what every access log line must carry, by key
    "requestId": "$context.requestId", "user": "$context.authorizer.claims.sub", "ip": "$context.identity.sourceIp",
    "httpMethod": "$context.httpMethod", "path": "$context.path", "status": "$context.status",
    "latency": "$context.responseLatency", "integrationLatency": "$context.integration.latency",
    "errorMessage": "$context.error.message",
}
VARIABLE = re.compile(r"\{[A-Za-z0-9_]+\}")
GREEDY = re.compile(r"\{[A-Za-z0-9_]+\+\}")


# ---- template readers ----------------------------------------------------------------------------------------

def _shape(path: str) -> str:
    """A path with its variables unnamed: spec ``/a/{id}`` and ``/mlflow/*`` as deployed ``/a/{x}``, ``{proxy+}``."""
    return VARIABLE.sub("{}", GREEDY.sub("*", path))


def _resource_paths(template: dict) -> dict[str, str]:
    """Logical id of each AWS::ApiGateway::Resource -> its full path."""
    found = resources(template, "AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        parent = found[logical_id]["ParentId"]
        prefix = "" if "Fn::GetAtt" in parent else path(parent["Ref"])
        return f"{prefix}/{found[logical_id]['PathPart']}"
    return {logical_id: path(logical_id) for logical_id in found}


def _methods(template: dict) -> dict[tuple[str, str], dict]:
    """(HTTP method, deployed path) -> the method's properties."""
    paths = _resource_paths(template)
    return {(m["HttpMethod"], paths[m["ResourceId"]["Ref"]]): m
            for m in resources(template, "AWS::ApiGateway::Method").values()}


def _spec_methods(template: dict) -> dict[tuple[str, str], tuple[str, dict]]:
    """Spec 5.1 (method, path) -> (deployed path, method properties)."""
    deployed = {(method, _shape(path)): (path, props) for (method, path), props in _methods(template).items()}
    return {(method, path): deployed[(method, _shape(path))] for method, path, _, _ in spec.API_ROUTES}


def _produced(synthesized, env: str, value: dict) -> tuple[dict, object]:
    """The producer template and its output value behind a ``Fn::GetStackOutput``."""
    output = value["Fn::GetStackOutput"]
    assert output["StackName"].endswith(f"-{env}")
    template = synthesized[(env, output["StackName"].split("-")[1])].json
    return template, template["Outputs"][output["OutputName"]]["Value"]


def _produced_resource(synthesized, env: str, value: dict, attribute: str | None = None) -> tuple[str, dict]:
    """(type, properties) of the producer's resource whose Ref (or GetAtt ``attribute``) the output carries."""
    template, produced = _produced(synthesized, env, value)
    if attribute is None:
        logical_id = produced["Ref"]
    else:
        logical_id, got = produced["Fn::GetAtt"]
        assert got == attribute
    body = template["Resources"][logical_id]
    return body["Type"], body.get("Properties", {})


def _stage(template: dict) -> dict:
    (stage,) = resources(template, "AWS::ApiGateway::Stage").values()
    return stage


def _queue_method(template: dict) -> dict:
    return _spec_methods(template)[("POST", "/api/v1/backtests")][1]


# ---- the API and its routes ------------------------------------------------------------------------------------

def test_one_regional_rest_api_named_per_environment_with_its_stage(edge):
    env, template = edge
    (api_id, api), = resources(template, "AWS::ApiGateway::RestApi").items()
    assert api["Name"] == f"tradai-api-{env}"
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    stage = _stage(template)
    assert stage["StageName"] == env and ref(stage["RestApiId"]) == api_id
    assert tags(stage)["Environment"] == env
    # No account-level CloudWatch role (account-wide setting, see docs/decisions.md) and no CORS preflights.
    assert not resources(template, "AWS::ApiGateway::Account")
    assert not [m for (method, _), m in _methods(template).items() if method == "OPTIONS"]


def test_exactly_the_spec_routes(edge):
    _, template = edge
    deployed = {(method, _shape(path)) for method, path in _methods(template)}
    expected = {(method, _shape(path)) for method, path, _, _ in spec.API_ROUTES}
    assert len(spec.API_ROUTES) == 21 and len(_methods(template)) == 21
    assert deployed == expected


def test_health_is_public_and_every_other_route_needs_a_cognito_token(edge, synthesized):
    env, template = edge
    (authorizer_id, authorizer), = resources(template, "AWS::ApiGateway::Authorizer").items()
    assert (authorizer["Type"], authorizer["IdentitySource"]) == (COGNITO, AUTHORIZATION_HEADER)
    (provider,) = authorizer["ProviderARNs"]
    kind, pool = _produced_resource(synthesized, env, provider, "Arn")
    assert (kind, pool["UserPoolName"]) == ("AWS::Cognito::UserPool", spec.USER_POOL_NAME)
    methods = _spec_methods(template)
    for method, path, _, auth_required in spec.API_ROUTES:
        props = methods[(method, path)][1]
        if auth_required:
            assert props["AuthorizationType"] == COGNITO, (method, path)
            assert ref(props["AuthorizerId"]) == authorizer_id, (method, path)
        else:
            assert props["AuthorizationType"] == "NONE", (method, path)
            assert "AuthorizerId" not in props, (method, path)
        assert not props.get("ApiKeyRequired"), (method, path)


def test_alb_routes_are_private_http_proxies_through_the_vpc_link_to_the_listener(edge, synthesized):
    env, template = edge
    (link_id, link), = resources(template, "AWS::ApiGatewayV2::VpcLink").items()
    for method, path, integration, _ in spec.API_ROUTES:
        if integration.startswith("SQS"):
            continue
        deployed_path, props = _spec_methods(template)[(method, path)]
        target = props["Integration"]
        assert (target["Type"], target["ConnectionType"]) == ("HTTP_PROXY", "VPC_LINK"), path
        assert ref(target["ConnectionId"]) == link_id, path
        assert target["IntegrationHttpMethod"] == method, path
        kind, listener = _produced_resource(synthesized, env, target["IntegrationTarget"])
        assert kind == "AWS::ElasticLoadBalancingV2::Listener", path
        scheme, host, uri_path = target["Uri"]["Fn::Join"][1]
        assert scheme == {"HTTP": "http://", "HTTPS": "https://"}[listener["Protocol"]], path
        kind, _ = _produced_resource(synthesized, env, host, "DNSName")
        assert kind == "AWS::ElasticLoadBalancingV2::LoadBalancer", path
        # The ALB sees the spec's path (MLflow under /mlflow, path-routed there); every variable is passed on,
        # the greedy {proxy+} as {proxy}.
        assert _shape(deployed_path) == _shape(path), path
        assert uri_path == deployed_path.replace("+}", "}"), path
        names = re.findall(r"\{([A-Za-z0-9_]+)\}", uri_path)
        assert target.get("RequestParameters", {}) == {
            f"integration.request.path.{n}": f"method.request.path.{n}" for n in names}, path
        assert props.get("RequestParameters", {}) == {f"method.request.path.{n}": True for n in names}, path


def test_the_vpc_link_uses_the_private_subnets_and_the_api_gateway_group(edge, synthesized):
    env, template = edge
    (link,) = resources(template, "AWS::ApiGatewayV2::VpcLink").values()
    assert link["Name"] == f"tradai-api-vpc-link-{env}"
    subnets = {tags(_produced_resource(synthesized, env, subnet)[1])["Name"] for subnet in link["SubnetIds"]}
    assert subnets == {f"tradai-{name.lower()}-{env}" for name, _, _, table in spec.SUBNETS if table == "Private RT"}
    (group,) = link["SecurityGroupIds"]
    kind, props = _produced_resource(synthesized, env, group, "GroupId")
    assert (kind, props["GroupName"]) == ("AWS::EC2::SecurityGroup", "tradai-apigw-sg")


def test_backtest_submission_goes_straight_to_the_fifo_queue(edge, synthesized):
    env, template = edge
    props = _queue_method(template)
    target = props["Integration"]
    assert (target["Type"], target["IntegrationHttpMethod"]) == ("AWS", "POST")
    assert "ConnectionType" not in target and "IntegrationTarget" not in target
    prefix, queue_name = target["Uri"]["Fn::Join"][1]
    assert prefix == SQS_PATH
    kind, queue = _produced_resource(synthesized, env, queue_name, "QueueName")
    assert (kind, queue["QueueName"]) == ("AWS::SQS::Queue", f"tradai-backtest-queue-{env}.fifo")
    assert target["PassthroughBehavior"] == "NEVER"
    assert target["RequestParameters"] == {"integration.request.header.Content-Type": FORM}
    assert target["RequestTemplates"] == {"application/json": edge_api.SEND_MESSAGE_TEMPLATE}
    responses = {r["StatusCode"]: r for r in target["IntegrationResponses"]}
    assert set(responses) == {"202", "400", "500"}
    assert responses["202"]["ResponseTemplates"] == {"application/json": edge_api.ACCEPTED_TEMPLATE}
    assert responses["400"]["ResponseTemplates"] == {"application/json": edge_api.REJECTED_TEMPLATE}
    assert responses["500"]["ResponseTemplates"] == {"application/json": edge_api.FAILED_TEMPLATE}
    # SQS's status selects the response: 2xx -> 202, 4xx -> 400, anything else (5xx) -> the default 500.
    for status, expected in (("200", "202"), ("403", "400"), ("413", "400"), ("500", "500"), ("503", "500")):
        matching = [code for code, r in responses.items()
                    if "SelectionPattern" in r and re.fullmatch(r["SelectionPattern"], status)]
        assert (matching or [code for code, r in responses.items() if "SelectionPattern" not in r]) == [expected]
    assert [r["StatusCode"] for r in props["MethodResponses"]] == ["202", "400", "500"]


def test_the_queue_role_may_only_send_to_the_backtest_queue(edge, synthesized):
    env, template = edge
    role_id = ref(_queue_method(template)["Integration"]["Credentials"])
    role = template["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}}]
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert set(statement) == {"Action", "Effect", "Resource"}
    assert (statement["Action"], statement["Effect"]) == ("sqs:SendMessage", "Allow")
    kind, queue = _produced_resource(synthesized, env, statement["Resource"], "Arn")
    assert (kind, queue["QueueName"]) == ("AWS::SQS::Queue", f"tradai-backtest-queue-{env}.fifo")
    assert "ManagedPolicyArns" not in role
    attached = [p for p in resources(template, "AWS::IAM::Policy").values()
                if role_id in [ref(r) for r in p.get("Roles", [])]]
    assert attached == []


def test_routes_with_a_body_or_path_parameters_are_validated(edge):
    _, template = edge
    validators = resources(template, "AWS::ApiGateway::RequestValidator")
    kinds = {logical_id: (v["ValidateRequestBody"], v["ValidateRequestParameters"])
             for logical_id, v in validators.items()}
    for method, path, _, _ in spec.API_ROUTES:
        props = _spec_methods(template)[(method, path)][1]
        chosen = kinds.get(ref(props["RequestValidatorId"])) if "RequestValidatorId" in props else None
        has_parameters = "{" in path or "*" in path
        if method in ("POST", "ANY"):
            assert chosen == (True, True), (method, path)
        elif has_parameters:
            assert chosen == (False, True), (method, path)
        else:
            assert chosen is None, (method, path)


def test_backtest_request_model_is_the_json_schema(edge):
    _, template = edge
    props = _queue_method(template)
    model_id = ref(props["RequestModels"]["application/json"])
    model = template["Resources"][model_id]["Properties"]
    assert model["ContentType"] == "application/json"
    schema = model["Schema"]
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["required"]) == {"job_id", "strategy", "timeframe", "timerange", "pairs"}
    assert set(schema["properties"]) == {"job_id", "strategy", "strategy_id", "timeframe", "timerange", "pairs",
                                         "experiment_name"}
    assert schema["properties"]["timeframe"]["enum"] == ["1m", "5m", "15m", "30m", "1h", "4h", "1d"]
    pairs = schema["properties"]["pairs"]
    assert (pairs["minItems"], pairs["maxItems"], pairs["uniqueItems"]) == (1, 50, True)


def test_throttling_default_and_backtest_submission_override(edge):
    _, template = edge
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in _stage(template)["MethodSettings"]}
    assert set(settings) == {("/*", "*"), ("/~1api~1v1~1backtests", "POST")}
    default = settings[("/*", "*")]
    assert (default["ThrottlingRateLimit"], default["ThrottlingBurstLimit"]) == (
        spec.API_THROTTLING["rate"], spec.API_THROTTLING["burst"])
    backtests = settings[("/~1api~1v1~1backtests", "POST")]
    assert backtests["ThrottlingRateLimit"] == spec.API_ROUTE_RATE_OVERRIDES["/api/v1/backtests"]
    assert 0 < backtests["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"]
    for setting in settings.values():  # the override must not switch off what the stage sets everywhere
        assert (setting["LoggingLevel"], setting["MetricsEnabled"], setting["DataTraceEnabled"]) == (
            "ERROR", True, False)


def test_json_access_logs_and_execution_logs_with_the_environment_retention(edge):
    env, template = edge
    stage = _stage(template)
    assert stage["TracingEnabled"] is True
    access = stage["AccessLogSetting"]
    fields = json.loads(access["Format"])
    assert {key: fields.get(key) for key in ACCESS_LOG_FIELDS} == ACCESS_LOG_FIELDS
    groups = resources(template, "AWS::Logs::LogGroup")
    destination = access["DestinationArn"]["Fn::Join"][1]
    access_group = groups[ref(destination[-1])]
    assert access_group["LogGroupName"] == f"/aws/apigateway/tradai-api-{env}"
    assert access_group["RetentionInDays"] == spec.LOG_RETENTION_DAYS[env]
    (execution,) = [g for g in groups.values() if isinstance(g["LogGroupName"], dict)]
    api_id, = resources(template, "AWS::ApiGateway::RestApi")
    assert execution["LogGroupName"] == {"Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": api_id}, f"/{env}"]]}
    assert execution["RetentionInDays"] == spec.LOG_RETENTION_DAYS[env]
    others = [g for g in groups.values() if g is not access_group and g is not execution]
    # The WAF's and the trail's groups (staging/prod): tested with them in test_edge_security.
    assert all(str(g["LogGroupName"]).startswith(("aws-waf-logs-", "/aws/cloudtrail/")) for g in others)


def test_outputs_api_url_and_the_user_pool_the_callers_sign_in_with(edge, synthesized):
    env, template = edge
    outputs = template["Outputs"]
    assert {"ApiUrl", "UserPoolId", "UserPoolClientId"} <= set(outputs)
    url = outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    api_id, = resources(template, "AWS::ApiGateway::RestApi")
    (stage_id,) = resources(template, "AWS::ApiGateway::Stage")
    assert url[0] == "https://" and url[1] == {"Ref": api_id} and {"Ref": stage_id} in url
    kind, pool = _produced_resource(synthesized, env, outputs["UserPoolId"]["Value"])
    assert (kind, pool["UserPoolName"]) == ("AWS::Cognito::UserPool", spec.USER_POOL_NAME)
    kind, _ = _produced_resource(synthesized, env, outputs["UserPoolClientId"]["Value"])
    assert kind == "AWS::Cognito::UserPoolClient"


# ---- the backtest request model against the consumer's validation (lambda_src/backtest/request.py) --------------

JOB_ID = "0b6c1f3e-3d7a-4c51-9a07-2f0d4e8b9c11"
VALID = {"job_id": JOB_ID, "strategy": "Momentum_V2", "timeframe": "1h", "timerange": "20240101-20240301",
         "pairs": ["BTC/USDT", "ETH/USDT"]}
PAIRS_50 = [f"C{i}/USDT" for i in range(50)]
SAME_VERDICT = [  # (field, value): the model and the consumer agree (accept or reject)
    ("job_id", JOB_ID.upper()), ("job_id", "not-a-uuid"), ("job_id", JOB_ID.replace("-", "")),
    ("job_id", "{" + JOB_ID + "}"), ("job_id", f"urn:uuid:{JOB_ID}"), ("job_id", JOB_ID + "\n"), ("job_id", 7),
    ("strategy", "A"), ("strategy", "A" + "b" * 63), ("strategy", "A" + "b" * 64), ("strategy", "momentum"),
    ("strategy", "1Abc"), ("strategy", "Mom entum"), ("strategy", "Momentum\n"), ("strategy", "Momentum&x=1"),
    ("strategy", ""), ("strategy", None), ("strategy", ["Momentum"]),
    ("strategy_id", "abc-1"), ("strategy_id", "a" * 64), ("strategy_id", "a" * 65), ("strategy_id", "Abc"),
    ("strategy_id", "-abc"), ("strategy_id", "abc\n"),
    *[("timeframe", tf) for tf in ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "2h", "1H", "")],
    ("timerange", "20240101-20240102"), ("timerange", "2024-01-01"), ("timerange", "20240101-20240301\n"),
    ("timerange", "20240101_20240301"), ("timerange", 20240101),
    ("pairs", []), ("pairs", PAIRS_50), ("pairs", PAIRS_50 + ["X/Y"]), ("pairs", ["BTC/USDT", "BTC/USDT"]),
    ("pairs", ["btc/usdt"]), ("pairs", ["BTCUSDT"]), ("pairs", ["A" * 20 + "/USDT"]), ("pairs", ["A" * 21 + "/USDT"]),
    ("pairs", "BTC/USDT"), ("pairs", [1]), ("pairs", ["BTC/USDT\n"]),
    ("experiment_name", "exp 1"), ("experiment_name", "x" * 128), ("experiment_name", "x" * 129),
    ("experiment_name", "a\tb"), ("experiment_name", ""), ("experiment_name", "Été 名前"),
]
CONSUMER_ONLY = [  # the model checks the form; the consumer also checks the dates and blank names
    ("timerange", "20240230-20240301"), ("timerange", "20240301-20240101"), ("experiment_name", "   "),
]
MODEL_ONLY = [  # stricter at the edge: no caller-chosen trace id, no nulls, no unknown fields
    ("trace_id", "caller-chosen"), ("strategy_id", None), ("experiment_name", None), ("unknown", "x"),
]


def _model_schema(synthesized) -> dict:
    template = synthesized[("dev", "edge")].json
    model_id = ref(_queue_method(template)["RequestModels"]["application/json"])
    return template["Resources"][model_id]["Properties"]["Schema"]


def _with(field: str, value) -> dict:
    body = dict(VALID)
    body[field] = value
    return body


def _model_accepts(schema: dict, body) -> bool:
    return jsonschema.Draft4Validator(schema).is_valid(body)


def _consumer_accepts(body) -> bool:
    try:
        parse_request(json.dumps(body), message_id="m-1")
    except InvalidRequest:
        return False
    return True


def test_the_model_accepts_a_valid_request_and_requires_its_fields(synthesized):
    schema = _model_schema(synthesized)
    assert _model_accepts(schema, VALID) and _consumer_accepts(VALID)
    full = {**VALID, "strategy_id": "momentum-v2", "experiment_name": "baseline"}
    assert _model_accepts(schema, full) and _consumer_accepts(full)
    for field in ("job_id", "strategy", "timeframe", "timerange", "pairs"):
        body = {k: v for k, v in VALID.items() if k != field}
        assert not _model_accepts(schema, body) and not _consumer_accepts(body), field
    assert not _model_accepts(schema, [VALID]) and not _model_accepts(schema, "x")


@pytest.mark.parametrize("field,value", SAME_VERDICT, ids=[f"{f}={v!r}"[:60] for f, v in SAME_VERDICT])
def test_the_model_and_the_consumer_agree(field, value, synthesized):
    body = _with(field, value)
    assert _model_accepts(_model_schema(synthesized), body) is _consumer_accepts(body)


@pytest.mark.parametrize("field,value", CONSUMER_ONLY)
def test_only_the_consumer_checks_dates_and_blank_names(field, value, synthesized):
    body = _with(field, value)
    assert _model_accepts(_model_schema(synthesized), body) and not _consumer_accepts(body)


@pytest.mark.parametrize("field,value", MODEL_ONLY)
def test_the_model_is_stricter_than_the_consumer(field, value, synthesized):
    body = _with(field, value)
    assert not _model_accepts(_model_schema(synthesized), body) and _consumer_accepts(body)


# ---- the mapping templates, rendered as API Gateway would (airspeed-ext) -----------------------------------------

class _Input:
    """``$input``: the raw body, JSONPath reads of it (``$`` and ``$.a.b`` only, all the templates use)."""

    def __init__(self, body: str):
        self.body = body
        self._data = json.loads(body)

    def path(self, expression: str):
        assert re.fullmatch(r"\$(\.[A-Za-z_][A-Za-z0-9_]*)*", expression), expression
        value = self._data
        for key in expression.split(".")[1:]:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def json(self, expression: str) -> str:
        return json.dumps(self.path(expression))


class _Util:
    """``$util`` as API Gateway defines it (Java URLEncoder; Commons Lang escapeJavaScript)."""

    @staticmethod
    def urlEncode(value) -> str:  # noqa: N802 - the VTL name
        # java.net.URLEncoder (UTF-8): keeps A-Za-z0-9 . - * _, space -> +, everything else %XX.
        return quote_plus(str(value), safe="*", encoding="utf-8").replace("~", "%7E")

    @staticmethod
    def escapeJavaScript(value) -> str:  # noqa: N802 - the VTL name
        out = []
        units = str(value).encode("utf-16-le", "surrogatepass")
        for index in range(0, len(units), 2):
            code = int.from_bytes(units[index:index + 2], "little")
            char = chr(code)
            if code > 0x7F:
                out.append(f"\\u{code:04X}")
            elif code < 32:
                out.append({"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}.get(
                    char, f"\\u{code:04X}"))
            else:
                out.append({"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/"}.get(char, char))
        return "".join(out)


def _context(request_id: str) -> dict:
    return {"requestId": request_id, "requestOverride": {"header": {}, "path": {}, "querystring": {}}}


def _render(template: str, body: str, context: dict) -> str:
    return airspeed.Template(template).merge({"input": _Input(body), "util": _Util(), "context": context})


def _send_message(body: str, request_id: str = "c0ffee00-0000-4000-8000-000000000001") -> tuple[str, dict]:
    """The form body API Gateway sends to SQS, and the context (with the request override) it leaves behind."""
    context = _context(request_id)
    return _render(edge_api.SEND_MESSAGE_TEMPLATE, body, context), context


def _expected_form(body: str, strategy: str, job_id: str, request_id: str) -> dict:
    return {"Action": ["SendMessage"], "MessageBody": [body], "MessageGroupId": [strategy],
            "MessageDeduplicationId": [job_id], "MessageAttribute.1.Name": ["trace_id"],
            "MessageAttribute.1.Value.DataType": ["String"], "MessageAttribute.1.Value.StringValue": [request_id]}


def test_send_message_of_a_valid_request_reaches_the_consumer_with_the_api_request_as_trace():
    body = json.dumps({**VALID, "experiment_name": "Été & co = 100%"})
    request_id = str(uuid.uuid4())
    form, context = _send_message(body, request_id)
    assert re.fullmatch(r"[A-Za-z0-9._*%+&=-]+", form), form  # nothing but the form's own characters
    fields = parse_qs(form, keep_blank_values=True, strict_parsing=True)
    assert fields == _expected_form(body, VALID["strategy"], JOB_ID, request_id)
    assert context["requestOverride"]["header"] == {edge_api.JOB_ID_OVERRIDE: JOB_ID}
    attributes = {"trace_id": {"stringValue": fields["MessageAttribute.1.Value.StringValue"][0]}}
    parsed = parse_request(fields["MessageBody"][0], message_id="m-1", attributes=attributes)
    assert (parsed.job_id, parsed.strategy, parsed.trace_id) == (JOB_ID, VALID["strategy"], request_id)


HOSTILE_STRATEGIES = [
    'Mo"men\'tum', "a&b=c", "x\nMessageGroupId=evil", "Momentum&QueueUrl=https://sqs.eu-west-1.amazonaws.com/1/q",
    "M&MessageAttribute.2.Name=role&MessageAttribute.2.Value.DataType=String&MessageAttribute.2.Value.StringValue=x",
    "M&Action=DeleteQueue", "100% + 1 ~ *", "Ünïcødé 名前 🚀", "%26QueueUrl%3Dx", "M;Action=PurgeQueue",
    "S" * 100_000,
]


@pytest.mark.parametrize("strategy", HOSTILE_STRATEGIES, ids=range(len(HOSTILE_STRATEGIES)))
def test_send_message_escapes_everything_the_caller_controls(strategy):
    job_id = f"{JOB_ID}&MessageDeduplicationId=x"
    body = json.dumps({**VALID, "job_id": job_id, "strategy": strategy,
                       "pairs": ["BTC/USDT&QueueUrl=x"] * 3, "note": "a\r\n\tb\u2028"}, ensure_ascii=False, indent=2)
    form, context = _send_message(body)
    assert re.fullmatch(r"[A-Za-z0-9._*%+&=-]+", form)
    assert parse_qs(form, keep_blank_values=True, strict_parsing=True) == _expected_form(
        body, strategy, job_id, "c0ffee00-0000-4000-8000-000000000001")
    assert context["requestOverride"] == {"header": {edge_api.JOB_ID_OVERRIDE: job_id}, "path": {}, "querystring": {}}


def test_send_message_keeps_the_raw_body_byte_for_byte():
    body = '{ "job_id" : "%s", "strategy":"Momentum", "timeframe":"1h",\n "timerange":"20240101-20240301",' \
           ' "pairs":["BTC/USDT"] }  \n' % JOB_ID
    form, _ = _send_message(body)
    assert parse_qs(form, keep_blank_values=True, strict_parsing=True)["MessageBody"] == [body]


MESSAGE_IDS = ["5fea7756-0ea4-451a-a703-a558b933e274", 'a"b', "a\\b", "line\nbreak", "</script>", "it's", "Ünï 🚀"]


@pytest.mark.parametrize("message_id", MESSAGE_IDS, ids=range(len(MESSAGE_IDS)))
@pytest.mark.parametrize("job_id", [JOB_ID, JOB_ID.upper(), 'x"y\\z\'/\n\u00e9'])
def test_accepted_response_is_json_with_the_message_and_job_ids(message_id, job_id):
    _, context = _send_message(json.dumps({**VALID, "job_id": job_id}))
    sqs_answer = json.dumps({"SendMessageResponse": {
        "ResponseMetadata": {"RequestId": "internal-1"},
        "SendMessageResult": {"MD5OfMessageBody": "0" * 32, "MessageId": message_id, "SequenceNumber": "1" * 20}}})
    rendered = _render(edge_api.ACCEPTED_TEMPLATE, sqs_answer, context)
    assert json.loads(rendered) == {"message_id": message_id, "job_id": job_id}


def test_accepted_response_without_the_override_is_still_json():
    sqs_answer = json.dumps({"SendMessageResponse": {"SendMessageResult": {"MessageId": "m-1"}}})
    assert json.loads(_render(edge_api.ACCEPTED_TEMPLATE, sqs_answer, _context("r-1"))) == {
        "message_id": "m-1", "job_id": ""}


@pytest.mark.parametrize("template", [edge_api.REJECTED_TEMPLATE, edge_api.FAILED_TEMPLATE])
def test_error_responses_carry_no_aws_detail(template):
    sqs_error = json.dumps({"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Type": "Sender",
                                      "Message": "arn:aws:sqs:eu-central-1:123456789012:secret does not exist"}})
    rendered = json.loads(_render(template, sqs_error, _context("r-1")))
    assert set(rendered) == {"message", "request_id"} and rendered["request_id"] == "r-1"
    assert "$input" not in template and "sqs" not in rendered["message"].lower()


def test_sibling_variables_share_the_first_name_as_api_gateway_requires():
    from tradai_cdk.config import config_for
    from tradai_cdk.stacks.edge import api_routes

    paths = {(route.method, route.path) for route in api_routes(config_for("dev").api_routes)}
    assert {("GET", "/api/v1/strategies/{id}"), ("POST", "/api/v1/strategies/{id}/stage"),
            ("POST", "/api/v1/strategies/{id}/promote"), ("ANY", "/mlflow/{proxy+}")} <= paths
    target = edge_api.RouteTarget.LOAD_BALANCER
    with pytest.raises(ValueError, match="one per parent"):
        edge_api._check_routes([edge_api.ApiRoute("GET", "/a/{id}", target, True),
                                edge_api.ApiRoute("GET", "/a/{name}/b", target, True)], {})
    with pytest.raises(ValueError, match="does not have"):
        edge_api._check_routes([edge_api.ApiRoute("GET", "/a", target, True)],
                               {("POST", "/a"): edge_api.Throttle(1, 1)})
