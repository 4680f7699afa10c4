"""Compute tier: the Cloud Map namespace is ``cfg.namespace`` in the VPC, each discovery service is a
``cfg.service_discovery`` entry in it, and each ECS service runs its config entry's task definition in
the cluster at the profile's desired count, registered under its own name in that namespace."""

from __future__ import annotations

from .compute import HOST_CAPACITY, HOST_GROUP, cluster_name, cluster_providers
from .model import CheckContext, Findings, StackView


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    cfg, cloudmap = ctx.cfg, ctx.client("servicediscovery")
    namespace_ids = set()
    for resource in view.of_type("AWS::ServiceDiscovery::PrivateDnsNamespace"):
        namespace = cloudmap.get_namespace(Id=resource.physical_id)["Namespace"]
        namespace_ids.add(namespace["Id"])
        findings.expect(
            resource.logical_id, "name, type", (cfg.namespace, "DNS_PRIVATE"), (namespace["Name"], namespace["Type"])
        )
    entries = {entry.name for entry in cfg.service_discovery}
    registries = {}  # discovery service ARN -> its name, if it is a config entry in the config's namespace
    for resource in view.of_type("AWS::ServiceDiscovery::Service"):
        service = cloudmap.get_service(Id=resource.physical_id)["Service"]
        in_namespace = service["NamespaceId"] in namespace_ids
        findings.holds(
            resource.logical_id,
            f"{service['Name']} is a service discovery entry in {cfg.namespace}",
            service["Name"] in entries and in_namespace,
            f"{service['Name']} in namespace {service['NamespaceId']}",
        )
        if in_namespace:
            registries[service["Arn"]] = service["Name"]
    services = view.of_type("AWS::ECS::Service")
    if not services:
        return
    specs = {cfg.naming.name(spec.name): spec for spec in cfg.services}
    described = ctx.client("ecs").describe_services(
        cluster=cluster_name(cfg), services=[s.physical_id for s in services]
    )["services"]
    by_arn = {s["serviceArn"]: s for s in described} | {s["serviceName"]: s for s in described}
    for resource in services:
        service = by_arn.get(resource.physical_id)
        if service is None or service["serviceName"] not in specs:
            findings.fail(resource.logical_id, "service", "a config service in the cluster", resource.physical_id)
            continue
        spec = specs[service["serviceName"]]
        lid = resource.logical_id
        family = service["taskDefinition"].split("/")[-1].rsplit(":", 1)[0]
        findings.expect(lid, "task definition family", cfg.naming.name(spec.name), family)
        findings.expect(lid, "desired count", cfg.profile.service_desired_count, service["desiredCount"])
        registered = [registries.get(r["registryArn"]) for r in service.get("serviceRegistries", [])]
        findings.expect(lid, f"registered in {cfg.namespace} as", [spec.name], registered)


def check_capacity(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    """The shared host's capacity provider is named after the config and scales the host group; the
    cluster's capacity providers are the ones the config's workloads run on."""
    cfg, ecs = ctx.cfg, ctx.client("ecs")
    for resource in view.of_type("AWS::ECS::CapacityProvider"):
        [provider] = ecs.describe_capacity_providers(capacityProviders=[resource.physical_id])["capacityProviders"]
        group = provider["autoScalingGroupProvider"]["autoScalingGroupArn"].split("/")[-1]
        findings.expect(
            resource.logical_id,
            "(name, Auto Scaling group)",
            (cfg.naming.name(HOST_CAPACITY), cfg.naming.name(HOST_GROUP)),
            (provider["name"], group),
        )
    providers = cluster_providers(cfg)
    for association in view.of_type("AWS::ECS::ClusterCapacityProviderAssociations"):
        [cluster] = ecs.describe_clusters(clusters=[cluster_name(cfg)])["clusters"]
        findings.expect(
            association.logical_id,
            "cluster capacity providers",
            sorted(providers),
            sorted(cluster["capacityProviders"]),
        )
