"""The harness's patches to moto 5.2.5, applied in-process before the server starts.

Each one fixes the emulator, never the app; none makes a resource look verified:

1. A resource whose creation raises inside moto's CloudFormation is recorded in
   ``FAULTS`` (stack, logical id) -> error and treated as not created. Unpatched,
   CreateStack answers a bare HTTP 500 and every later ListStackResources of
   that stack fails, so nobody could tell which resource broke. A resource that
   needs ``Fn::GetAtt`` of a type moto does not implement, or a stack output
   that moto could not produce, goes to ``BLOCKED`` instead (reported as
   ignored by the emulator, not as an app failure).
2. ``Fn::GetStackOutput``, which CDK emits for weak cross-stack references
   (``@aws-cdk/core:defaultCrossStackReferences: weak``), is unknown to moto:
   the consumer got the raw dict. The patch resolves it from the producer
   stack's outputs, as CloudFormation does.
3. An output referencing a resource of a type moto does not implement made
   CreateStack crash (HTTP 500: ``'NoneType' has no attribute
   'has_cfn_attr'``). Such outputs are left out and listed in ``SKIPPED_OUTPUTS``.
4. ``AWS::EC2::SubnetRouteTableAssociation`` is recorded by moto but never
   applied, so DescribeRouteTables shows no association. The patch also makes
   the association.
5. ``Ref`` to an ``AWS::RDS::DBParameterGroup`` gave the model object instead
   of the group name, which crashes every DBInstance using a custom group.
6. ``CompleteLifecycleAction`` is not implemented (HTTP 500). The patch accepts
   it for an existing Auto Scaling group and records it in ``LIFECYCLE_ACTIONS``
   so the NAT drill can check what the handler sent.
7. ``AWS::KMS::Key`` passed CloudFormation's ``Key``/``Value`` tags to KMS's
   ``TagKey``/``TagValue`` API model (KeyError), so no key, and nothing
   encrypted with it, could be created; and it kept the template's policy
   object where the API keeps a JSON string, so DescribeKey crashed (HTTP 500).
   The patch renames the tag fields and serializes the policy.
8. moto's Step Functions interpreter invokes Lambda tasks through moto's Lambda,
   which without Docker only echoes the payload. Functions named in
   ``LAMBDA_ROUTES`` (filled by the workflow drills) run their real handler
   in-process instead; an exception becomes a Lambda function error with its
   ``errorType``, as the Lambda runtime reports it. Others keep moto's behaviour.
9. moto's interpreter sends ``ecs:runTask`` parameters exactly as written in the
   state machine (``Cluster``, ``TaskDefinition``...) and reads the raw response:
   its request/response normalisation, ported from LocalStack, is a no-op in
   5.2.5, so every ECS task state failed with ``'Cluster'``. The patch converts
   both with the botocore shapes of the ECS API, as Step Functions does, and
   lets ``CapacityProviderStrategy`` through (moto's list of runTask parameters
   omitted it, so every task fell back to EC2 container instances).
10. ECS RunTask summed container-level cpu/memory, which Fargate task definitions
    (sized at task level, like ours) leave out: TypeError, HTTP 500. For a
    Fargate task without container sizes the patch uses no per-container share.
11. ``AWS::SecretsManager::Secret`` is not implemented by moto's CloudFormation,
    so nothing that needs a secret's ARN (functions and task definitions reading
    the MLflow, database or Binance secret through a weak cross-stack output)
    was created. The patch creates the secret in moto's Secrets Manager backend
    (Name, Description, KmsKeyId, Tags; SecretString, or GenerateSecretString
    with PasswordLength, ExcludeCharacters, the Exclude*/IncludeSpace flags and
    SecretStringTemplate + GenerateStringKey); ``Ref`` and ``Fn::GetAtt Id`` are
    its ARN; a stack delete force-deletes it. ``{{resolve:secretsmanager:...}}``
    dynamic references (SecretString, optional JSON key) are resolved from
    secrets that exist in the backend, as CloudFormation does at deploy time;
    others are left as written. ``AWS::SecretsManager::SecretTargetAttachment``
    stays unimplemented (ignored).
12. CloudFormation drift detection (DetectStackDrift, DescribeStackDriftDetectionStatus,
    DescribeStackResourceDrifts) is not implemented (HTTP 500). moto keeps no
    live state apart from what its CloudFormation applied, so it has nothing to
    compare: the patch answers a detection of an existing stack as complete and
    IN_SYNC, each of its resources IN_SYNC (so a MODIFIED/DELETED filter gives
    none), and an unknown stack or detection id with CloudFormation's
    ValidationError. It never reports drift; what a caller concludes and records
    from these answers is its own. Detections are kept in ``DRIFT_DETECTIONS``.
13. ``AWS::ServiceDiscovery::PrivateDnsNamespace`` and ``AWS::ServiceDiscovery::Service``
    are not implemented by moto's CloudFormation, so nothing needing a Cloud Map
    id was created: the ECS services (``ServiceRegistries``), the strategy
    deployer function (``TRADING_MODES`` names the trading services' ids) and
    its role policy (the namespace's hosted zone), and through them the strategy
    deployment state machine and backend-api's grant to start it. The patch
    creates them in moto's Cloud Map backend (namespace: Name, Vpc, Description,
    Tags, in its private hosted zone as Cloud Map does; service: Name,
    NamespaceId, Description, DnsConfig, HealthCheckCustomConfig, Type, Tags);
    ``Ref`` and ``Fn::GetAtt Id`` are the id, ``Arn`` the ARN, ``Name`` the name
    and the namespace's ``HostedZoneId`` its zone; a stack delete deletes them.
    Registrations stay what callers make (moto's ECS registers no task).
14. ``AWS::Logs::LogGroup`` dropped ``KmsKeyId``: moto's CloudFormation passes the
    template's properties to a model that reads the API's ``kmsKeyId``, so every
    log group looked unencrypted. The patch sets the key the template names.

The resources of patches 11 and 13 (``SecretResource``, ``NamespaceResource``, ``DiscoveryServiceResource``,
in this module) are built on ``cfn.base.AddedResource``, as those of patches 15-38 are.

Patches 15-38 live in ``local_emulator/cfn/`` (one module per service family, each calling moto's own
backend; ``Ref`` is the physical id and a stack delete undoes it). They add CloudFormation support for
types moto's CloudFormation ignores (15-17, 21, 22, 24, 25, 31, 37, 38) or apply properties it drops (the rest):

15. ``AWS::CloudWatch::Alarm`` (``cloudwatch.py``): metric or metric math, threshold, periods, comparison,
    missing data, ALARM/OK actions; ``Arn``.
16. ``AWS::EC2::SecurityGroupEgress`` (``ec2.py``): CIDR, destination group or prefix list, ports, description;
    like CloudFormation (not EC2's API), the first such rule removes the group's default allow-all.
17. ``AWS::Lambda::EventInvokeConfig`` (``awslambda.py``): retries, maximum event age, destinations.
18. ``AWS::DynamoDB::Table`` (``kept.py``): TTL, PITR, and SSE (moto read ``Enabled``, not ``SSEEnabled``).
19. ``AWS::ECR::Repository`` (``kept.py``): scan on push (moto read ``scanOnPush``), lifecycle policy.
20. ``AWS::ECS::TaskDefinition`` (``kept.py``): every property; moto kept only family, containers, volumes
    and memory (no task or execution role, network mode, compatibilities or task cpu).
21. ``AWS::SQS::QueuePolicy``, ``AWS::S3::BucketPolicy``, ``AWS::SNS::TopicPolicy`` (``policies.py``); bucket
    policies are kept but not enforced (moto ignored their conditions: every plain-HTTP request was denied).
22. ``AWS::CloudFormation::WaitConditionHandle`` (``cloudformation.py``; moto listed it as never created).
23. ``AWS::EC2::SecurityGroup`` (``ec2.py``): inline ``SecurityGroupEgress`` replaces the default allow-all.
24. ``AWS::Cognito::UserPool`` (with TOTP MFA) and ``::UserPoolClient`` (``cognito.py``).
25. ``AWS::ApiGateway::Authorizer``, ``::RequestValidator``, ``::Model``, ``::Stage`` (access log, method
    settings), ``AWS::ApiGatewayV2::VpcLink``; ``Ref`` of a deployment is its id (``apigateway.py``).
26. ``AWS::ApiGateway::Method`` (``apigateway.py``): authorizer, validator, models, and the integration's
    credentials, VPC link and target.
27. ``AWS::EC2::VPC`` (``ec2.py``): EnableDnsSupport/EnableDnsHostnames (awsvpc tasks need the hostnames).
28. ``AWS::ECS::Service`` (``kept.py``): service registries, load balancers, launch type, network configuration.
29. ``AWS::StepFunctions::StateMachine`` (``kept.py``): the logging configuration.
30. ``AWS::S3::Bucket`` (``kept.py``): public access block, versioning, lifecycle rules, access logging.
31. ``AWS::ECS::CapacityProvider`` and ``::ClusterCapacityProviderAssociations`` (``ecs.py``).
32. ``AWS::ECS::Cluster`` (``ecs.py``): ``ClusterSettings`` (Container Insights).
33. ``AWS::AutoScaling::AutoScalingGroup`` (``kept.py``): its lifecycle hooks (recorded, as moto records them).
34. ``AWS::RDS::DBInstance`` (``kept.py``): log exports, enhanced monitoring interval and role.
35. ``AWS::ApiGateway::RestApi`` (``kept.py``): endpoint types (moto read ``types``, not ``Types``).
36. ``AWS::ElasticLoadBalancingV2::LoadBalancer`` (``kept.py``): its attributes (access logs...).
37. ``AWS::WAFv2::WebACL``, ``::WebACLAssociation``, ``::LoggingConfiguration`` (``wafv2.py``): scope, default
    action, rules with priorities and statements, visibility, tags (``Ref`` ``name|id|scope``; ``Arn``, ``Id``,
    ``Capacity``, ``LabelNamespace``); an association (also the API Gateway stage's ``webAclArn``); log destinations.
38. ``AWS::CloudTrail::Trail`` (``cloudtrail.py``): bucket and prefix, global events, multi-region, log file
    validation, CloudWatch Logs group and role, KMS key, tags, ``IsLogging``, selectors; ``Arn``, ``SnsTopicArn``.

Patch 39, in this module, paces the drills' workflows:

39. moto's Step Functions interpreter really sleeps through a ``Wait`` state (the strategy deployment workflow's
    15 s poll). The patch ends each wait after at most ``WAIT_CAP_SECONDS``, or sooner when a drill calls
    ``end_waits()`` (it played what the poll waits for): a polling loop polls sooner, nothing else changes
    (what a poll finds, and the deadlines the handlers compute, follow the real clock).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any, Self

import botocore.session
import moto
from moto.autoscaling.exceptions import ValidationError as AutoScalingValidationError
from moto.autoscaling.responses import AutoScalingResponse
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import cloudformation_backends
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.common_models import CloudFormationModel
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.ec2.models import ec2_backends
from moto.ec2.models.subnets import SubnetRouteTableAssociation
from moto.ecs.models import EC2ContainerServiceBackend as EcsBackend
from moto.kms.models import Key as KmsKey
from moto.logs.models import LogGroup
from moto.rds.models import DBParameterGroup
from moto.secretsmanager.models import FakeSecret, secretsmanager_backends
from moto.secretsmanager.utils import random_password
from moto.servicediscovery.models import servicediscovery_backends
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_ecs
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs import (
    StateTaskServiceEcs,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from . import cfn
from .cfn.base import AddedResource

MOTO_VERSION = "5.2.5"
FAULTS: dict[tuple[str, str], str] = {}
BLOCKED: dict[tuple[str, str], str] = {}
SKIPPED_OUTPUTS: dict[tuple[str, str], str] = {}
LIFECYCLE_ACTIONS: list[dict[str, str]] = []
LAMBDA_ROUTES: dict[str, Callable[[Any], Any]] = {}  # function name -> in-process handler call
DRIFT_DETECTIONS: dict[str, dict[str, Any]] = {}  # StackDriftDetectionId -> {StackId, Timestamp}
WAIT_CAP_SECONDS = 1.0
_WAITS = threading.Condition()  # notified by end_waits()
LOG = logging.getLogger("local_emulator.patches")

_create = parsing.parse_and_create_resource
_clean_json = parsing.clean_json
_parse_output = parsing.parse_output
_validate_outputs = parsing.ResourceMap.validate_outputs
_associate = SubnetRouteTableAssociation.create_from_cloudformation_json


class _Blocked(ValidationError):
    """Raised where moto cannot go on because of a type it does not implement."""


def implemented(resource_type: str) -> bool:
    """Whether moto's CloudFormation creates resources of this type."""
    return resource_type in parsing.get_model_map() or resource_type.startswith("Custom::")


