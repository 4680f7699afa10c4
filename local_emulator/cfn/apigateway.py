"""API Gateway (patches 25 and 26): ``AWS::ApiGateway::Authorizer``, ``::RequestValidator``, ``::Model``,
``::Stage`` (with its access log and method settings) and ``AWS::ApiGatewayV2::VpcLink`` in moto's
backends (25); ``AWS::ApiGateway::Method`` keeps its authorizer, request validator, models and parameters,
and its integration's credentials, request templates and parameters, connection type, VPC link and target,
which moto's CloudFormation dropped (26)."""

from __future__ import annotations

import json
from typing import Any

from moto.apigateway.models import APIGatewayBackend, Deployment, Integration, Method, apigateway_backends
from moto.apigatewayv2.models import apigatewayv2_backends

from .base import AddedResource


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


class _OnRestApi(AddedResource):
    """A resource of the REST API ``RestApiId``, kept in its ``REGISTRY`` (a dict of the API) under the
    key ``add`` returns: that key is the physical id and each of ``ATTRIBUTES``; ``undo`` drops it."""

    REGISTRY = ""

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> _OnRestApi:
        backend, api = apigateway_backends[account_id][region_name], properties["RestApiId"]
        key = cls.add(backend, api, name, properties)
        return cls(
            key,
            dict.fromkeys(cls.ATTRIBUTES, key),
            lambda: _delete(getattr(backend.get_rest_api(api), cls.REGISTRY), key),
        )

    @classmethod
    def add(cls, backend: APIGatewayBackend, api: str, name: str, properties: dict) -> str:
        raise NotImplementedError


class Authorizer(_OnRestApi):
    TYPE = "AWS::ApiGateway::Authorizer"
    ATTRIBUTES = ("AuthorizerId",)
    REGISTRY = "authorizers"

    @classmethod
    def add(cls, backend: APIGatewayBackend, api: str, name: str, properties: dict) -> str:
        authorizer = backend.create_authorizer(
            api,
            properties.get("Name", name),
            properties["Type"],
            provider_arns=properties.get("ProviderARNs"),
            authorizer_uri=properties.get("AuthorizerUri"),
            authorizer_credentials=properties.get("AuthorizerCredentials"),
            identity_source=properties.get("IdentitySource"),
            authorizer_result_ttl=properties.get("AuthorizerResultTtlInSeconds"),
        )
        return str(authorizer.id)


class RequestValidator(AddedResource):
    TYPE = "AWS::ApiGateway::RequestValidator"
    ATTRIBUTES = ("RequestValidatorId",)

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> RequestValidator:
        api = apigateway_backends[account_id][region_name].get_rest_api(properties["RestApiId"])
        validator = api.create_request_validator(
            properties.get("Name", name),
            _flag(properties.get("ValidateRequestBody")),
            _flag(properties.get("ValidateRequestParameters")),
        )
        return cls(
            validator.id, {"RequestValidatorId": validator.id}, lambda: _delete(api.request_validators, validator.id)
        )


class VpcLink(AddedResource):
    TYPE = "AWS::ApiGatewayV2::VpcLink"
    ATTRIBUTES = ("VpcLinkId",)

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> VpcLink:
        backend = apigatewayv2_backends[account_id][region_name]
        link = backend.create_vpc_link(
            properties.get("Name", name),
            sg_ids=properties.get("SecurityGroupIds", []),
            subnet_ids=properties["SubnetIds"],
            tags=properties.get("Tags") or {},
        )
        return cls(link.id, {"VpcLinkId": link.id}, lambda: _delete(backend.vpc_links, link.id))


class Model(_OnRestApi):
    TYPE = "AWS::ApiGateway::Model"
    NAME_PROPERTY = "Name"
    REGISTRY = "models"

    @classmethod
    def add(cls, backend: APIGatewayBackend, api: str, name: str, properties: dict) -> str:
        schema = properties.get("Schema", {})
        backend.create_model(
            api,
            name,
            properties.get("ContentType", "application/json"),
            properties.get("Description", ""),
            schema if isinstance(schema, str) else json.dumps(schema),
        )
        return name


