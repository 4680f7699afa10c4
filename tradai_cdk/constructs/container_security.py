"""How every TradAI container runs: as a non-root user, on a read-only root filesystem with only the declared
writable paths as task-scoped scratch volumes, with all Linux capabilities dropped and an init process."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_ecs as ecs
from constructs import Construct

ROOT_USERS = ("0", "root")


@dataclass(frozen=True)
class ContainerSecurity:
    user: str  # "uid:gid"
    writable_paths: Sequence[str]

    def __post_init__(self) -> None:
        if self.user.split(":")[0] in ROOT_USERS:
            raise ValueError(f"user={self.user!r}: containers never run as root; allowed: a non-zero uid[:gid]")
        if not self.writable_paths or any(not p.startswith("/") for p in self.writable_paths):
            raise ValueError(f"writable_paths={list(self.writable_paths)!r}; allowed: absolute paths, at least /tmp")


def hardened_options(scope: Construct, security: ContainerSecurity, *, on_ec2: bool) -> dict[str, Any]:
    """Container options for ``add_container``; no-new-privileges exists only on EC2 (Fargate rejects it)."""
    linux = ecs.LinuxParameters(scope, "LinuxParameters", init_process_enabled=True)
    linux.drop_capabilities(ecs.Capability.ALL)
    options: dict[str, Any] = dict(
        user=security.user, readonly_root_filesystem=True, linux_parameters=linux, privileged=False
    )
    if on_ec2:
        options["docker_security_options"] = ["no-new-privileges"]
    return options


def mount_writable_paths(
    task_definition: ecs.TaskDefinition, container: ecs.ContainerDefinition, security: ContainerSecurity
) -> None:
    """One scratch volume per writable path (Fargate ephemeral storage; a task-scoped Docker volume on EC2)."""
    for index, path in enumerate(security.writable_paths):
        name = f"writable-{index}"
        task_definition.add_volume(name=name)
        container.add_mount_points(ecs.MountPoint(container_path=path, source_volume=name, read_only=False))
