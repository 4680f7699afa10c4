"""Compute tier: ECS cluster and task definitions, backtest queues, ECR, ALB routing, the shared EC2 host.

ECS services, Cloud Map and capacity providers are checked in ``services.py``; task definitions, services,
capacity providers and the cluster's settings are kept through harness patches 20, 28, 31 and 32.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tradai_cdk.config import TradaiConfig
from tradai_cdk.config.model import ComputeMode, ConsolidatedHost, QueueSpec, ServiceSpec, SubnetTier, TaskSpec

from .model import CheckContext, Findings, Resource, StackView, check_launch_template, named, optional
from .persistent import LOGS_BUCKET, check_log_groups, tier_subnet_ids

# What the compute stack builds around the config, and how ECS and the ALB spell it.
HOST_GROUP = "ecs-host"
HOST_CAPACITY = "ecs-host-capacity"
ALB_LOG_PREFIX = "alb"
ALB_SCHEMES = {True: "internet-facing", False: "internal"}
CONTAINER_INSIGHTS = "containerInsights"
BRIDGE, AWSVPC = "bridge", "awsvpc"  # moto reports bridge when it drops NetworkMode
EC2, FARGATE = "EC2", "FARGATE"


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    """Compare the Compute stack with ``cfg.compute``, ``cfg.services``, ``cfg.on_demand_tasks``,
    the backtest queues and the profile's shared host."""
    _cluster(view, ctx, findings)
    families = _task_definitions(view, ctx, findings)
    check_log_groups(view, ctx, findings, [f"/ecs/{family}" for family in families])
    _queues(view, ctx, findings)
    _repositories(view, ctx, findings)
    _load_balancer(view, ctx, findings)
    _shared_host(view, ctx, findings)


def task_families(cfg: TradaiConfig) -> dict[str, ServiceSpec | TaskSpec]:
    """Task definition family -> the service or on-demand task it runs."""
    prefix = cfg.task_family_prefix
    return {
        **{cfg.naming.name(spec.name): spec for spec in cfg.services},
        **{f"{prefix}{task.name.removeprefix(prefix)}-{cfg.env}": task for task in cfg.on_demand_tasks},
    }


def strategy_environment(cfg: TradaiConfig) -> dict[str, str]:
    """Spec 2.5's variables of every on-demand task, from the config."""
    mlflow = cfg.service("mlflow")
    return {
        **dict(cfg.compute.strategy_env_defaults),
        "DYNAMODB_TABLE": cfg.naming.name("workflow-state"),
        "S3_RESULTS_BUCKET": cfg.naming.name("results"),
        "ARCTICDB_S3_URI": f"s3://{cfg.naming.name('arcticdb')}",
        "MLFLOW_TRACKING_URI": f"http://{mlflow.name}.{cfg.namespace}:{mlflow.port}{cfg.compute.mlflow_base_path}",
    }


def cluster_name(cfg: TradaiConfig) -> str:
    return f"{cfg.naming.project}-{cfg.env}"


def cluster_providers(cfg: TradaiConfig) -> set[str]:
    """Every capacity provider a workload runs on: the services' (the shared host's in dev) and the tasks'."""
    services = cfg.naming.name(HOST_CAPACITY) if cfg.profile.compute_mode is ComputeMode.CONSOLIDATED_EC2 else FARGATE
    return {services} | {task.capacity_provider for task in cfg.on_demand_tasks}


def queue_name(cfg: TradaiConfig, spec: QueueSpec) -> str:
    return cfg.naming.name(spec.base_name) + (".fifo" if spec.fifo else "")


def queue_attributes(spec: QueueSpec) -> dict[str, str]:
    """The SQS attributes a queue entry sets, spelled as GetQueueAttributes answers them."""
    values: dict[str, Any] = {
        "MessageRetentionPeriod": spec.retention_seconds,
        "VisibilityTimeout": spec.visibility_timeout_seconds,
        "ReceiveMessageWaitTimeSeconds": spec.receive_wait_seconds,
    }
    if spec.fifo:
        values.update(FifoQueue=True, ContentBasedDeduplication=spec.content_based_deduplication)
    return {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in values.items()
        if value is not None
    }


