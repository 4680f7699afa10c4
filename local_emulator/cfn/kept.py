"""Properties moto's CloudFormation drops for types it does implement (patches 18-20, 28-30, 33-36): each patch
runs moto's own creation (or its backend's create call with every property), then applies what it dropped
through the same backend, as the API would."""

from __future__ import annotations

from typing import Any

from moto.apigateway.models import RestAPI
from moto.autoscaling.models import FakeAutoScalingGroup, autoscaling_backends
from moto.core.utils import pascal_to_camelcase, remap_nested_keys
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.ecr.models import Repository, ecr_backends
from moto.ecs.models import Service, TaskDefinition, ecs_backends
from moto.elbv2.models import FakeLoadBalancer, elbv2_backends
from moto.rds.models import DBInstance
from moto.s3.models import FakeBucket, s3_backends
from moto.stepfunctions.models import StateMachine

from .base import then_apply


def _table(table: Table, properties: dict, account_id: str, region_name: str) -> None:
    """Patch 18: TimeToLiveSpecification, PointInTimeRecoverySpecification, and SSESpecification's
    ``SSEEnabled`` (moto reads the API's ``Enabled``, so SSE never showed)."""
    backend = dynamodb_backends[account_id][region_name]
    if "TimeToLiveSpecification" in properties:
        backend.update_time_to_live(table.name, properties["TimeToLiveSpecification"])
    pitr = properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
    if pitr is not None:
        backend.update_continuous_backups(table.name, {"PointInTimeRecoveryEnabled": pitr})
    if table.sse_specification and "SSEEnabled" in table.sse_specification:
        table.sse_specification["Enabled"] = table.sse_specification["SSEEnabled"]


def _repository(repository: Repository, properties: dict, account_id: str, region_name: str) -> None:
    """Patch 19: ImageScanningConfiguration's ``ScanOnPush`` (moto reads ``scanOnPush``) and LifecyclePolicy."""
    scan = properties.get("ImageScanningConfiguration", {})
    if "ScanOnPush" in scan:
        repository.image_scanning_configuration = {"scanOnPush": scan["ScanOnPush"]}
    policy = properties.get("LifecyclePolicy", {}).get("LifecyclePolicyText")
    if policy:
        ecr_backends[account_id][region_name].put_lifecycle_policy(repository.registry_id, repository.name, policy)


_TASK_SETTINGS = {  # CloudFormation property -> RegisterTaskDefinition argument moto's CloudFormation drops
    "NetworkMode": "network_mode",
    "RequiresCompatibilities": "requires_compatibilities",
    "Cpu": "cpu",
    "Memory": "memory",
    "TaskRoleArn": "task_role_arn",
    "ExecutionRoleArn": "execution_role_arn",
    "RuntimePlatform": "runtime_platform",
    "PlacementConstraints": "placement_constraints",
    "EphemeralStorage": "ephemeral_storage",
}


