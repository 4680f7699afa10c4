"""Read the stacks of one stage from a synthesized cloud assembly (``cdk synth`` output)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StackArtifact:
    """One synthesized stack: its construct id (``Foundation``), stack name and template."""

    construct_id: str
    stack_name: str
    template: dict
    directory: Path

    @property
    def resources(self) -> dict[str, dict]:
        return self.template.get("Resources", {})


def stage_stacks(assembly_dir: Path, stage: str) -> list[StackArtifact]:
    """The stacks of ``stage`` in manifest order."""
    root = _manifest(assembly_dir)["artifacts"]
    nested = next(
        a for a in root.values() if a["type"] == "cdk:cloud-assembly" and a["properties"].get("displayName") == stage
    )
    directory = assembly_dir / nested["properties"]["directoryName"]
    stacks = []
    for artifact in _manifest(directory)["artifacts"].values():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        props = artifact["properties"]
        template = json.loads((directory / props["templateFile"]).read_text())
        stacks.append(StackArtifact(artifact["displayName"].split("/")[-1], props["stackName"], template, directory))
    return stacks


def _manifest(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text())