def _unimplemented_targets(value: Any, resources_map, intrinsics: tuple[str, ...]) -> list[str]:
    """'LogicalId (Type)' of each resource of an unimplemented type that ``value`` references."""
    if isinstance(value, list):
        return [t for item in value for t in _unimplemented_targets(item, resources_map, intrinsics)]
    if not isinstance(value, dict):
        return []
    found = []
    for key, inner in value.items():
        if key in intrinsics:
            target = inner[0] if key == "Fn::GetAtt" else inner
            rtype = resources_map._resource_json_map.get(target, {}).get("Type")
            if rtype and not implemented(rtype):
                found.append(f"{target} ({rtype})")
        found += _unimplemented_targets(inner, resources_map, intrinsics)
    return found


def _create_or_record(logical_id, resource_json, resources_map, account_id, region_name):
    key = (resources_map["AWS::StackName"], logical_id)
    if key in FAULTS or key in BLOCKED:
        return None
    needs = _unimplemented_targets(resource_json.get("Properties", {}), resources_map, ("Fn::GetAtt",))
    if needs:
        BLOCKED[key] = f"needs Fn::GetAtt of {', '.join(needs)}, not implemented by moto"
        return None
    try:
        return _create(logical_id, resource_json, resources_map, account_id, region_name)
    except _Blocked as exc:
        BLOCKED[key] = exc.message
    except Exception as exc:  # noqa: BLE001 - any emulator error is reported, not raised
        FAULTS[key] = f"{type(exc).__name__}: {exc}"
        LOG.warning("%s/%s (%s) failed in moto: %s", *key, resource_json.get("Type"), FAULTS[key])
    return None


