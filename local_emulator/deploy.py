"""``deploy``: emulator up, real ``cdk synth/bootstrap/deploy``, smoke checks, drills, report.

``--keep`` then leaves the emulator serving in the foreground until Ctrl-C or
``destroy`` (which signals the pid in ``.local-emulator/emulator.json``).

Every run writes ``.local-emulator/timings.json`` (read by ``make bench``): wall seconds per phase,
``synth`` (``cdk synth``), ``bootstrap`` (seeding the public SSM parameters + ``cdk bootstrap``),
``deploy`` (``cdk deploy``), ``checks`` (the smoke checkers), ``drills`` (the handler drills) and
``total`` (from the emulator's start to the report, server start-up included); a phase that did not
run is 0. ``.local-emulator/drill-timings.json`` has each drill's wall seconds (function name -> seconds),
apart: ``make bench`` reads every value of timings.json as a phase's seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator

import moto
from botocore.exceptions import ClientError

from tradai_cdk.config import config_for

from . import ACCOUNT, ENV_NAME, REGION, STAGE, STATE_DIR, patches, public_resources
from .assembly import StackArtifact, stage_stacks
from .cdk import run_cdk
from .drills import DRILLS, run_drills
from .report import classify, has_failures, render, summary
from .server import Emulator
from .smoke import check_stack
from .smoke.model import CheckContext, StackView

ASSEMBLY = STATE_DIR / "cdk.out"
PID_FILE = STATE_DIR / "emulator.json"
LOG_FILE = STATE_DIR / "emulator.log"
TIMINGS_FILE = STATE_DIR / "timings.json"
DRILL_TIMINGS_FILE = STATE_DIR / "drill-timings.json"
PHASES = ("synth", "bootstrap", "deploy", "checks", "drills")


def deploy(keep: bool = False) -> int:
    """Deploy every stack of the stage into a fresh emulator; 0 only if nothing FAILED or is MISSING."""
    running = kept_emulator()
    if running:
        print(
            f"An emulator is already running (pid {running['pid']}, {running['endpoint']}): "
            "run `make destroy-local` first."
        )
        return 1
    emulator = Emulator(LOG_FILE)
    timings = dict.fromkeys(PHASES, 0.0)
    with _exit_on_signals():
        try:
            started = time.monotonic()
            endpoint = emulator.start()
            PID_FILE.write_text(json.dumps({"pid": os.getpid(), "endpoint": endpoint}))
            _isolate_environment(emulator.aws_env())
            print(f"local emulator: moto {moto.__version__} at {endpoint} (server log {LOG_FILE})", flush=True)
            ok, ctx = _deploy_and_check(emulator, timings)
            _write_timings(timings, time.monotonic() - started)
            if keep:
                _serve(endpoint, ctx)
            return 0 if ok else 1
        finally:
            emulator.stop()
            PID_FILE.unlink(missing_ok=True)


def destroy() -> int:
    """Stop an emulator left running by ``deploy --keep``."""
    running = kept_emulator()
    if not running:
        PID_FILE.unlink(missing_ok=True)
        print("No local emulator is running.")
        return 0
    os.kill(running["pid"], signal.SIGTERM)
    for _ in range(100):
        if not _is_ours(running["pid"]):
            print(f"Stopped the local emulator (pid {running['pid']}).")
            return 0
        time.sleep(0.1)
    print(f"The emulator (pid {running['pid']}) did not stop within 10 s.")
    return 1


def kept_emulator() -> dict | None:
    """The pid file's content if that pid is a live local_emulator process."""
    try:
        info = json.loads(PID_FILE.read_text())
    except (OSError, ValueError):
        return None
    return info if _is_ours(info.get("pid", -1)) else None


IMAGE_TAG = "local"  # no image is pulled in the emulator; any immutable tag will do


