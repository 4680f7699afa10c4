"""trading-heartbeat-check against moto's DynamoDB and SNS."""

from __future__ import annotations

import pytest

from operations import aws_access, contract, heartbeat_check
from operations.aws_access import TradingStates
from operations.common import IncompleteRun
from shared.clock import iso
from shared.settings import SettingsError

from .operations_fixtures import (TRADING_TABLE, Context, ago, cold_start, emf_metrics, ops_env,  # noqa: F401
                                  ops_logs, scheduled_event)


def check():
    return heartbeat_check.handler(scheduled_event("tradai-trading-heartbeat-check-dev-schedule"),
                                   Context("tradai-trading-heartbeat-check-dev"))


def strategy(env, strategy_id: str, mode="live", status="RUNNING", minutes: float | None = 1.0, **fields) -> str:
    """A trading-state item as the trading container writes it; ``minutes`` since its last heartbeat."""
    item = {"strategy_id": strategy_id, "status": status, "task_arn": f"arn:aws:ecs:task/{strategy_id}",
            "pairs": ["BTC/USDT"], **fields}
    if mode is not None:
        item["mode"] = mode
    if minutes is not None and "last_heartbeat" not in fields:
        item["last_heartbeat"] = iso(ago(minutes=minutes))
    env.put(TRADING_TABLE, **item)
    return strategy_id


def state(env, strategy_id: str) -> dict:
    return env.item(TRADING_TABLE, strategy_id=strategy_id)


def stale_counts(capsys) -> dict[str, float]:
    return {dims["mode"]: value for name, value, dims in emf_metrics(capsys) if name == "StaleStrategies"}


def test_stale_strategies_are_marked_and_alerted_once_live_first(ops_env, capsys):
    strategy(ops_env, "fresh-live", minutes=2)
    live = strategy(ops_env, "pascal-live", minutes=30)
    dry = strategy(ops_env, "pascal-dry", mode="dry-run", minutes=15)
    strategy(ops_env, "stopped-live", status="STOPPED", minutes=600)
    before = state(ops_env, live)

    result = check()

    assert sorted(result["stale"]) == [dry, live] and result["recovered"] == [] and result["skipped"] == []
    item = state(ops_env, live)
    assert (item["status"], item["stale_heartbeat"]) == ("STALE", before["last_heartbeat"])
    assert item["stale_since"].endswith("Z") and contract.ATTR_PENDING_NOTICE not in item
    assert (item["pairs"], item["task_arn"]) == (before["pairs"], before["task_arn"])  # the container's fields stay
    assert state(ops_env, "fresh-live")["status"] == "RUNNING"
    assert state(ops_env, "stopped-live")["status"] == "STOPPED"
    alerts = {alert["Subject"]: alert["Message"] for alert in ops_env.alerts()}
    assert set(alerts) == {"URGENT: TradAI LIVE strategy pascal-live stopped sending heartbeats",
                           "TradAI dry-run strategy pascal-dry stopped sending heartbeats"}
    assert "is 30 min old (threshold 10 min)" in alerts[
        "URGENT: TradAI LIVE strategy pascal-live stopped sending heartbeats"]
    assert f"heartbeat#{live}#{before['last_heartbeat']}" in ops_env.notifications()
    assert stale_counts(capsys) == {"live": 1, "dry-run": 1}

    assert check() == {"stale": [], "recovered": [], "skipped": []}  # still stale: no second alert
    assert ops_env.alerts() == []
    assert stale_counts(capsys) == {"live": 1, "dry-run": 1}


def test_heartbeat_arriving_while_judged_wins(ops_env, monkeypatch):
    live = strategy(ops_env, "pascal-live", minutes=30)
    mark_stale = TradingStates.mark_stale

    def heartbeat_first(self, *args, **kwargs):
        ops_env.dynamodb.update_item(  # the trading container's heartbeat write
            TableName=TRADING_TABLE, Key={"strategy_id": {"S": live}}, UpdateExpression="SET last_heartbeat = :hb",
            ExpressionAttributeValues={":hb": {"S": iso(ago(seconds=1))}})
        return mark_stale(self, *args, **kwargs)

    monkeypatch.setattr(TradingStates, "mark_stale", heartbeat_first)

    assert check()["stale"] == []

    assert state(ops_env, live)["status"] == "RUNNING" and "stale_since" not in state(ops_env, live)
    assert ops_env.alerts() == [] and ops_env.notifications() == {}


def test_stale_strategy_with_a_fresh_heartbeat_recovers_with_a_notice(ops_env, capsys):
    live = strategy(ops_env, "pascal-live", minutes=30)
    check()
    ops_env.alerts()
    stale = state(ops_env, live)
    ops_env.dynamodb.update_item(TableName=TRADING_TABLE, Key={"strategy_id": {"S": live}},
                                 UpdateExpression="SET last_heartbeat = :hb",
                                 ExpressionAttributeValues={":hb": {"S": iso(ago(seconds=20))}})

    assert check() == {"stale": [], "recovered": [live], "skipped": []}

    item = state(ops_env, live)
    assert item["status"] == "RUNNING" and item["recovered_at"].endswith("Z")
    assert "stale_since" not in item and "stale_heartbeat" not in item
    [alert] = ops_env.alerts()
    assert alert["Subject"] == "TradAI live strategy pascal-live recovered (heartbeats again)"
    assert f"STALE since {stale['stale_since']}" in alert["Message"]
    assert f"heartbeat#{live}#{stale['stale_heartbeat']}#recovered" in ops_env.notifications()
    assert stale_counts(capsys)["live"] == 0

    strategy(ops_env, live, minutes=40)  # and it can go stale again: a new incident, a new alert
    assert check()["stale"] == [live]
    assert len(ops_env.alerts()) == 1


