"""Drills of the scheduled operations functions: health check, trading heartbeat check, infra drift detector.

Each invokes the deployed function's handler in-process with an EventBridge scheduled event, checks what it
wrote (its state table, tradai-notifications) and invokes it again to show a repeat notifies nothing new.

moto's CloudFormation builds Cloud Map only through harness patch 13; where the emulator has no namespace or
service the template declares, the health-check drill creates it (same names, same VPC) through the Cloud Map
API before it registers its stand-in instances, and says so in its detail.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lambda_src.shared.clock import iso

from .. import ACCOUNT, REGION, patches
from ..smoke.model import CheckContext
from .support import (
    HealthStub,
    expect,
    function_environment,
    get_item,
    lines,
    notifications_from,
    scan,
    scheduled_event,
)

FAILING_SERVICE = "strategy-service"  # the health target whose stand-in answers 500


def health_check(ctx: CheckContext, invoke: Callable[[dict], Any]) -> str:
    """Stand-in instances (one failing) in every health target's Cloud Map service; state and one alert."""
    key, steps = "health-check", []
    name, env = ctx.cfg.function_name(key), function_environment(ctx, key)
    targets = {t["service"]: t["path"] for t in json.loads(env["HEALTH_TARGETS"])}
    expect(FAILING_SERVICE in targets, f"{FAILING_SERVICE} is not a HEALTH_TARGETS service", targets)
    cloud_map = ctx.client("servicediscovery")
    services = _cloud_map_services(ctx, env["SERVICE_NAMESPACE"], list(targets))
    steps.append(f"1 Cloud Map {env['SERVICE_NAMESPACE']}: services {', '.join(targets)}")
    stubs = {service: HealthStub(path, 500 if service == FAILING_SERVICE else 200) for service, path in targets.items()}
    instance = f"drill-{uuid.uuid4().hex[:8]}"
    try:
        for service, stub in stubs.items():
            cloud_map.register_instance(
                ServiceId=services[service],
                InstanceId=instance,
                Attributes={"AWS_INSTANCE_IPV4": stub.host, "AWS_INSTANCE_PORT": str(stub.port)},
            )
        steps.append(
            f"2 registered {instance} per service at 127.0.0.1 (stand-in health endpoints; "
            f"{FAILING_SERVICE}'s answers 500)"
        )
        before = _ids(notifications_from(ctx, name))
        first = invoke(scheduled_event("health-check"))
        expected = {s: "UNHEALTHY" if s == FAILING_SERVICE else "HEALTHY" for s in targets}
        expect(
            first.result == {"services": expected, "changed": [FAILING_SERVICE]},
            f"handler answered not {expected} with {FAILING_SERVICE} changed",
            first,
        )
        expect(
            all(stub.requests for stub in stubs.values()),
            "not every service was probed",
            {s: stub.requests for s, stub in stubs.items()},
        )
        table = ctx.cfg.naming.name("health-state")
        states = {s: (get_item(ctx, table, {"service_name": s}) or {}).get("status") for s in targets}
        expect(states == expected, f"{table} items are not {expected}", states)
        alerts = [n for n in notifications_from(ctx, name) if n["notification_id"] not in before]
        expect(
            len(alerts) == 1 and FAILING_SERVICE in alerts[0]["subject"] and alerts[0].get("alert_sent_at"),
            f"not one alert about {FAILING_SERVICE} in tradai-notifications",
            alerts,
        )
        steps.append(
            f"3 {table}: {', '.join(f'{s} {v}' for s, v in states.items())}; one alert "
            f"({alerts[0]['subject']!r}, published to the alerts topic)"
        )
        second = invoke(scheduled_event("health-check"))
        expect(second.result == {"services": expected, "changed": []}, "second check changed something", second)
        expect(len(notifications_from(ctx, name)) == len(before) + 1, "the second check notified again")
        steps.append("4 second check: same states, nothing changed, no new notification")
    finally:
        for service in stubs:
            with contextlib.suppress(Exception):  # not registered (the drill failed before)
                cloud_map.deregister_instance(ServiceId=services[service], InstanceId=instance)
        for stub in stubs.values():
            stub.close()
    steps.append(f"5 deregistered {instance} from every service")
    return lines("health check probed every service and alerted once:", steps)