def _clean_json_with_stack_outputs(resource_json: Any, resources_map) -> Any:
    if isinstance(resource_json, dict) and "Fn::GetStackOutput" in resource_json:
        spec = _clean_json(resource_json["Fn::GetStackOutput"], resources_map)
        return _stack_output(spec, resources_map)
    cleaned = _clean_json(resource_json, resources_map)
    if isinstance(cleaned, str) and SECRET_REFERENCE in cleaned:
        return resolve_secret_references(cleaned, resources_map._account_id, resources_map._region_name)
    return cleaned


def _stack_output(spec: dict, resources_map) -> str:
    stack_name, output = spec["StackName"], spec["OutputName"]
    if (stack_name, output) in SKIPPED_OUTPUTS:
        raise _Blocked(message=f"needs output {output} of {stack_name}: {SKIPPED_OUTPUTS[stack_name, output]}")
    backend = cloudformation_backends[resources_map._account_id][spec.get("Region") or resources_map._region_name]
    stack = next(
        (s for s in backend.stacks.values() if s.name == stack_name and not s.status.startswith("DELETE")), None
    )
    value = next((o["OutputValue"] for o in (stack.outputs or []) if o["OutputKey"] == output), None) if stack else None
    if value is None:
        raise ValidationError(message=f"Fn::GetStackOutput: stack {stack_name} has no output {output}")
    return value