def test_malformed_items_are_logged_missing_or_bad_heartbeats_count_as_stale(ops_env, ops_logs):
    no_mode = strategy(ops_env, "no-mode", mode=None, minutes=60)
    odd_mode = strategy(ops_env, "odd-mode", mode="paper", minutes=60)
    bad = strategy(ops_env, "bad-timestamp", last_heartbeat="yesterday")
    naive = strategy(ops_env, "naive-timestamp", last_heartbeat="2026-12-01T05:30:00")
    epoch = strategy(ops_env, "epoch-number", mode="dry-run", last_heartbeat=1764567000)
    missing = strategy(ops_env, "no-heartbeat", minutes=None)

    result = check()

    assert sorted(result["skipped"]) == [no_mode, odd_mode]
    assert sorted(result["stale"]) == sorted([bad, naive, epoch, missing])
    assert state(ops_env, no_mode)["status"] == "RUNNING"
    assert state(ops_env, epoch)["stale_heartbeat"] == 1764567000
    assert "stale_heartbeat" in state(ops_env, missing) and state(ops_env, missing)["stale_heartbeat"] is None
    assert {f"heartbeat#{bad}#yesterday", f"heartbeat#{missing}#missing",
            f"heartbeat#{epoch}#1764567000"} <= set(ops_env.notifications())
    warnings = [r.getMessage() + repr(r.__dict__) for r in ops_logs.records if r.levelname == "WARNING"]
    assert any("without a monitored mode" in w and "'paper'" in w for w in warnings)
    assert any("marked STALE" in w and "'yesterday' is not an ISO-8601 UTC timestamp" in w for w in warnings)

    assert check()["stale"] == []  # the incidents are not alerted again


def test_every_page_of_the_scan_is_read(ops_env, monkeypatch):
    monkeypatch.setattr(aws_access, "SCAN_PAGE_SIZE", 2)
    for i in range(5):
        strategy(ops_env, f"stopped-{i}", status="STOPPED")
    stale = [strategy(ops_env, f"stale-{i}", minutes=20) for i in range(3)]
    scans: list[dict] = []
    ops_env.session.events.register("before-parameter-build.dynamodb.Scan", lambda params, **_: scans.append(params))

    assert sorted(check()["stale"]) == stale

    assert len(scans) >= 4 and all(p["Limit"] == 2 and p["ConsistentRead"] for p in scans)


def test_a_failing_update_fails_the_run_after_the_other_strategies(ops_env):
    strategy(ops_env, "a-live", minutes=30)
    strategy(ops_env, "b-live", minutes=30)
    ops_env.fail("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException",
                 when=lambda body: body["Key"] == {"strategy_id": {"S": "a-live"}})

    with pytest.raises(IncompleteRun, match="a-live: ProvisionedThroughputExceededException"):
        check()

    assert state(ops_env, "a-live")["status"] == "RUNNING"
    assert state(ops_env, "b-live")["status"] == "STALE"
    assert check()["stale"] == ["a-live"]


def test_scan_failure_fails_the_run_without_a_partial_metric(ops_env, capsys):
    strategy(ops_env, "a-live", minutes=30)
    ops_env.fail("dynamodb", "Scan", "InternalServerError")

    with pytest.raises(IncompleteRun, match="InternalServerError"):
        check()

    assert stale_counts(capsys) == {}
    assert state(ops_env, "a-live")["status"] == "RUNNING"


def test_alert_lost_to_a_publish_error_is_sent_by_the_next_run_exactly_once(ops_env):
    ops_env.fail("sns", "Publish", "InternalErrorException")
    live = strategy(ops_env, "pascal-live", minutes=30)

    with pytest.raises(IncompleteRun, match="InternalErrorException"):
        check()

    assert state(ops_env, live)["status"] == "STALE"
    assert state(ops_env, live)[contract.ATTR_PENDING_NOTICE]["subject"].startswith("URGENT")
    assert ops_env.alerts() == []
    assert check()["stale"] == []
    assert len(ops_env.alerts()) == 1
    assert contract.ATTR_PENDING_NOTICE not in state(ops_env, live)
    check()
    assert ops_env.alerts() == []


@pytest.mark.parametrize("changes, variable", [
    ({"HEARTBEAT_STALE_MINUTES": None}, "HEARTBEAT_STALE_MINUTES"),
    ({"HEARTBEAT_STALE_MINUTES": "0"}, "HEARTBEAT_STALE_MINUTES"),
    ({"HEARTBEAT_STALE_MINUTES": "10m"}, "HEARTBEAT_STALE_MINUTES"),
    ({"HEARTBEAT_STALE_MINUTES": "2000"}, "HEARTBEAT_STALE_MINUTES"),
    ({"TRADING_STATE_TABLE": None}, "TRADING_STATE_TABLE"),
    ({"ALERTS_TOPIC_ARN": None}, "ALERTS_TOPIC_ARN"),
])
def test_invalid_settings_name_the_variable_and_its_value(ops_env, changes, variable):
    ops_env.set_env(**changes)

    with pytest.raises(SettingsError) as raised:
        check()

    assert raised.value.name == variable
    assert f"{variable}={changes[variable]!r}" in str(raised.value)
