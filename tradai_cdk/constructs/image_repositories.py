"""ECR repositories for container images: immutable tags, scanned on push, only the newest images kept, retained."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr, aws_ecs as ecs
from constructs import Construct

from .ids import pascal


class ImageRepositories(Construct):
    """One repository per image (``repository_names``: image -> repository name), each keeping ``keep_images``."""

    def __init__(self, scope: Construct, construct_id: str, *, repository_names: Mapping[str, str], keep_images: int):
        super().__init__(scope, construct_id)
        self.repositories = {
            image: ecr.Repository(
                self,
                pascal(image),
                repository_name=repository_name,
                image_scan_on_push=True,
                image_tag_mutability=ecr.TagMutability.IMMUTABLE,
                removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,  # images outlive the stack
                lifecycle_rules=[ecr.LifecycleRule(description="Keep the newest images", max_image_count=keep_images)],
            )
            for image, repository_name in repository_names.items()
        }

    def image(self, name: str, tag: str) -> ecs.ContainerImage:
        """The container image ``name`` at ``tag``, pulled from its repository."""
        return ecs.ContainerImage.from_ecr_repository(self.repositories[name], tag=tag)