def _parse_output_if_implemented(output_logical_id, output_json, resources_map):
    key = (resources_map["AWS::StackName"], output_logical_id)
    needs = _unimplemented_targets(output_json.get("Value"), resources_map, ("Ref", "Fn::GetAtt"))
    if needs:
        SKIPPED_OUTPUTS[key] = f"references {', '.join(needs)}, not implemented by moto"
        return None
    try:
        return _parse_output(output_logical_id, output_json, resources_map)
    except _Blocked as exc:
        SKIPPED_OUTPUTS[key] = exc.message
        return None


def _validate_implemented_outputs(self) -> None:
    outputs = self._template.get("Outputs") or {}
    template = self._template
    self._template = {
        **template,
        "Outputs": {
            name: body
            for name, body in outputs.items()
            if not _unimplemented_targets(body.get("Value"), self, ("Ref", "Fn::GetAtt"))
        },
    }
    try:
        _validate_outputs(self)
    finally:
        self._template = template


def _associate_too(cls, /, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    association = _associate(resource_name, cloudformation_json, account_id, region_name, **kwargs)
    ec2_backends[account_id][region_name].associate_route_table(
        association.route_table_id, subnet_id=association.subnet_id
    )
    return association


def _complete_lifecycle_action(self: AutoScalingResponse) -> EmptyResult:
    call = {
        name: self._get_param(name)
        for name in (
            "AutoScalingGroupName",
            "LifecycleHookName",
            "LifecycleActionToken",
            "InstanceId",
            "LifecycleActionResult",
        )
    }
    if call["AutoScalingGroupName"] not in self.autoscaling_backend.autoscaling_groups:
        raise AutoScalingValidationError(f"No Auto Scaling group named {call['AutoScalingGroupName']}")
    LIFECYCLE_ACTIONS.append(call)
    return EmptyResult()


_invoke_lambda = lambda_eval_utils._invoke_lambda_function


def _invoke_routed(parameters: dict, region: str, state_credentials: Any) -> dict:
    route = LAMBDA_ROUTES.get(str(parameters.get("FunctionName", "")).split(":function:")[-1].split(":")[0])
    if route is None:
        return _invoke_lambda(parameters, region, state_credentials)
    payload = json.loads(parameters.get("Payload") or b"{}")
    try:
        return {"StatusCode": 200, "Payload": route(payload)}
    except Exception as exc:  # noqa: BLE001 - reported to the state machine as the runtime would
        return {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": {"errorType": type(exc).__name__, "errorMessage": str(exc)},
        }


def _ecs_operation(self, action: str | None):
    name = action or self._get_boto_service_action()
    operation = "".join(part.capitalize() for part in name.split("_")) if "_" in name else name[0].upper() + name[1:]
    return botocore.session.get_session().get_service_model("ecs").operation_model(operation)


def _normalise_ecs_parameters(self, parameters: dict, boto_service_name=None, service_action_name=None) -> None:
    self._to_boto_request(parameters, _ecs_operation(self, service_action_name).input_shape)


def _normalise_ecs_response(self, response: Any, boto_service_name=None, service_action_name=None) -> None:
    self._from_boto_response(response, _ecs_operation(self, service_action_name).output_shape)


_task_requirements = EcsBackend._calculate_task_resource_requirements


def _task_requirements_without_container_sizes(task_definition) -> dict:
    sized = copy.deepcopy(task_definition)
    for container in sized.container_definitions:  # CloudFormation keys are capitalised, the API's are not
        for key in ("Cpu", "cpu", "Memory", "memory"):
            if key in container and container[key] is None:
                container[key] = 0
        if not {"Memory", "memory", "MemoryReservation", "memoryReservation"} & set(container):
            container["memory"] = 0
    return _task_requirements(sized)


_create_kms_key = KmsKey.create_from_cloudformation_json
_create_log_group = LogGroup.create_from_cloudformation_json


def _kms_key_with_cfn_tags(cls, /, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = cloudformation_json["Properties"]
    tags = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])]
    policy = properties.get("KeyPolicy")
    policy = json.dumps(policy) if isinstance(policy, dict) else policy
    renamed = {**cloudformation_json, "Properties": {**properties, "Tags": tags, "KeyPolicy": policy}}
    return _create_kms_key(resource_name, renamed, account_id, region_name, **kwargs)


