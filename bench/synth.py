"""Synth timings, each run in a fresh process (bench/apps.py): the app with and without its validation plugins next
to an empty app, and one stage as on-demand task definitions are added (scale check)."""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench import proc
from bench.limits import stack_usage

APP_KINDS = ("empty", "full", "full-cached", "plain")  # runs interleaved, so a load change hits all alike
# "full" is a first synth: every template is validated (tradai_cdk/result_cache keeps no results for it);
# "full-cached" reuses each template's cfn-guard and CloudFormation Validate results, as a synth of unchanged
# templates does (after a change, only the changed templates are validated again).
NO_STORED_RESULTS = {"VALIDATION_RESULT_CACHE": "0"}
KIND_ENV = {"full": NO_STORED_RESULTS, "plain": NO_STORED_RESULTS}
SCALE_POINTS = (0, 1, 10, 50)
# At 50 extra tasks the compute stack passes 500 resources, which CDK's built-in CloudFormation validation rejects;
# it is off for every scale point alike (the policy plugins under test are ours, not that one).
SCALE_ENV = {"CDK_VALIDATION": "false", **NO_STORED_RESULTS}
SUPERLINEAR_RATIO = 1.25  # per-task cost at 50 tasks over that at 10 above this: growth is worse than linear


def synth(kind: str, outdir: Path, extra_tasks: int = 0, env: dict | None = None) -> proc.Sample:
    command = [sys.executable, "-m", "bench.apps", kind, str(outdir), str(extra_tasks)]
    sample, _ = proc.run(command, {**proc.BYTECODE_ENV, **(env or {})})
    return sample


def app_synths(runs: int, keep: Path) -> dict:
    """Samples of each kind and their summaries; the last ``plain`` assembly is left in ``keep`` for the limits."""
    samples: dict[str, list[proc.Sample]] = {kind: [] for kind in APP_KINDS}
    synth("full-cached", keep)  # not a sample: it stores the validation results the cached samples reuse
    for _ in range(runs):
        for kind in APP_KINDS:
            shutil.rmtree(keep, ignore_errors=True)
            samples[kind].append(synth(kind, keep, env=KIND_ENV.get(kind)))
    summary = {kind: proc.summarize(values) for kind, values in samples.items()}
    empty = summary["empty"]["wall_s"]["median"]
    return {
        **summary,
        "ratio_full_to_empty": summary["full"]["wall_s"]["median"] / empty,
        "ratio_full_cached_to_empty": summary["full-cached"]["wall_s"]["median"] / empty,
        "ratio_plain_to_empty": summary["plain"]["wall_s"]["median"] / empty,
        "plugin_share": 1 - summary["plain"]["wall_s"]["median"] / summary["full"]["wall_s"]["median"],
    }


def scale_synths(runs: int, kind: str) -> dict:
    """TradaiDev alone (``kind`` stage or stage-validated) with SCALE_POINTS extra tasks: times, compute size, fit."""
    samples: dict[int, list[proc.Sample]] = {n: [] for n in SCALE_POINTS}
    largest: dict[int, dict] = {}
    for _ in range(runs):
        for n in SCALE_POINTS:
            with tempfile.TemporaryDirectory(prefix="bench-scale-") as outdir:
                samples[n].append(synth(kind, Path(outdir), n, SCALE_ENV))
                largest[n] = max(stack_usage(Path(outdir)), key=lambda row: row["resources"])
    points = [
        {
            "extra_tasks": n,
            "largest_stack": largest[n]["stack"],
            "resources": largest[n]["resources"],
            "template_bytes": largest[n]["template_bytes"],
            **proc.summarize(samples[n]),
        }
        for n in SCALE_POINTS
    ]
    medians = [point["wall_s"]["median"] for point in points]
    cpu = [point["cpu_s"]["median"] for point in points]
    return {
        "kind": kind,
        "points": points,
        "wall_fit": linear_fit(SCALE_POINTS, medians),
        "cpu_fit": linear_fit(SCALE_POINTS, cpu),
    }


def linear_fit(xs: tuple[int, ...], ys: list[float]) -> dict:
    """Least-squares line through (extra tasks, seconds), its residuals, and the per-task cost at each point
    (seconds over the 0-task synth, per task) with the ratio of the last to the second-to-last."""
    slope, intercept = statistics.linear_regression(xs, ys)
    residuals = [y - (slope * x + intercept) for x, y in zip(xs, ys, strict=True)]
    mean = statistics.fmean(ys)
    total = sum((y - mean) ** 2 for y in ys)
    per_task = {x: (y - ys[0]) / x for x, y in zip(xs, ys, strict=True) if x}
    ratio = per_task[xs[-1]] / per_task[xs[-2]] if per_task[xs[-2]] > 0 else None
    return {
        "seconds_per_task": slope,
        "intercept_s": intercept,
        "residuals_s": residuals,
        "r_squared": 1 - sum(r * r for r in residuals) / total if total else 1.0,
        "per_task_s": per_task,
        "per_task_ratio": ratio,
        "growth": "worse than linear" if ratio is not None and ratio > SUPERLINEAR_RATIO else "linear",
    }