def kept_images(policy_text: str | None) -> int | None:
    """How many images an ECR lifecycle policy keeps (its imageCountMoreThan rule); None without one."""
    rules = json.loads(policy_text).get("rules", []) if policy_text else []
    return next(
        (
            r["selection"]["countNumber"]
            for r in rules
            if r.get("selection", {}).get("countType") == "imageCountMoreThan"
        ),
        None,
    )


def _cluster(view, ctx, findings) -> None:
    cfg, ecs = ctx.cfg, ctx.client("ecs")
    name = cluster_name(cfg)
    providers = cluster_providers(cfg)
    for resource in named(view, findings, "AWS::ECS::Cluster", "ClusterName", [name]).values():
        cluster = ecs.describe_clusters(clusters=[name], include=["SETTINGS"])["clusters"][0]
        settings = {s["name"]: s["value"] for s in cluster.get("settings", [])}
        declared = {s["Name"]: s["Value"] for s in resource.properties.get("ClusterSettings", [])}
        # moto's CloudFormation ignores ClusterSettings (reporting insights disabled); it builds neither
        # capacity providers nor their association with the cluster.
        findings.applied(
            resource.logical_id,
            CONTAINER_INSIGHTS,
            "enabled" if cfg.compute.container_insights else "disabled",
            settings.get(CONTAINER_INSIGHTS),
            declared.get(CONTAINER_INSIGHTS),
            unset="disabled",
        )
        findings.applied(
            resource.logical_id,
            "capacity providers",
            sorted(providers),
            sorted(cluster.get("capacityProviders", [])),
            _declared_providers(view, resource),
            unset=[],
        )


def _declared_providers(view: StackView, cluster: Resource) -> list[str]:
    """The template's capacity providers of ``cluster``; one of the stack's own by its Name."""
    names: dict[str, Any] = {
        r.logical_id: r.properties.get("Name") for r in view.declared("AWS::ECS::CapacityProvider")
    }
    return sorted(
        names.get(p["Ref"], str(p)) if isinstance(p, dict) else p
        for a in view.declared("AWS::ECS::ClusterCapacityProviderAssociations")
        if a.properties.get("Cluster") == {"Ref": cluster.logical_id}
        for p in a.properties.get("CapacityProviders", [])
    )


def _task_definitions(view, ctx, findings) -> list[str]:
    """Check every task definition the emulator built; return all families of the config."""
    cfg, ecs = ctx.cfg, ctx.client("ecs")
    host = cfg.profile.consolidated_host
    specs = task_families(cfg)
    for family, resource in named(view, findings, "AWS::ECS::TaskDefinition", "Family", specs).items():
        spec, lid = specs[family], resource.logical_id
        definition = ecs.describe_task_definition(taskDefinition=resource.physical_id)["taskDefinition"]
        containers = definition["containerDefinitions"]
        if isinstance(spec, TaskSpec):
            _placement(findings, resource, definition, spec, fargate=True)
            findings.matches(
                lid,
                "environment",
                strategy_environment(cfg),
                {e["name"]: e["value"] for e in containers[0].get("environment", [])},
            )
        else:
            _placement(findings, resource, definition, spec, fargate=host is None)
            _service_container(findings, lid, spec, host, next((c for c in containers if c["name"] == spec.name), {}))
    return list(specs)


def _placement(
    findings: Findings, resource: Resource, definition: dict, spec: ServiceSpec | TaskSpec, fargate: bool
) -> None:
    """Network mode and launch type; a Fargate task is sized on the task (kept through patch 20)."""
    lid = resource.logical_id
    findings.expect(lid, "network mode", AWSVPC if fargate else BRIDGE, definition.get("networkMode"))
    findings.expect(
        lid, "requires compatibilities", [FARGATE if fargate else EC2], definition.get("requiresCompatibilities")
    )
    if fargate:
        findings.expect(lid, "task cpu", str(spec.cpu), definition.get("cpu"))
        findings.expect(lid, "task memory MiB", str(spec.memory_mib), definition.get("memory"))


def _service_container(
    findings: Findings, lid: str, spec: ServiceSpec, host: ConsolidatedHost | None, container: dict
) -> None:
    """On the shared host a container has the service's cpu, memory as hard limit and a soft reservation."""
    if host:
        findings.matches(
            lid,
            f"container {spec.name}",
            {"cpu": spec.cpu, "memory": spec.memory_mib, "memoryReservation": host.reservation(spec.name)},
            container,
        )
    findings.expect(
        lid,
        "port mappings (container, host)",
        [(spec.port, spec.port)],
        [(m.get("containerPort"), m.get("hostPort")) for m in container.get("portMappings", [])],
    )
    probe = f":{spec.port}{spec.health_check_path}"
    command = " ".join(container.get("healthCheck", {}).get("command", []))
    findings.holds(lid, f"health check probes {probe}", probe in command, command or "no health check")