def _log_group_with_kms_key(cls, /, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    group = _create_log_group(resource_name, cloudformation_json, account_id, region_name, **kwargs)
    group.kms_key_id = cloudformation_json["Properties"].get("KmsKeyId")
    return group


def _parameter_group_name(self: DBParameterGroup) -> str:
    return self.name


SECRET_TYPE = "AWS::SecretsManager::Secret"
SECRET_REFERENCE = "{{resolve:secretsmanager:"
_SECRET_REFERENCES = re.compile(r"\{\{resolve:secretsmanager:(.+?)\}\}")
_PASSWORD_FLAGS = ("ExcludeNumbers", "ExcludePunctuation", "ExcludeUppercase", "ExcludeLowercase", "IncludeSpace")


def generated_secret_string(spec: dict) -> str:
    """A value for CloudFormation's ``GenerateSecretString`` (defaults as Secrets Manager's: 32 characters,
    every character type required)."""
    flags = {flag: str(spec.get(flag, False)).lower() == "true" for flag in _PASSWORD_FLAGS}
    password = random_password(
        int(spec.get("PasswordLength", 32)),
        spec.get("ExcludeCharacters", ""),
        flags["ExcludeNumbers"],
        flags["ExcludePunctuation"],
        flags["ExcludeUppercase"],
        flags["ExcludeLowercase"],
        flags["IncludeSpace"],
        str(spec.get("RequireEachIncludedType", True)).lower() == "true",
    )
    if "SecretStringTemplate" not in spec:
        return password
    if not spec.get("GenerateStringKey"):
        raise ValidationError(message="GenerateSecretString: SecretStringTemplate needs GenerateStringKey")
    return json.dumps({**json.loads(spec["SecretStringTemplate"]), spec["GenerateStringKey"]: password})


def resolve_secret_references(text: str, account_id: str, region_name: str) -> str:
    """Replace each ``{{resolve:secretsmanager:<id>[:SecretString[:<json key>[:<stage>[:<version>]]]]}}`` of a
    secret existing in moto's backend by its current value (or that JSON key); others stay as written."""
    backend = secretsmanager_backends[account_id][region_name]

    def value(match: re.Match) -> str:
        parts = match.group(1).split(":")
        split = 7 if parts[0] == "arn" else 1  # arn:aws:secretsmanager:<region>:<account>:secret:<name>
        secret_id, rest = ":".join(parts[:split]), parts[split:]
        secret = backend.secrets.get(secret_id)
        if not isinstance(secret, FakeSecret) or (rest and rest[0] not in ("", "SecretString")):
            return match.group(0)
        current = secret.secret_string or ""
        key = rest[1] if len(rest) > 1 else ""
        return str(json.loads(current)[key]) if key else current

    return _SECRET_REFERENCES.sub(value, text)


class SecretResource(AddedResource):
    """``AWS::SecretsManager::Secret``, kept in moto's Secrets Manager backend (patch 11)."""

    TYPE = SECRET_TYPE
    NAME_PROPERTY = "Name"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> SecretResource:
        if "SecretString" in properties:
            value = str(properties["SecretString"])
        elif "GenerateSecretString" in properties:
            value = generated_secret_string(properties["GenerateSecretString"])
        else:
            value = None
        backend = secretsmanager_backends[account_id][region_name]
        backend.create_secret(
            name=name,
            secret_string=value,
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags") or [],
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn = backend.secrets[name].arn
        return cls(arn, {"Id": arn}, lambda: backend.delete_secret(arn, None, True))

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name) -> None:
        secretsmanager_backends[account_id][region_name].delete_secret(resource_name, None, True)


NAMESPACE_TYPE = "AWS::ServiceDiscovery::PrivateDnsNamespace"
DISCOVERY_SERVICE_TYPE = "AWS::ServiceDiscovery::Service"


def _tags(properties: dict) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": t["Value"]} for t in properties.get("Tags") or []]


class _CloudMapResource(AddedResource):
    """A Cloud Map namespace or service kept in moto's Cloud Map backend (patch 13)."""

    NAME_PROPERTY = "Name"

    @classmethod
    def kept(
        cls, registry: dict, delete: Callable[[str], Any], resource_id: str, arn: str, name: str, **more: str | None
    ) -> Self:
        """The resource ``resource_id`` of ``registry``, deleted (while it is there) by ``delete``; its
        ``Fn::GetAtt`` values are ``Id``, ``Arn``, ``Name`` and ``more``, an unknown one (None) left out."""
        values = {"Id": resource_id, "Arn": arn, "Name": name, **more}
        attributes = {key: value for key, value in values.items() if value is not None}
        return cls(resource_id, attributes, lambda: delete(resource_id) if resource_id in registry else None)


class NamespaceResource(_CloudMapResource):
    """``AWS::ServiceDiscovery::PrivateDnsNamespace`` (patch 13)."""

    TYPE = NAMESPACE_TYPE
    ATTRIBUTES = ("Id", "Arn", "HostedZoneId")

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> NamespaceResource:
        backend = servicediscovery_backends[account_id][region_name]
        operation = backend.create_private_dns_namespace(
            name=properties.get("Name", name),
            creator_request_id=str(uuid.uuid4()),
            description=properties.get("Description", ""),
            vpc=properties["Vpc"],
            tags=_tags(properties),
            properties=copy.deepcopy(properties.get("Properties") or {}),
        )
        namespace = backend.namespaces[backend.operations[operation].targets["NAMESPACE"]]
        return cls.kept(
            backend.namespaces,
            backend.delete_namespace,
            namespace.id,
            namespace.arn,
            namespace.name,
            HostedZoneId=namespace.dns_properties.get("HostedZoneId"),
        )


class DiscoveryServiceResource(_CloudMapResource):
    """``AWS::ServiceDiscovery::Service`` (patch 13)."""

    TYPE = DISCOVERY_SERVICE_TYPE
    ATTRIBUTES = ("Id", "Arn", "Name")

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> DiscoveryServiceResource:
        backend = servicediscovery_backends[account_id][region_name]
        template: Any = properties  # its values as written (None where unset), passed on to moto as they are
        dns_config = copy.deepcopy(template.get("DnsConfig") or {})
        namespace_id = template.get("NamespaceId") or dns_config.get("NamespaceId")
        service = backend.create_service(
            name=template.get("Name", name),
            namespace_id=namespace_id,  # type: ignore[arg-type]  # a missing id is moto's to reject, as AWS would
            creator_request_id=str(uuid.uuid4()),
            description=template.get("Description", ""),
            dns_config=dns_config,
            health_check_config=template.get("HealthCheckConfig"),
            health_check_custom_config=template.get("HealthCheckCustomConfig"),
            tags=_tags(template),
            service_type=template.get("Type"),
        )
        return cls.kept(backend.services, backend.delete_service, service.id, service.arn, service.name)


_model_map = parsing.get_model_map
_name_type_map = parsing.get_name_type_map
_ADDED_TYPES: dict[str, type[CloudFormationModel]] = {
    SECRET_TYPE: SecretResource,  # patch 11
    NAMESPACE_TYPE: NamespaceResource,
    DISCOVERY_SERVICE_TYPE: DiscoveryServiceResource,  # patch 13
    **cfn.ADDED_TYPES,  # patches 15-17, 21, 22, 24, 25, 31, 37, 38
}


def _model_map_with_secrets() -> dict[str, type[CloudFormationModel]]:
    return {**_model_map(), **_ADDED_TYPES}


def _name_type_map_with_secrets() -> dict[str, str]:
    return {**_name_type_map(), **{t: model.cloudformation_name_type() for t, model in _ADDED_TYPES.items()}}


IN_SYNC = "IN_SYNC"


def _detect_stack_drift(self: CloudFormationResponse) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))  # ValidationError if unknown
    if stack.status.startswith("DELETE"):
        raise ValidationError(stack.name)
    detection_id = str(uuid.uuid4())
    DRIFT_DETECTIONS[detection_id] = {"StackId": stack.stack_id, "Timestamp": utcnow()}
    return ActionResult({"StackDriftDetectionId": detection_id})


