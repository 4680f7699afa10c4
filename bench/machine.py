"""The machine and tool versions a run was taken on, and how loaded the machine was."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata

from bench.proc import ROOT


def describe() -> dict:
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(_meminfo_kib("MemTotal") / 1024 / 1024, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "node": _output(["node", "--version"]),
        "cdk_cli": _output([str(ROOT / "node_modules/.bin/cdk"), "--version"]),
        "aws_cdk_lib": metadata.version("aws-cdk-lib"),
        "jsii": metadata.version("jsii"),
        "commit": _output(["git", "rev-parse", "--short=12", "HEAD"]),
        "dirty": bool(_output(["git", "status", "--porcelain", "--untracked-files=no"])),
    }


def load() -> float:
    """The one-minute load average."""
    return os.getloadavg()[0]


def _meminfo_kib(field: str) -> int:
    with open("/proc/meminfo") as meminfo:
        return next(int(line.split()[1]) for line in meminfo if line.startswith(field + ":"))


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        return next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), platform.processor()
        )


def _output(command: list[str]) -> str:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
