"""`make bench`: every issue-19 figure from one run; prints the tables, writes bench/results/latest.json and
docs/performance.md (whose last section is bench/performance_notes.md, kept as written).

Environment: RUNS=n samples per synth and import figure (default 3); BENCH_SKIP_TESTS=1 skips `make test`;
BENCH_SKIP_SCALE=1 skips the scale check. Numbers to compare across changes, never assertions.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench import imports, limits, machine, report, synth, testsuite
from bench.proc import ROOT

T = TypeVar("T")

RESULTS = ROOT / "bench/results/latest.json"
DOC = ROOT / "docs/performance.md"
NOTES = ROOT / "bench/performance_notes.md"
DEPLOY_TIMINGS = ROOT / ".local-emulator/timings.json"  # and drill-timings.json beside it (local_emulator/deploy.py)
SCALE_KINDS = ("stage", "stage-validated")


def main() -> None:
    runs = int(os.environ.get("RUNS", "3"))
    skip_tests, skip_scale = _flag("BENCH_SKIP_TESTS"), _flag("BENCH_SKIP_SCALE")
    loads = [machine.load()]
    results: dict = {
        "command": _command(runs, skip_tests, skip_scale),
        "runs": runs,
        "taken_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine.describe(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        assembly = Path(scratch) / "cdk.out"
        results["synth"] = _step("synth", loads, lambda: synth.app_synths(runs, assembly))
        results["stacks"], results["assets"] = limits.stack_usage(assembly), limits.assets(assembly)
        modules = imports.handler_modules(assembly)
        code = imports.code_dir(assembly)
        results["imports"] = _step("imports", loads, lambda: imports.cold_imports(modules, runs, code))
    if not skip_scale:
        results["scale"] = {
            kind: _step(f"scale {kind}", loads, functools.partial(synth.scale_synths, runs, kind))
            for kind in SCALE_KINDS
        }
    results["tests"] = None if skip_tests else _step("make test", loads, testsuite.measure)
    results["deploy_local"] = deploy_local(DEPLOY_TIMINGS)
    cores = results["machine"]["cores"]
    results["load"] = {"start": loads[0], "samples": loads, "under_load": under_load(loads, cores)}
    results["targets"] = report.targets(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    DOC.write_text(report.markdown(results, NOTES.read_text()))
    print("\n".join(report.figures(results)))
    print(f"Wrote {RESULTS.relative_to(ROOT)} and {DOC.relative_to(ROOT)}.")


def deploy_local(path: Path) -> dict:
    """The emulator's last `make deploy-local` phases (phase -> seconds), if it wrote them."""
    if not path.is_file():
        return {"note": "Not measured: run `make deploy-local` first (it writes .local-emulator/timings.json)."}
    phases = {name: float(seconds) for name, seconds in json.loads(path.read_text()).items()}
    total = phases.pop("total", sum(phases.values()))
    drills = path.with_name("drill-timings.json")
    drill_seconds = json.loads(drills.read_text()) if drills.is_file() else {}
    return {"source": os.path.relpath(path, ROOT), "phases": phases, "total_s": total, "drills": drill_seconds}


def under_load(loads: list[float], cores: int) -> bool:
    """Others shared the machine: it was busy before the run began, or busier than the run alone makes it."""
    return loads[0] > cores / 2 or max(loads) > cores


def _step(name: str, loads: list[float], measure: Callable[[], T]) -> T:
    print(f"bench: {name} ...", flush=True)
    result = measure()
    loads.append(machine.load())
    return result


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def _command(runs: int, skip_tests: bool, skip_scale: bool) -> str:
    settings = [f"RUNS={runs}"] + ["BENCH_SKIP_TESTS=1"] * skip_tests + ["BENCH_SKIP_SCALE=1"] * skip_scale
    return " ".join([*settings, "make bench"])


if __name__ == "__main__":
    main()