def _cloud_map_services(ctx: CheckContext, namespace: str, names: list[str]) -> dict[str, str]:
    """Service name -> id of the deployed services in the namespace (built by harness patch 13); DrillFailure
    naming what is missing."""
    client = ctx.client("servicediscovery")
    found = [n["Id"] for n in client.list_namespaces()["Namespaces"] if n["Name"] == namespace]
    expect(found, f"Cloud Map namespace {namespace} is not deployed")
    existing = {
        s["Name"]: s["Id"]
        for s in client.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": found[:1]}])["Services"]
    }
    missing = sorted(set(names) - set(existing))
    expect(not missing, f"Cloud Map services missing in {namespace}", missing)
    return {name: existing[name] for name in names}


def heartbeat_check(ctx: CheckContext, invoke: Callable[[dict], Any]) -> str:
    """A live strategy with a stale heartbeat is marked STALE and alerted once; a fresh dry-run one is left."""
    key, steps = "trading-heartbeat-check", []
    name, env = ctx.cfg.function_name(key), function_environment(ctx, key)
    table, stale_minutes = env["TRADING_STATE_TABLE"], int(env["HEARTBEAT_STALE_MINUTES"])
    now, suffix = datetime.now(UTC), uuid.uuid4().hex[:8]
    live, dry_run = f"drill-live-{suffix}", f"drill-dry-run-{suffix}"
    stale_beat = iso(now - timedelta(minutes=stale_minutes * 3))
    for strategy, mode, beat in ((live, "live", stale_beat), (dry_run, "dry-run", iso(now))):
        ctx.client("dynamodb").put_item(
            TableName=table,
            Item={
                "strategy_id": {"S": strategy},
                "mode": {"S": mode},
                "status": {"S": "RUNNING"},
                "last_heartbeat": {"S": beat},
            },
        )
    steps.append(
        f"1 {table}: {live} (live, last heartbeat {stale_minutes * 3} min ago) and {dry_run} "
        f"(dry-run, fresh), both RUNNING"
    )
    before = _ids(notifications_from(ctx, name))
    first = invoke(scheduled_event("heartbeat-check"))
    expect(
        live in first.result.get("stale", []) and dry_run not in first.result.get("stale", []),
        f"handler did not mark only {live} stale",
        first,
    )
    items = {s: get_item(ctx, table, {"strategy_id": s}) or {} for s in (live, dry_run)}
    expect(
        items[live].get("status") == "STALE"
        and items[live].get("stale_since")
        and items[live].get("stale_heartbeat") == stale_beat
        and "pending_notice" not in items[live],
        f"{live} is not STALE with stale_since/stale_heartbeat (and its notice sent)",
        items[live],
    )
    expect(items[dry_run].get("status") == "RUNNING", f"{dry_run} is not RUNNING", items[dry_run])
    alerts = [n for n in notifications_from(ctx, name) if n["notification_id"] not in before]
    expect(
        len(alerts) == 1 and live in alerts[0]["subject"] and alerts[0].get("alert_sent_at"),
        f"not one alert about {live}",
        alerts,
    )
    steps.append(
        f"2 {live} STALE since {items[live]['stale_since']}, {dry_run} RUNNING; one alert ({alerts[0]['subject']!r})"
    )
    second = invoke(scheduled_event("heartbeat-check"))
    expect(live not in second.result.get("stale", []), "the second check marked it again", second)
    expect(len(notifications_from(ctx, name)) == len(before) + 1, "the second check notified again")
    steps.append("3 second check: nothing marked, no new notification")
    return lines("stale live heartbeat marked and alerted once:", steps)