def _register_task_definition(cls, /, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    """Patch 20: register with every property (moto kept only family, containers, volumes and memory:
    no roles, network mode, compatibilities or task cpu)."""
    properties = cloudformation_json["Properties"]
    settings = {arg: properties[prop] for prop, arg in _TASK_SETTINGS.items() if prop in properties}
    for arg in ("runtime_platform", "placement_constraints", "ephemeral_storage"):
        if arg in settings:
            settings[arg] = remap_nested_keys(settings[arg], pascal_to_camelcase)
    return ecs_backends[account_id][region_name].register_task_definition(
        family=properties.get("Family", resource_name),
        container_definitions=remap_nested_keys(properties.get("ContainerDefinitions", []), pascal_to_camelcase),
        volumes=remap_nested_keys(properties.get("Volumes", []), pascal_to_camelcase),
        **settings,
    )


def _create_service(cls, /, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    """Patch 28: an ECS service with its service registries, load balancers, launch type, network
    configuration, scheduling strategy and tag propagation (moto kept only cluster, name, count and task)."""
    properties = cloudformation_json["Properties"]
    camel = {key: remap_nested_keys(properties[key], pascal_to_camelcase) for key in properties}
    return ecs_backends[account_id][region_name].create_service(
        properties["Cluster"],
        properties.get("ServiceName", resource_name),
        properties.get("DesiredCount"),
        task_definition_str=properties.get("TaskDefinition"),
        load_balancers=camel.get("LoadBalancers"),
        scheduling_strategy=properties.get("SchedulingStrategy"),
        launch_type=properties.get("LaunchType"),
        service_registries=camel.get("ServiceRegistries"),
        propagate_tags=properties.get("PropagateTags", "NONE"),
        network_configuration=camel.get("NetworkConfiguration"),
    )


def _state_machine(machine: StateMachine, properties: dict, account_id: str, region_name: str) -> None:
    """Patch 29: a state machine's LoggingConfiguration (moto dropped it)."""
    if "LoggingConfiguration" in properties:
        machine.loggingConfiguration = remap_nested_keys(properties["LoggingConfiguration"], pascal_to_camelcase)


def _bucket(bucket: FakeBucket, properties: dict, account_id: str, region_name: str) -> None:
    """Patch 30: a bucket's public access block, versioning, lifecycle rules and access logging (moto kept only
    encryption and tags). The logging target is set as given: moto's PutBucketLogging would first demand the
    target's policy, which CloudFormation may create later."""
    backend = s3_backends[account_id]["aws"]
    if "PublicAccessBlockConfiguration" in properties:
        backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
    if properties.get("VersioningConfiguration", {}).get("Status"):
        backend.put_bucket_versioning(bucket.name, properties["VersioningConfiguration"]["Status"])
    rules = properties.get("LifecycleConfiguration", {}).get("Rules")
    if rules:
        bucket.set_lifecycle([_lifecycle_rule(rule) for rule in rules])
    logging = properties.get("LoggingConfiguration")
    if logging:
        bucket.logging = {
            "TargetBucket": logging["DestinationBucketName"],
            "TargetPrefix": logging.get("LogFilePrefix", ""),
        }


def _lifecycle_rule(rule: dict) -> dict:
    """A CloudFormation lifecycle rule in the API's (XML) shape moto parses."""
    shaped: dict[str, Any] = {
        "ID": rule.get("Id"),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        shaped["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "Transitions" in rule:
        shaped["Transition"] = [
            {"Days": t["TransitionInDays"], "StorageClass": t["StorageClass"]} for t in rule["Transitions"]
        ]
    if "NoncurrentVersionExpiration" in rule:
        shaped["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        }
    if "AbortIncompleteMultipartUpload" in rule:
        shaped["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return shaped


def _lifecycle_hooks(group: FakeAutoScalingGroup, properties: dict, account_id: str, region_name: str) -> None:
    """Patch 33: an Auto Scaling group's LifecycleHookSpecificationList (moto ignored it; hooks are only
    recorded, as PutLifecycleHook records them)."""
    backend = autoscaling_backends[account_id][region_name]
    for hook in properties.get("LifecycleHookSpecificationList", []):
        backend.create_lifecycle_hook(
            hook["LifecycleHookName"],
            group.name,
            hook["LifecycleTransition"],
            int(hook["HeartbeatTimeout"]) if "HeartbeatTimeout" in hook else None,
            hook.get("DefaultResult", "ABANDON"),
        )


def _db_instance(db: DBInstance, properties: dict, account_id: str, region_name: str) -> None:
    """Patch 34: a DB instance's log exports and enhanced monitoring (interval and role; moto dropped them)."""
    db.enabled_cloudwatch_logs_exports = list(properties.get("EnableCloudwatchLogsExports", []))
    if "MonitoringRoleArn" in properties:
        db.monitoring_role_arn = properties["MonitoringRoleArn"]
        db.monitoring_interval = int(properties.get("MonitoringInterval", 0))


def _endpoint_types(api: RestAPI, properties: dict, account_id: str, region_name: str) -> None:
    """Patch 35: a REST API's endpoint types (moto read ``types``, CloudFormation spells ``Types``)."""
    if "Types" in properties.get("EndpointConfiguration", {}):
        api.endpoint_configuration = {"types": properties["EndpointConfiguration"]["Types"]}


def _balancer_attributes(balancer: FakeLoadBalancer, properties: dict, account_id: str, region_name: str) -> None:
    """Patch 36: a load balancer's LoadBalancerAttributes (moto dropped them)."""
    attributes = {a["Key"]: a["Value"] for a in properties.get("LoadBalancerAttributes", [])}
    if attributes:
        elbv2_backends[account_id][region_name].modify_load_balancer_attributes(balancer.arn, attributes)


PATCHES = (
    (Table, "create_from_cloudformation_json", then_apply(Table, _table)),
    (Repository, "create_from_cloudformation_json", then_apply(Repository, _repository)),
    (TaskDefinition, "create_from_cloudformation_json", classmethod(_register_task_definition)),
    (Service, "create_from_cloudformation_json", classmethod(_create_service)),
    (StateMachine, "create_from_cloudformation_json", then_apply(StateMachine, _state_machine)),
    (FakeBucket, "create_from_cloudformation_json", then_apply(FakeBucket, _bucket)),
    (FakeAutoScalingGroup, "create_from_cloudformation_json", then_apply(FakeAutoScalingGroup, _lifecycle_hooks)),
    (DBInstance, "create_from_cloudformation_json", then_apply(DBInstance, _db_instance)),
    (RestAPI, "create_from_cloudformation_json", then_apply(RestAPI, _endpoint_types)),
    (FakeLoadBalancer, "create_from_cloudformation_json", then_apply(FakeLoadBalancer, _balancer_attributes)),
)