def _deploy_and_check(emulator: Emulator, timings: dict[str, float]) -> tuple[bool, CheckContext | None]:
    """synth, bootstrap, deploy (each timed into ``timings``); the report runs even after a failed
    deploy, to name what is missing. Returns whether all is well and the checks' context."""
    steps = {
        # Only this stage is built (and validated): the other two are synthesized by `make test` and `make synth`.
        "synth": (
            "synth",
            "--quiet",
            "--output",
            str(ASSEMBLY),
            "-c",
            f"image_tag={IMAGE_TAG}",
            "-c",
            f"stages={ENV_NAME}",
            f"{STAGE}/*",
        ),
        "bootstrap": ("bootstrap", f"aws://{ACCOUNT}/{REGION}", "--app", str(ASSEMBLY)),
        "deploy": (
            "deploy",
            f"{STAGE}/*",
            "--app",
            str(ASSEMBLY),
            "--require-approval",
            "never",
            "--method=direct",
            "--progress",
            "events",
        ),
    }
    shutil.rmtree(ASSEMBLY, ignore_errors=True)
    DRILL_TIMINGS_FILE.unlink(missing_ok=True)  # written again only if the drills run
    for name, args in steps.items():
        started = time.monotonic()
        if name == "bootstrap":
            seeded = public_resources.seed(stage_stacks(ASSEMBLY, STAGE), emulator.client)
            print(f"seeded public SSM parameters: {', '.join(seeded) or 'none'}")
        _banner(f"cdk {name}")
        code = run_cdk(*args)
        timings[name] = time.monotonic() - started
        if code != 0:
            print(f"\ncdk {name} FAILED (its output is above).")
            _print_emulator_errors()
            return False, (_check(emulator, timings)[1] if name == "deploy" else None)
    return _check(emulator, timings)


def _check(emulator: Emulator, timings: dict[str, float]) -> tuple[bool, CheckContext]:
    """Smoke-check every stack, run the drills, print the report; True if all is well."""
    _banner(f"smoke check against config_for({ENV_NAME!r})")
    started = time.monotonic()
    artifacts = stage_stacks(ASSEMBLY, STAGE)
    views = {a.construct_id: StackView(a, _deployed(emulator, a)) for a in artifacts}
    ctx = CheckContext(config_for(ENV_NAME), views, emulator.client, emulator.aws_env())
    stacks, notes = {}, {}
    for artifact in artifacts:
        key = f"{artifact.stack_name} ({STAGE}/{artifact.construct_id})"
        stacks[key], notes[key] = _stack_rows(views[artifact.construct_id], ctx)
    timings["checks"], started = time.monotonic() - started, time.monotonic()
    drills = run_drills(ctx)
    timings["drills"] = time.monotonic() - started
    DRILL_TIMINGS_FILE.write_text(json.dumps({drill.name: round(drill.seconds, 2) for drill in drills}))
    print(render(stacks, notes))
    print("\n== handler drills ==")
    for drill in drills:
        print(drill.line())
    print(summary(stacks, drills))
    failed = has_failures(stacks) or any(d.status != "PASSED" for d in drills)
    print(
        "\nlocal deploy FAILED (exit 1): see the FAILED / MISSING rows and the drills not PASSED above."
        if failed
        else "\nlocal deploy OK (exit 0): nothing FAILED or MISSING, every drill PASSED "
        "(CREATED and IGNORED rows are not verified)."
    )
    return not failed, ctx


def _write_timings(timings: dict[str, float], total: float) -> None:
    TIMINGS_FILE.write_text(json.dumps({**{k: round(v, 2) for k, v in timings.items()}, "total": round(total, 2)}))


