"""ECS capacity (patches 31 and 32): ``AWS::ECS::CapacityProvider`` and
``AWS::ECS::ClusterCapacityProviderAssociations`` in moto's ECS backend (31); a cluster keeps its
``ClusterSettings`` (Container Insights), which moto's CloudFormation dropped (32)."""

from __future__ import annotations

from moto.core.utils import pascal_to_camelcase, remap_nested_keys
from moto.ecs.models import Cluster, ecs_backends

from .base import AddedResource, then_apply


class CapacityProvider(AddedResource):
    TYPE = "AWS::ECS::CapacityProvider"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> CapacityProvider:
        backend = ecs_backends[account_id][region_name]
        asg = remap_nested_keys(properties.get("AutoScalingGroupProvider", {}), pascal_to_camelcase)
        tags = [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags", [])]
        backend.create_capacity_provider(name, asg, tags)
        return cls(name, undo=lambda: backend.capacity_providers.pop(name, None))


class ClusterCapacityProviderAssociations(AddedResource):
    TYPE = "AWS::ECS::ClusterCapacityProviderAssociations"

    @classmethod
    def create(
        cls, name: str, properties: dict, account_id: str, region_name: str
    ) -> ClusterCapacityProviderAssociations:
        backend, cluster = ecs_backends[account_id][region_name], properties["Cluster"]
        strategy = remap_nested_keys(properties.get("DefaultCapacityProviderStrategy", []), pascal_to_camelcase)
        backend.put_cluster_capacity_providers(cluster, properties["CapacityProviders"], strategy)
        return cls(
            cluster,
            undo=lambda: cluster in backend.clusters and backend.put_cluster_capacity_providers(cluster, [], []),
        )


def _settings(cluster: Cluster, properties: dict, account_id: str, region_name: str) -> None:
    if "ClusterSettings" in properties:
        cluster.settings = [{"name": s["Name"], "value": s["Value"]} for s in properties["ClusterSettings"]]


MODELS = (CapacityProvider, ClusterCapacityProviderAssociations)
PATCHES = ((Cluster, "create_from_cloudformation_json", then_apply(Cluster, _settings)),)
