"""Drills of the ML lifecycle functions: drift monitor, retraining scheduler (and its workflow), model rollback.

moto runs no MLflow: each drill seeds its own ``fake_mlflow.FakeMlflow`` and points the deployed
MLFLOW_TRACKING_URI at it (``env_overrides``). The stand-in enforces the basic-auth credentials of the
deployed tradai/<env>/mlflow-credentials secret, so the handlers prove they read that secret.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..fake_mlflow import FakeMlflow
from ..smoke.model import CheckContext
from . import workflows
from .support import expect, function_environment, get_item, lines, notifications_from, scheduled_event

METRIC = "sharpe_ratio"


@contextmanager
def mlflow_stand_in(ctx: CheckContext, key: str) -> Iterator[FakeMlflow]:
    """A started FakeMlflow requiring the credentials of the secret the function's environment names."""
    secret_arn = function_environment(ctx, key)["MLFLOW_CREDENTIALS_SECRET_ARN"]
    secret = json.loads(ctx.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])
    fake = FakeMlflow(credentials=(secret["username"], secret["password"]))
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def _overrides(fake: FakeMlflow) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": fake.base_url}


def _authenticated(fake: FakeMlflow) -> bool:
    return bool(fake.requests) and all(a is not None for a in fake.authorizations)


def drift_monitor(ctx: CheckContext, invoke: Callable[..., Any]) -> str:
    """A champion whose live feature histogram moved is DRIFTED with its PSI and alerted."""
    key, steps, model = "drift-monitor", [], "drill-drift-momentum"
    name, env = ctx.cfg.function_name(key), function_environment(ctx, key)
    with mlflow_stand_in(ctx, key) as fake:
        run = fake.add_run(model, {METRIC: 1.5})
        version = fake.add_version(model, run)
        fake.set_alias(model, env["CHAMPION_ALIAS"], version)
        bucket, edges = env["RESULTS_BUCKET"], [0, 25, 50, 75, 100]
        s3 = ctx.client("s3")
        for path, counts, performance in (
            (f"v{version}/reference.json", [250, 250, 250, 250], {}),
            ("current.json", [20, 30, 150, 800], {METRIC: 1.45}),
        ):
            s3.put_object(
                Bucket=bucket,
                Key=f"drift/{model}/{path}",
                Body=json.dumps(
                    {
                        "generated_at": "2026-01-01T00:00:00Z",
                        "performance": performance,
                        "features": {"rsi": {"edges": edges, "counts": counts}},
                    }
                ).encode(),
            )
        steps.append(
            f"1 MLflow stand-in: {model} v{version} is {env['CHAMPION_ALIAS']} ({METRIC} 1.5); "
            f"s3://{bucket}/drift/{model}/: reference and current rsi histograms far apart"
        )
        outcome = invoke(scheduled_event("drift-monitor"), env_overrides=_overrides(fake))
        expect(
            outcome.result.get("drifted") == [model] and not outcome.result.get("failed"),
            f"handler did not report {model} drifted",
            outcome,
        )
        expect(_authenticated(fake), "the handler called MLflow without the secret's credentials")
    table = env["DRIFT_STATE_TABLE"]
    item = get_item(ctx, table, {"model_name": model}) or {}
    psi = item.get("data_drift")
    expect(
        item.get("status") == "DRIFTED"
        and item.get("drifted") is True
        and psi is not None
        and float(psi) > float(env["DRIFT_PSI_THRESHOLD"])
        and str(item.get("model_version")) == version,
        f"{table} item is not DRIFTED with a PSI above {env['DRIFT_PSI_THRESHOLD']}",
        item,
    )
    assert psi is not None  # expect raised otherwise
    alerts = [n for n in notifications_from(ctx, name) if n["notification_id"].startswith(f"drift#{model}#v{version}#")]
    expect(len(alerts) == 1 and alerts[0].get("alert_sent_at"), "not one drift alert recorded and published", alerts)
    steps.append(
        f"2 {table}: DRIFTED, data_drift (max PSI) {float(psi):.3f} > {env['DRIFT_PSI_THRESHOLD']}, "
        f"model_drift {float(item['model_drift']):.3f}; alert {alerts[0]['notification_id']!r}"
    )
    return lines("drift detected, recorded and alerted:", steps)