def infra_drift(ctx: CheckContext, invoke: Callable[[dict], Any]) -> str:
    """Drift detection of every stack of the stage (answered IN_SYNC by harness patch 12) is recorded."""
    key, steps = "infra-drift-detector", []
    name, env = ctx.cfg.function_name(key), function_environment(ctx, key)
    stacks, table = env["STACK_NAMES"].split(","), env["INFRA_DRIFT_TABLE"]
    deployed = sorted(view.stack_name for view in ctx.views.values() if view.deployed)
    expect(sorted(stacks) == deployed, f"STACK_NAMES {stacks} are not the deployed stacks {deployed}")
    detections = len(patches.DRIFT_DETECTIONS)
    outcome = invoke(scheduled_event("infra-drift"))
    expect(
        outcome.result == {"stacks": dict.fromkeys(stacks, "IN_SYNC"), "new_drift": []},
        "handler did not record every stack IN_SYNC",
        outcome,
    )
    expect(
        len(patches.DRIFT_DETECTIONS) - detections == len(stacks),
        "not one detection per stack",
        len(patches.DRIFT_DETECTIONS) - detections,
    )
    items = {item["stack_name"]: item for item in scan(ctx, table)}
    expect(
        sorted(items) == sorted(stacks)
        and all(i.get("has_drift") == "false" and i.get("drift_status") == "IN_SYNC" for i in items.values()),
        f'{table} has not one IN_SYNC item with has_drift "false" per stack',
        items,
    )
    expect(not notifications_from(ctx, name), "an in-sync first check notified")
    steps.append(
        f"1 one detection per stack ({', '.join(stacks)}), answered complete and IN_SYNC by the "
        f"emulator (patch 12: moto cannot compare live state)"
    )
    steps.append(f'2 {table}: one item per stack, has_drift "false", drift_status IN_SYNC; no notification')
    return lines("drift detection recorded for every stack:", steps)


def _ids(notifications: list[dict]) -> set[str]:
    return {n["notification_id"] for n in notifications}


def orphan_scan(ctx: CheckContext, invoke: Callable[[dict], Any]) -> str:
    """A RUNNING run whose execution no longer exists, older than STUCK_AFTER_MINUTES, is failed once."""
    key, steps = "orphan-scanner", []
    env = function_environment(ctx, key)
    table, stuck = env["WORKFLOW_STATE_TABLE"], int(env["STUCK_AFTER_MINUTES"])
    machine = ctx.cfg.naming.name("backtest")
    run_id = f"drill-orphan-{uuid.uuid4().hex[:8]}"
    created = iso(datetime.now(UTC) - timedelta(minutes=stuck * 2))
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{run_id}"
    ctx.client("dynamodb").put_item(
        TableName=table,
        Item={
            "run_id": {"S": run_id},
            "status": {"S": "RUNNING"},
            "created_at": {"S": created},
            "updated_at": {"S": created},
            "execution_arn": {"S": execution},
            "strategy": {"S": "PascalStrategy"},
        },
    )
    steps.append(f"1 {table}: {run_id} RUNNING since {created} ({stuck * 2} min), its execution never existed")
    first = invoke(scheduled_event("orphan-scan"))
    item = get_item(ctx, table, {"run_id": run_id}) or {}
    expect(
        item.get("status") == "FAILED" and "orphaned" in str(item.get("error", "")),
        f"{run_id} is not FAILED as orphaned",
        item,
    )
    expect(first.result.get("orphaned_runs", 0) >= 1, "handler reported no orphaned run", first)
    steps.append(f"2 scan: {first.result}; {run_id} FAILED ({item['error']!s:.80})")
    second = invoke(scheduled_event("orphan-scan"))
    again = get_item(ctx, table, {"run_id": run_id}) or {}
    expect(again.get("updated_at") == item.get("updated_at"), "the second scan touched the failed run again", again)
    steps.append(f"3 second scan: {second.result}; the failed run is left alone")
    return lines("orphaned run failed once:", steps)
