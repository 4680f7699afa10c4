"""Cold import time of each Lambda handler module next to a bare `import boto3`, and what it imports beyond boto3.

The handler modules are read from the synthesized templates (each AWS::Lambda::Function's ``Handler`` whose module
is in the handlers' code asset), so the list follows the app, and they are imported from that asset, as deployed
(with the bytecode it ships; nothing is written, as Lambda's code directory is read-only). Settings are read at
first invocation, not at import; what is read at import is Powertools' configuration, so each module is imported
with its function's literal environment variables and the variables Lambda sets (``LAMBDA_TASK_ROOT`` turns
Powertools' tracer on, as in Lambda).
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from bench import proc
from bench.limits import stacks, stage_dirs

BASELINE = "boto3"
TIMER = (
    "import importlib, sys, time\nt = time.perf_counter()\nimportlib.import_module(sys.argv[1])\n"
    "print(time.perf_counter() - t)"
)
SAMPLES_PER_RUN = 3  # an import takes ~0.2 s and varies by tens of ms from one interpreter to the next
IMPORT_TIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)\s*$")


def handler_modules(assembly: Path) -> dict[str, dict[str, str]]:
    """Handler module -> the environment to import it with (from the first function, in stage order, using it)."""
    code = code_dir(assembly)
    modules: dict[str, dict[str, str]] = {}
    for directory in stage_dirs(assembly).values():
        for stack in stacks(directory):
            region = stack["environment"].rsplit("/", 1)[-1]
            for resource in json.loads(stack["template"].read_text()).get("Resources", {}).values():
                if resource["Type"] != "AWS::Lambda::Function":
                    continue
                module = str(resource["Properties"].get("Handler", "")).rpartition(".")[0]
                if (code / f"{module.replace('.', '/')}.py").is_file():
                    modules.setdefault(module, lambda_env(resource["Properties"], region, code))
    return dict(sorted(modules.items()))


def code_dir(assembly: Path) -> Path:
    """The handlers' code asset (the one holding the ``shared`` package)."""
    (code,) = [path for path in assembly.glob("asset.*") if (path / "shared" / "__init__.py").is_file()]
    return code


def lambda_env(properties: Mapping, region: str, code: Path) -> dict[str, str]:
    """The function's literal environment variables and those the Lambda runtime sets that matter at import."""
    variables = properties.get("Environment", {}).get("Variables", {})
    literal = {name: value for name, value in variables.items() if isinstance(value, str)}
    return {**literal, **runtime_env(code), "AWS_REGION": region, "AWS_DEFAULT_REGION": region}


def runtime_env(code: Path) -> dict[str, str]:
    return {"LAMBDA_TASK_ROOT": str(code), "PYTHONPATH": str(code), "PYTHONDONTWRITEBYTECODE": "1"}


def cold_imports(modules: Mapping[str, Mapping[str, str]], runs: int, code: Path) -> dict:
    """Seconds per import (fresh interpreter per sample, SAMPLES_PER_RUN x ``runs`` samples, interleaved) and each
    module's imports beyond boto3."""
    envs = {BASELINE: runtime_env(code), **modules}
    proc.run([sys.executable, "-c", "import " + ", ".join(envs)], runtime_env(code))  # warms the file cache
    seconds: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs * SAMPLES_PER_RUN):
        for module, env in envs.items():
            seconds[module].append(import_seconds(module, env))
    baseline = proc.spread(seconds[BASELINE])
    boto3_modules = set(import_profile(BASELINE, envs[BASELINE]))
    rows = []
    for module, env in modules.items():
        spread = proc.spread(seconds[module])
        extra = beyond(import_profile(module, env), boto3_modules)
        rows.append(
            {
                "module": module,
                "seconds": spread,
                "ratio": spread["median"] / baseline["median"],
                "beyond_boto3_ms": extra[:5],
                "beyond_boto3_total_ms": round(sum(ms for _, ms in extra), 1),
            }
        )
    return {"boto3_seconds": baseline, "samples": runs * SAMPLES_PER_RUN, "modules": rows}


def import_seconds(module: str, env: Mapping[str, str]) -> float:
    _, output = proc.run([sys.executable, "-c", TIMER, module], env)
    return float(output.split()[-1])


def import_profile(module: str, env: Mapping[str, str]) -> dict[str, int]:
    """Self import time in microseconds of every module importing ``module`` loads (python -X importtime)."""
    _, output = proc.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], env)
    return parse_import_time(output)


def parse_import_time(text: str) -> dict[str, int]:
    """``-X importtime`` output -> module name -> self microseconds."""
    found = {}
    for line in text.splitlines():
        match = IMPORT_TIME.match(line)
        if match:
            found[match.group(3)] = int(match.group(1))
    return found


def beyond(profile: Mapping[str, int], baseline: set[str]) -> list[tuple[str, float]]:
    """Milliseconds of the modules not in ``baseline``, summed per top-level package, largest first."""
    packages: dict[str, int] = defaultdict(int)
    for module, micros in profile.items():
        if module not in baseline:
            packages[module.split(".")[0]] += micros
    return sorted(((name, round(micros / 1000, 1)) for name, micros in packages.items()), key=lambda item: -item[1])