def _queues(view, ctx, findings) -> None:
    cfg, sqs = ctx.cfg, ctx.client("sqs")
    queue, dlq = cfg.backtest_queue, cfg.backtest_dlq
    specs = {queue_name(cfg, spec): spec for spec in (queue, dlq)}
    for name, resource in named(view, findings, "AWS::SQS::Queue", "QueueName", specs).items():
        attributes = sqs.get_queue_attributes(
            QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], AttributeNames=["All"]
        )["Attributes"]
        findings.matches(resource.logical_id, "attributes", queue_attributes(specs[name]), attributes)
        if name == queue_name(cfg, queue):
            policy = json.loads(attributes.get("RedrivePolicy", "{}"))
            findings.expect(
                resource.logical_id,
                "redrive (DLQ, maxReceiveCount)",
                (queue_name(cfg, dlq), dlq.max_receive_count),
                (policy.get("deadLetterTargetArn", "").split(":")[-1], policy.get("maxReceiveCount")),
            )


def _repositories(view, ctx, findings) -> None:
    cfg, ecr = ctx.cfg, ctx.client("ecr")
    names = [
        cfg.naming.name(image)
        for image in sorted({s.image for s in cfg.services} | {t.image for t in cfg.on_demand_tasks})
    ]
    for name, resource in named(view, findings, "AWS::ECR::Repository", "RepositoryName", names).items():
        lid = resource.logical_id
        repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        # moto keeps scan on push and the lifecycle policy through patch 19.
        findings.expect(lid, "scan on push", True, repository.get("imageScanningConfiguration", {}).get("scanOnPush"))
        findings.expect(lid, "tag mutability", "IMMUTABLE", repository.get("imageTagMutability"))
        policy = optional(ecr.get_lifecycle_policy, "LifecyclePolicyNotFoundException", repositoryName=name)
        findings.expect(
            lid,
            "lifecycle keeps images",
            cfg.compute.ecr_keep_images,
            kept_images(policy["lifecyclePolicyText"] if policy else None),
        )


def _load_balancer(view, ctx, findings) -> None:
    cfg, elbv2 = ctx.cfg, ctx.client("elbv2")
    balancers = view.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
    if len(balancers) != 1:
        findings.fail(None, "load balancers in the stack", 1, len(balancers))
        return
    alb = balancers[0]
    lid = alb.logical_id
    described = elbv2.describe_load_balancers(LoadBalancerArns=[alb.physical_id])["LoadBalancers"][0]
    findings.expect(lid, "scheme", ALB_SCHEMES[cfg.compute.alb_internet_facing], described["Scheme"])
    findings.expect(
        lid,
        "subnets (public)",
        tier_subnet_ids(ctx, SubnetTier.PUBLIC),
        sorted(z["SubnetId"] for z in described["AvailabilityZones"]),
    )
    findings.expect(
        lid, f"security groups [{cfg.security_group('alb').name}]", [_group_id(ctx, "alb")], described["SecurityGroups"]
    )
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=alb.physical_id)["Attributes"]
    }
    declared = {a["Key"]: a["Value"] for a in alb.properties.get("LoadBalancerAttributes", [])}
    # LoadBalancerAttributes are kept through patch 36 (else access_logs.* read as empty).
    for key, expected in {
        "access_logs.s3.enabled": "true",
        "access_logs.s3.bucket": cfg.naming.name(LOGS_BUCKET),
        "access_logs.s3.prefix": ALB_LOG_PREFIX,
    }.items():
        findings.applied(lid, key, expected, attributes.get(key) or None, declared.get(key))
    _listener(view, ctx, findings, alb.physical_id, _target_groups(view, ctx, findings))


