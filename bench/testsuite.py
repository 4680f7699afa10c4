"""`make test` timed in its two parts, its `lint` prerequisite (ruff, mypy) and pytest, with every test's duration:
the ten slowest, seconds per file, the fixture setup share."""

from __future__ import annotations

import os
import re
import sys
from collections import defaultdict
from dataclasses import asdict

from bench import proc

LINT = ["make", "--no-print-directory", "lint"]
SYNTH_CACHE = proc.ROOT / ".cache" / "synth"  # tests/conftest.py keeps the session synth here, one folder per key
# --durations=0 lists every phase >= 5 ms, so the per-file totals come from the same run as the ten slowest.
PYTEST = [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "--durations=0"]  # as `make test`
DURATION = re.compile(r"^(\d+(?:\.\d+)?)s\s+(setup|call|teardown)\s+(\S.*)$")
SUMMARY = re.compile(r"^=+ (.+?) in (\d+(?:\.\d+)?)s\b.*=+$")


def measure() -> dict:
    """`make test` is `make lint` then pytest: each is run and timed here, so that a failing lint still leaves the
    tests measured. Failures are reported (exit codes, pytest's outcome), not raised. ``synth_cache``: whether the
    tests reused a cached session synth ("hit") or synthesized the app ("miss")."""
    lint, _ = proc.run(LINT, check=False)
    cached = synth_cache()
    tests, output = proc.run(PYTEST, proc.BYTECODE_ENV, check=False)
    return {
        "command": f"make lint; {os.path.relpath(sys.executable, proc.ROOT)} {' '.join(PYTEST[1:])}",
        "lint": asdict(lint),
        "pytest": asdict(tests),
        "make_test_s": lint.wall_s + tests.wall_s,
        "synth_cache": "hit" if cached and cached == synth_cache() else "miss",
        **summarize(output),
    }


def synth_cache() -> set[str]:
    """The keys of the completed synths in the tests' cache."""
    return {path.parent.name for path in SYNTH_CACHE.glob("*/synth-complete")}


def summarize(output: str) -> dict:
    durations = parse_durations(output)
    setups = [d for d in durations if d["phase"] == "setup"]
    return {
        **parse_summary(output),
        "slowest": durations[:10],
        "files": by_file(durations),
        "setup_seconds": round(sum(d["seconds"] for d in setups), 2),
        "largest_setup": setups[0] if setups else None,
    }


def parse_durations(output: str) -> list[dict]:
    """The durations section, slowest first: seconds, phase and test id."""
    rows = [
        {"seconds": float(m.group(1)), "phase": m.group(2), "test": m.group(3).strip()}
        for m in map(DURATION.match, output.splitlines())
        if m
    ]
    return sorted(rows, key=lambda row: -row["seconds"])


def by_file(durations: list[dict]) -> list[dict]:
    """Seconds per test file (all phases), largest first."""
    files: dict[str, float] = defaultdict(float)
    for row in durations:
        files[row["test"].split("::")[0]] += row["seconds"]
    return [
        {"file": name, "seconds": round(seconds, 2)}
        for name, seconds in sorted(files.items(), key=lambda item: -item[1])
    ]


def parse_summary(output: str) -> dict:
    """pytest's last line: the outcome counts and the seconds it reports."""
    for line in reversed(output.splitlines()):
        match = SUMMARY.match(line.strip())
        if match:
            return {"outcome": match.group(1), "pytest_seconds": float(match.group(2))}
    return {"outcome": "unknown", "pytest_seconds": None}