def _describe_stack_drift_detection_status(self: CloudFormationResponse) -> ActionResult:
    detection_id = self._get_param("StackDriftDetectionId")
    if detection_id not in DRIFT_DETECTIONS:
        raise ValidationError(message=f"Drift detection {detection_id} does not exist")
    detection = DRIFT_DETECTIONS[detection_id]
    return ActionResult(
        {
            **detection,
            "StackDriftDetectionId": detection_id,
            "StackDriftStatus": IN_SYNC,
            "DetectionStatus": "DETECTION_COMPLETE",
            "DriftedStackResourceCount": 0,
        }
    )


def _describe_stack_resource_drifts(self: CloudFormationResponse) -> ActionResult:
    stack, resources = self.cloudformation_backend.list_stack_resources(self._get_param("StackName"))
    wanted = self._get_param("StackResourceDriftStatusFilters", []) or [IN_SYNC, "MODIFIED", "DELETED", "NOT_CHECKED"]
    checked = max((d["Timestamp"] for d in DRIFT_DETECTIONS.values() if d["StackId"] == stack.stack_id), default=None)
    if checked is None:
        raise ValidationError(message=f"No drift detection has been run on stack {stack.name}")
    drifts = [
        {
            "StackId": stack.stack_id,
            # moto types the resources as model classes; they are instances, each with its logical id.
            "LogicalResourceId": resource.logical_resource_id,  # type: ignore[attr-defined]
            "PhysicalResourceId": getattr(resource, "physical_resource_id", "") or "",
            "ResourceType": getattr(resource, "cf_resource_type", ""),
            "StackResourceDriftStatus": IN_SYNC,
            "Timestamp": checked,
        }
        for resource in resources
        if getattr(resource, "logical_resource_id", None)
    ]
    return ActionResult({"StackResourceDrifts": [d for d in drifts if d["StackResourceDriftStatus"] in wanted]})