def _target_groups(view, ctx, findings) -> dict[str, str]:
    """Check each service's target group (found by its port); return service names by target group ARN."""
    cfg, elbv2 = ctx.cfg, ctx.client("elbv2")
    specs = {spec.port: spec for spec in cfg.services if spec.name in cfg.api_backed_services}
    found = named(view, findings, "AWS::ElasticLoadBalancingV2::TargetGroup", "Port", specs)
    for port, resource in found.items():
        group = elbv2.describe_target_groups(TargetGroupArns=[resource.physical_id])["TargetGroups"][0]
        findings.matches(
            resource.logical_id,
            "target group",
            {
                "Port": port,
                "HealthCheckPath": specs[port].health_check_path,
                "TargetType": "ip" if cfg.profile.consolidated_host is None else "instance",
            },
            group,
        )
    return {resource.physical_id: specs[port].name for port, resource in found.items()}


def _listener(view, ctx, findings, alb_arn: str, services: dict[str, str]) -> None:
    """The ALB's listener forwards to every service's target group: one by default, the rest by rule."""
    cfg, elbv2 = ctx.cfg, ctx.client("elbv2")
    protocol, port = ("HTTPS", 443) if cfg.profile.certificate_arn else ("HTTP", 80)
    rule_rows = view.by_physical_id("AWS::ElasticLoadBalancingV2::ListenerRule")
    for resource in named(view, findings, "AWS::ElasticLoadBalancingV2::Listener", "Port", [port]).values():
        listener = elbv2.describe_listeners(ListenerArns=[resource.physical_id])["Listeners"][0]
        findings.expect(resource.logical_id, "protocol", protocol, listener["Protocol"])
        findings.holds(
            resource.logical_id, "on the ALB", listener["LoadBalancerArn"] == alb_arn, listener["LoadBalancerArn"]
        )
        rules = elbv2.describe_rules(ListenerArn=resource.physical_id)["Rules"]
        targets = {
            r["RuleArn"]: [
                services.get(a.get("TargetGroupArn"), a.get("TargetGroupArn"))
                for a in r["Actions"]
                if a["Type"] == "forward"
            ]
            for r in rules
        }
        findings.expect(
            resource.logical_id,
            "forwards to",
            sorted(cfg.api_backed_services),
            sorted(t for names in targets.values() for t in names),
        )
        for arn, names in targets.items():
            if arn in rule_rows:
                findings.holds(
                    rule_rows[arn].logical_id,
                    f"forwards to {', '.join(map(str, names))}",
                    len(names) == 1 and names[0] in services.values(),
                    names,
                )


def _shared_host(view, ctx, findings) -> None:
    """Dev/staging's one EC2 host: private subnets, instance type, AMI, IMDSv2, ECS agent settings."""
    cfg, host = ctx.cfg, ctx.cfg.profile.consolidated_host
    if host is None:
        return
    name = cfg.naming.name(HOST_GROUP)
    for resource in named(
        view, findings, "AWS::AutoScaling::AutoScalingGroup", "AutoScalingGroupName", [name]
    ).values():
        group = ctx.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ][0]
        findings.expect(
            resource.logical_id,
            "subnets (private)",
            tier_subnet_ids(ctx, SubnetTier.PRIVATE),
            sorted(group["VPCZoneIdentifier"].split(",")),
        )
        _launch_template(view, ctx, findings, group["LaunchTemplate"], host)


def _launch_template(view, ctx, findings, spec: dict, host: ConsolidatedHost) -> None:
    checked = check_launch_template(
        view,
        ctx,
        findings,
        spec,
        owner="shared host",
        instance_type=host.instance_type,
        ami_parameter=host.ami_ssm_parameter,
    )
    if checked is None:
        return
    lid, data = checked
    ecs_group = ctx.cfg.security_group("ecs").name
    findings.expect(lid, f"security groups ({ecs_group})", [_group_id(ctx, "ecs")], data.get("SecurityGroupIds"))
    user_data = base64.b64decode(data.get("UserData", "")).decode()
    settings = [f"ECS_CLUSTER={cluster_name(ctx.cfg)}", f"ECS_RESERVED_MEMORY={host.ecs_reserved_memory_mib}"]
    findings.holds(
        lid, f"user data sets {', '.join(settings)}", all(setting in user_data for setting in settings), user_data
    )


def _group_id(ctx: CheckContext, key: str) -> str | None:
    """The id of the config's security group ``key``, found by its name."""
    groups = ctx.client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [ctx.cfg.security_group(key).name]}]
    )["SecurityGroups"]
    return groups[0]["GroupId"] if groups else None