_METHOD_SETTINGS = {  # CloudFormation MethodSettings key -> the API's
    "ThrottlingRateLimit": "throttlingRateLimit",
    "ThrottlingBurstLimit": "throttlingBurstLimit",
    "LoggingLevel": "loggingLevel",
    "MetricsEnabled": "metricsEnabled",
    "DataTraceEnabled": "dataTraceEnabled",
}


class Stage(_OnRestApi):
    TYPE = "AWS::ApiGateway::Stage"
    NAME_PROPERTY = "StageName"
    REGISTRY = "stages"

    @classmethod
    def add(cls, backend: APIGatewayBackend, api: str, name: str, properties: dict) -> str:
        stage = backend.create_stage(
            api,
            name,
            properties["DeploymentId"],
            variables=properties.get("Variables"),
            description=properties.get("Description", ""),
            tracing_enabled=_flag(properties.get("TracingEnabled")),
        )
        log = properties.get("AccessLogSetting")
        if log:
            stage.access_log_settings = {"destinationArn": log.get("DestinationArn"), "format": log.get("Format")}
        for setting in properties.get("MethodSettings", []):
            key = f"{setting.get('ResourcePath', '/*')[1:]}/{setting.get('HttpMethod', '*')}"
            stage.method_settings[key] = {
                api_key: setting[k] for k, api_key in _METHOD_SETTINGS.items() if k in setting
            }
        return name


def _delete(registry: dict, key: str) -> None:
    registry.pop(key, None)


def _method(cls, /, resource_name, cloudformation_json, account_id, region_name, **kwargs) -> Method:
    """Patch 26: PutMethod and PutIntegration with what the template sets."""
    properties, backend = cloudformation_json["Properties"], apigateway_backends[account_id][region_name]
    where = {
        "function_id": properties["RestApiId"],
        "resource_id": properties["ResourceId"],
        "method_type": properties["HttpMethod"],
    }
    method = backend.put_method(
        **where,
        authorization_type=properties.get("AuthorizationType", "NONE"),
        api_key_required=properties.get("ApiKeyRequired"),
        request_parameters=properties.get("RequestParameters"),
        request_models=properties.get("RequestModels"),
        authorizer_id=properties.get("AuthorizerId"),
        authorization_scopes=properties.get("AuthorizationScopes"),
        request_validator_id=properties.get("RequestValidatorId"),
    )
    spec = properties.get("Integration")
    if spec:
        integration = backend.put_integration(
            **where,
            integration_type=spec["Type"],
            uri=spec.get("Uri"),
            integration_method=spec.get("IntegrationHttpMethod"),
            credentials=spec.get("Credentials"),
            request_templates=spec.get("RequestTemplates"),
            passthrough_behavior=spec.get("PassthroughBehavior"),
            request_parameters=spec.get("RequestParameters"),
            connection_type=spec.get("ConnectionType"),
        )
        integration.connection_id = spec.get("ConnectionId")  # type: ignore[attr-defined]
        integration.integration_target = spec.get("IntegrationTarget")  # type: ignore[attr-defined]
    return method


_integration_json = Integration.to_json


def _integration_with_connection(self: Integration) -> dict[str, Any]:
    """Patch 26: moto's Integration answers its VPC link and target too."""
    answer = _integration_json(self)
    for key, attribute in (("connectionId", "connection_id"), ("integrationTarget", "integration_target")):
        if getattr(self, attribute, None):
            answer[key] = getattr(self, attribute)
    return answer


MODELS = (Authorizer, RequestValidator, Model, Stage, VpcLink)


def _deployment_id(self: Deployment) -> str:
    """Patch 25: ``Ref`` of a deployment is its id (moto gave the model object, which no stage can use)."""
    return self.id


PATCHES = (
    (Deployment, "physical_resource_id", property(_deployment_id)),
    (Method, "create_from_cloudformation_json", classmethod(_method)),
    (Integration, "to_json", _integration_with_connection),
)