def retraining_scheduler(ctx: CheckContext, invoke: Callable[..., Any]) -> str:
    """One SCHEDULED retraining per model and window; the deployed workflow then finds it NOT_NEEDED."""
    key, steps, model = "retraining-scheduler", [], "drill-retrain-momentum"
    env = function_environment(ctx, key)
    machine_arn, table = env["RETRAINING_STATE_MACHINE_ARN"], env["RETRAINING_STATE_TABLE"]
    machine = workflows.interpret(ctx, ctx.cfg.naming.name("retraining"))
    expect(machine.arn == machine_arn, f"RETRAINING_STATE_MACHINE_ARN {machine_arn} is not {machine.arn}")
    gate = threading.Event()
    with mlflow_stand_in(ctx, key) as fake:
        try:
            routed = [
                workflows.route(ctx, _config_key(ctx, function), _overrides(fake), gate)
                for function in workflows.task_functions(machine.definition)
            ]
            run = fake.add_run(model, {METRIC: 1.2})
            fake.set_alias(model, env["CHAMPION_ALIAS"], fake.add_version(model, run))
            steps.append(
                f"1 MLflow stand-in: {model} with a fresh champion and no drift; the workflow's "
                f"{len(routed)} Lambda tasks run in-process"
            )
            event = scheduled_event("retraining-scheduler")
            outcome = invoke(event, env_overrides=_overrides(fake))
            [scheduled] = outcome.result.get("scheduled") or [None]
            expect(
                scheduled is not None
                and scheduled["model_name"] == model
                and scheduled["execution_arn"].startswith(machine_arn.replace(":stateMachine:", ":execution:")),
                f"handler did not schedule {model} on {machine.name}",
                outcome,
            )
            item = get_item(ctx, table, {"model_name": model}) or {}
            expect(
                item.get("status") == "SCHEDULED"
                and item.get("execution_arn") == scheduled["execution_arn"]
                and item.get("retraining_id") == scheduled["retraining_id"],
                f"{table} item is not SCHEDULED with the execution ARN",
                item,
            )
            steps.append(
                f"2 {table}: SCHEDULED {scheduled['retraining_id']}, execution "
                f"{scheduled['execution_arn'].split(':')[-1]} of {machine.name}"
            )
            again = invoke(event, env_overrides=_overrides(fake))
            executions = ctx.client("stepfunctions").list_executions(stateMachineArn=machine_arn)["executions"]
            expect(
                again.result.get("scheduled") == [scheduled] and len(executions) == 1,
                "a second invocation in the window started another execution",
                executions,
            )
            steps.append("3 second invocation in the same window: same answer, still one execution")
            gate.set()
            execution = workflows.finished(ctx, scheduled["execution_arn"])
            item = get_item(ctx, table, {"model_name": model}) or {}
            expect(
                execution["status"] == "SUCCEEDED" and item.get("status") == "NOT_NEEDED",
                f"execution {execution['status']}, retraining-state {item.get('status')}",
                workflows.history(ctx, scheduled["execution_arn"]),
            )
            steps.append(
                f"4 execution SUCCEEDED via {' > '.join(workflows.states(ctx, scheduled['execution_arn']))}; "
                f"{table}: NOT_NEEDED ({item.get('reason', '')})"
            )
        finally:
            gate.set()
    return lines("retraining scheduled once per window and followed:", steps)


def model_rollback(ctx: CheckContext, invoke: Callable[..., Any]) -> str:
    """The champion alias moves back to the previous champion once; a duplicate request changes nothing."""
    key, steps, model = "model-rollback", [], "drill-rollback-momentum"
    name, env = ctx.cfg.function_name(key), function_environment(ctx, key)
    alias, table = env["CHAMPION_ALIAS"], env["ROLLBACK_STATE_TABLE"]
    request = {"model_name": model, "reason": "local deploy drill", "requested_by": "local-emulator"}
    with mlflow_stand_in(ctx, key) as fake:
        first_version = fake.add_version(model, fake.add_run(model, {METRIC: 1.0}))
        second_version = fake.add_version(
            model, fake.add_run(model, {METRIC: 1.1}), tags={"tradai.previous_champion": first_version}
        )
        fake.set_alias(model, alias, second_version)
        steps.append(
            f"1 MLflow stand-in: {model} v{second_version} is {alias}, tagged previous champion v{first_version}"
        )
        outcome = invoke(request, env_overrides=_overrides(fake))
        expected = {
            "model_name": model,
            "from_version": second_version,
            "to_version": first_version,
            "rolled_back": True,
        }
        expect(outcome.result == expected, f"handler did not answer {expected}", outcome)
        expect(fake.alias(model, alias) == first_version, f"{alias} is v{fake.alias(model, alias)}")
        history = (get_item(ctx, table, {"model_name": model}) or {}).get("history") or []
        expect(len(history) == 1, f"{table} history has {len(history)} entries, not 1", history)
        steps.append(
            f"2 {alias} moved v{second_version} -> v{first_version}; {table}: one history entry "
            f"(requested_by {history[0].get('requested_by')})"
        )
        again = invoke(request, env_overrides=_overrides(fake))
        history = (get_item(ctx, table, {"model_name": model}) or {}).get("history") or []
        expect(
            again.result == expected and len(history) == 1 and fake.alias(model, alias) == first_version,
            f"the duplicate request changed something (history {len(history)})",
            again,
        )
        expect(_authenticated(fake), "the handler called MLflow without the secret's credentials")
    alerts = [n for n in notifications_from(ctx, name) if n.get("model_name") == model]
    expect(len(alerts) == 1, f"not one rollback alert ({len(alerts)})", alerts)
    steps.append("3 duplicate request: same answer, still one history entry and one alert")
    return lines("champion rolled back once:", steps)


def _config_key(ctx: CheckContext, function_name: str) -> str:
    """The config Lambda name of a deployed function name."""
    for spec in ctx.cfg.lambdas:
        if ctx.cfg.function_name(spec.name) == function_name:
            return spec.name
    raise ValueError(f"{function_name} is not a config Lambda")