def _stack_rows(view: StackView, ctx: CheckContext) -> tuple[list, list[str]]:
    """Report rows and notes of one stack, from its checkers and what the patches recorded."""
    artifact = view.artifact
    mine = [
        {lid: text for (stack, lid), text in record.items() if stack == artifact.stack_name}
        for record in (patches.FAULTS, patches.BLOCKED, patches.SKIPPED_OUTPUTS)
    ]
    faults, blocked, skipped_outputs = mine
    notes = [f"output {name} not produced by the emulator: {why}" for name, why in skipped_outputs.items()]
    if not artifact.resources:
        notes.append("no resources: the CLI skips this stack")
    elif not view.deployed:
        notes.append("stack not created in the emulator")
    findings = check_stack(view, ctx).items if view.deployed else []
    rows = classify(
        {lid: body["Type"] for lid, body in artifact.resources.items()},
        view.deployed,
        patches.implemented,
        findings,
        faults,
        blocked,
    )
    return rows, notes


def _deployed(emulator: Emulator, artifact: StackArtifact) -> dict[str, str]:
    """Logical id -> physical id of what the emulator created (ignored types are absent)."""
    try:
        pages = (
            emulator.client("cloudformation")
            .get_paginator("list_stack_resources")
            .paginate(StackName=artifact.stack_name)
        )
        return {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for page in pages
            for r in page["StackResourceSummaries"]
            if r["LogicalResourceId"] and r["ResourceStatus"] == "CREATE_COMPLETE"
        }
    except ClientError:
        return {}


def _serve(endpoint: str, ctx: CheckContext | None) -> None:
    """Keep serving; print ready-to-paste inspection commands and re-run a drill named on stdin."""
    env = f"AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={REGION}"
    cli = f"aws --endpoint-url {endpoint}"
    cluster, service = f"tradai-{ENV_NAME}", f"tradai-backend-api-{ENV_NAME}"
    snippet = f"ecs = boto3.client('ecs', endpoint_url='{endpoint}'); print(ecs.list_task_definitions())"
    print(
        f"""
The emulator keeps running at {endpoint} (pid {os.getpid()}). Inspect it from another shell:
  export {env}
  {cli} cloudformation list-stack-resources --stack-name tradai-compute-{ENV_NAME}
  {cli} ecs describe-services --cluster {cluster} --services {service}
  {cli} cloudwatch describe-alarms --query 'MetricAlarms[].[AlarmName,AlarmActions[0]]' --output table
  .venv/bin/python -c "import boto3; {snippet}"
Re-run a drill here: type its name and Enter ({", ".join(DRILLS)}); health-check and
retraining-scheduler expect the deploy's fresh state, so a second run of those finds their first run's.
Stop it with Ctrl-C here, or `make destroy-local` from another shell.""",
        flush=True,
    )
    try:
        for line in sys.stdin:
            if ctx is not None and line.strip() in DRILLS:
                for drill in run_drills(ctx, [line.strip()]):
                    print(drill.line(), flush=True)
            elif line.strip():
                print(f"unknown drill {line.strip()!r}; one of: {', '.join(DRILLS)}", flush=True)
        while True:  # stdin closed (not a terminal): serve until a signal
            signal.pause()
    except KeyboardInterrupt:
        print("Stopping the emulator.")


def _isolate_environment(aws_env: dict[str, str]) -> None:
    """Drop every inherited AWS_* setting (profiles, keys, endpoints) and use the emulator's only."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    missing = str(STATE_DIR / "no-aws-config")
    os.environ.update(aws_env, AWS_CONFIG_FILE=missing, AWS_SHARED_CREDENTIALS_FILE=missing)


def _print_emulator_errors(lines: int = 20) -> None:
    errors = [line for line in LOG_FILE.read_text().splitlines() if " - - [" not in line]
    if errors:
        print(f"Last emulator log lines ({LOG_FILE}):")
        print("\n".join(f"   {line}" for line in errors[-lines:]))


def _banner(text: str) -> None:
    print(f"\n---- {text} ----", flush=True)


def _is_ours(pid: int) -> bool:
    try:
        return b"local_emulator" in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False


@contextlib.contextmanager
def _exit_on_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP unwind as KeyboardInterrupt (even if SIGINT was inherited as
    ignored), so the CLI's process group and the server are always stopped."""

    def stop(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
