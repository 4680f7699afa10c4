"""Each synthesized stack against CloudFormation's limits, and the size of each asset, read from a cloud assembly."""

from __future__ import annotations

import json
from pathlib import Path

# CloudFormation quotas per stack. CDK uploads templates to S3 first, so 1 MB (not 51,200 bytes) is the bound.
LIMITS = {"resources": 500, "outputs": 200, "parameters": 200, "template_bytes": 1_048_576}
DIRECT_UPLOAD_BYTES = 51_200  # a template passed inline (--template-body) may not exceed this
STACK = "aws:cloudformation:stack"


def template_usage(template: dict, size: int) -> dict:
    """Counts of one template (``size``: its bytes) and each one's share of its limit in percent."""
    counts = {
        "resources": len(template.get("Resources", {})),
        "outputs": len(template.get("Outputs", {})),
        "parameters": len(template.get("Parameters", {})),
        "template_bytes": size,
    }
    percent = {key: round(100 * value / LIMITS[key], 1) for key, value in counts.items()}
    return {
        **counts,
        "percent": percent,
        "max_percent": max(percent.values()),
        "over_direct_upload": size > DIRECT_UPLOAD_BYTES,
    }


def stage_dirs(assembly: Path) -> dict[str, Path]:
    """Stage display name -> its nested assembly directory."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    return {
        artifact["properties"].get("displayName", name): assembly / artifact["properties"]["directoryName"]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "cdk:cloud-assembly"
    }


def stacks(stage_dir: Path) -> list[dict]:
    """The stack artifacts of one stage's manifest: name, template path, environment."""
    manifest = json.loads((stage_dir / "manifest.json").read_text())
    return [
        {
            "id": name,
            "name": artifact["properties"].get("stackName", name),
            "template": stage_dir / artifact["properties"]["templateFile"],
            "environment": artifact["environment"],
        }
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == STACK
    ]


def stack_usage(assembly: Path) -> list[dict]:
    """One row per stage and stack."""
    rows = []
    for stage, directory in stage_dirs(assembly).items():
        for stack in stacks(directory):
            path = stack["template"]
            rows.append(
                {
                    "stage": stage,
                    "stack": stack["name"],
                    **template_usage(json.loads(path.read_text()), path.stat().st_size),
                }
            )
    return rows


def assets(assembly: Path) -> list[dict]:
    """Every file asset other than the templates, once, with the stacks that use it."""
    found: dict[str, dict] = {}
    for directory in stage_dirs(assembly).values():
        for manifest in sorted(directory.glob("*.assets.json")):
            for asset_id, asset in json.loads(manifest.read_text()).get("files", {}).items():
                source = asset["source"]["path"]
                if source.endswith(".template.json"):
                    continue
                row = found.setdefault(
                    asset_id,
                    {
                        "id": asset_id[:12],
                        "name": asset.get("displayName", ""),
                        "packaging": asset["source"].get("packaging", "file"),
                        **path_size((directory / source).resolve()),
                        "used_by": 0,
                    },
                )
                row["used_by"] += 1
    return sorted(found.values(), key=lambda row: -row["bytes"])


def path_size(path: Path) -> dict:
    """Bytes and files of a file or folder; for a folder also its three largest top-level entries."""
    if path.is_file():
        return {"bytes": path.stat().st_size, "files": 1, "largest": []}
    entries = {child.name: _tree_bytes(child) for child in path.iterdir()}
    largest = sorted(entries.items(), key=lambda item: -item[1])[:3]
    return {
        "bytes": sum(entries.values()),
        "files": sum(1 for p in path.rglob("*") if p.is_file()),
        "largest": [{"name": name, "bytes": size} for name, size in largest],
    }


def _tree_bytes(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
