"""The apps the benchmark synthesizes, each in a fresh process (jsii start-up included, as `cdk synth` pays it).

Run: python -m bench.apps {empty|full|full-cached|plain|stage|stage-validated} OUTDIR [EXTRA_TASKS]
``full``: every stage with the validation plugins (``full-cached``: the same; bench/synth.py decides whether
stored validation results may be reused); ``plain``: the same without any validation; ``empty``: one empty stack;
``stage``/``stage-validated``: TradaiDev alone with EXTRA_TASKS more on-demand task definitions (scale check).
"""

from __future__ import annotations

import dataclasses
import json
import sys

import aws_cdk as cdk

from bench.proc import ROOT

BASE_TASK = "strategy-container"  # the extra tasks copy it: same image, sizes and access
STACK_RESOURCE_LIMIT = "@aws-cdk/core:stackResourceLimit"  # CDK refuses a stack over 500 resources; 0 lifts it


def context() -> dict:
    """cdk.json's context with a fixed image tag (what `make synth` passes as -c image_tag=<sha>)."""
    return {**json.loads((ROOT / "cdk.json").read_text())["context"], "image_tag": "bench"}


def empty_app(outdir: str) -> cdk.App:
    app = cdk.App(outdir=outdir, analytics_reporting=False)
    cdk.Stack(app, "Empty")
    return app


def tradai_app(outdir: str, validations: bool) -> cdk.App:
    from tradai_cdk.app import build_app

    return build_app(context=context(), outdir=outdir, validations=validations)


def extra_task_names(count: int) -> list[str]:
    return [f"bench-task-{index:02d}" for index in range(1, count + 1)]


def scaled_stage_app(outdir: str, extra_tasks: int, validations: bool) -> cdk.App:
    """TradaiDev with ``extra_tasks`` copies of the strategy-container task definition added to its config.

    CDK's own 500-resource check is lifted (bench/synth.py also turns its built-in CloudFormation validation off),
    so that 50 tasks still synthesize once the compute stack passes 500 resources.
    """
    from tradai_cdk.app import OFFLINE_ACCOUNT, add_validations, stage_id
    from tradai_cdk.config import config_for
    from tradai_cdk.stacks import compute
    from tradai_cdk.stages import TradaiStage

    config = config_for("dev", image_tag="bench")
    base = config.task(BASE_TASK)
    extra = tuple(dataclasses.replace(base, name=name) for name in extra_task_names(extra_tasks))
    config = dataclasses.replace(config, on_demand_tasks=config.on_demand_tasks + extra)
    for task in extra:  # a task's grants are looked up by name in the stack (not in the config)
        compute.TASK_ACCESS[task.name] = compute.TASK_ACCESS[BASE_TASK]
    app = cdk.App(context={**context(), STACK_RESOURCE_LIMIT: 0}, outdir=outdir, analytics_reporting=False)
    TradaiStage(
        app, stage_id("dev"), config=config, env=cdk.Environment(account=OFFLINE_ACCOUNT, region=config.network.region)
    )
    if validations:
        add_validations(app)
    return app


def build(kind: str, outdir: str, extra_tasks: int = 0) -> cdk.App:
    if kind == "empty":
        return empty_app(outdir)
    if kind in ("full", "full-cached", "plain"):
        return tradai_app(outdir, validations=kind != "plain")
    return scaled_stage_app(outdir, extra_tasks, validations=kind == "stage-validated")


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0).synth()
