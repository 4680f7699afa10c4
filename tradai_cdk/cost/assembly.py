"""Reading a synthesized cloud assembly (``cdk synth`` output): each environment's stacks."""

from __future__ import annotations

import json
from pathlib import Path

from tradai_cdk.config import ENVIRONMENTS

from .model import Stack


def load_assembly(outdir: Path) -> dict[str, list[Stack]]:
    """Environment -> its stacks, from every ``outdir/assembly-*/`` stage (an environment without one has none).

    Stacks are named ``tradai-<tier>-<env>``; the name gives both.
    """
    stacks: dict[str, list[Stack]] = {env: [] for env in ENVIRONMENTS}
    for manifest in sorted(Path(outdir).glob("assembly-*/manifest.json")):
        for artifact in json.loads(manifest.read_text())["artifacts"].values():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            _, tier, env = artifact["properties"]["stackName"].split("-")
            template = json.loads((manifest.parent / artifact["properties"]["templateFile"]).read_text())
            stacks.setdefault(env, []).append(Stack(env, tier, template.get("Resources", {})))
    return stacks