def end_waits() -> None:
    """End every Wait state the interpreter is in now (patch 39)."""
    with _WAITS:
        _WAITS.notify_all()


def _capped_wait(self: WaitFunction, env: Any, wait_seconds: int) -> None:
    with _WAITS:
        _WAITS.wait(min(wait_seconds, WAIT_CAP_SECONDS))


PATCHES = (  # (owner, attribute, replacement), in the order of the list above
    (parsing, "parse_and_create_resource", _create_or_record),
    (parsing, "clean_json", _clean_json_with_stack_outputs),
    (parsing, "parse_output", _parse_output_if_implemented),
    (parsing.ResourceMap, "validate_outputs", _validate_implemented_outputs),
    (SubnetRouteTableAssociation, "create_from_cloudformation_json", classmethod(_associate_too)),
    (DBParameterGroup, "physical_resource_id", property(_parameter_group_name)),
    (AutoScalingResponse, "complete_lifecycle_action", _complete_lifecycle_action),
    (KmsKey, "create_from_cloudformation_json", classmethod(_kms_key_with_cfn_tags)),
    (lambda_eval_utils, "_invoke_lambda_function", _invoke_routed),
    (
        state_task_service_ecs,
        "_SUPPORTED_API_PARAM_BINDINGS",
        {"runtask": state_task_service_ecs._SUPPORTED_API_PARAM_BINDINGS["runtask"] | {"CapacityProviderStrategy"}},
    ),
    (StateTaskServiceEcs, "_normalise_parameters", _normalise_ecs_parameters),
    (EcsBackend, "_calculate_task_resource_requirements", staticmethod(_task_requirements_without_container_sizes)),
    (StateTaskServiceEcs, "_normalise_response", _normalise_ecs_response),
    (parsing, "get_model_map", _model_map_with_secrets),
    (parsing, "get_name_type_map", _name_type_map_with_secrets),
    (CloudFormationResponse, "detect_stack_drift", _detect_stack_drift),
    (CloudFormationResponse, "describe_stack_drift_detection_status", _describe_stack_drift_detection_status),
    (CloudFormationResponse, "describe_stack_resource_drifts", _describe_stack_resource_drifts),
    (LogGroup, "create_from_cloudformation_json", classmethod(_log_group_with_kms_key)),
    *cfn.PATCHES,  # patches 18-20, 23, 25-30, 32-36
    (WaitFunction, "_wait_interval", _capped_wait),
)


def apply() -> None:
    """Install the patches (idempotent) and clear what they recorded."""
    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"local_emulator patches are written for moto {MOTO_VERSION}, found "
            f"{moto.__version__}: re-check each patch in {__file__} before changing the pin"
        )
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
    for record in (FAULTS, BLOCKED, SKIPPED_OUTPUTS, LIFECYCLE_ACTIONS, LAMBDA_ROUTES, DRIFT_DETECTIONS):
        record.clear()
