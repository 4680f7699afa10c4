"""Pure tests (no AWS): request parsing/validation, workflow input, container overrides, settings helpers."""

from __future__ import annotations

import json

import pytest

from backtest import contract
from backtest.request import InvalidRequest, parse_request, parse_workflow_input
from backtest.settings import consumer_settings
from shared import settings as env_
from shared.settings import SettingsError

JOB_ID = "0b6c1f3e-3d7a-4c51-9a07-2f0d4e8b9c11"
VALID = {"job_id": JOB_ID, "strategy": "PascalStrategy", "timeframe": "4h", "timerange": "20230101-20231231",
         "pairs": ["BTC/USDT", "ETH/USDT", "1INCH/USDT"]}


def parse(body, message_id="msg-1", attributes=None):
    return parse_request(body if isinstance(body, str) else json.dumps(body), message_id=message_id,
                         attributes=attributes or {})


def test_minimal_request_gets_its_defaults():
    request = parse(VALID)

    assert request.run_id == request.job_id == JOB_ID
    assert request.strategy_id == "pascalstrategy"
    assert request.experiment_name == "default"
    assert request.trace_id == "msg-1"
    assert request.pairs == ("BTC/USDT", "ETH/USDT", "1INCH/USDT")


def test_workflow_input_and_container_environment():
    request = parse({**VALID, "strategy_id": "pascal-btc", "experiment_name": "q1 sweep", "trace_id": "t-1"})

    assert request.workflow_input() == {
        "run_id": JOB_ID, "job_id": JOB_ID, "trace_id": "t-1", "strategy": "PascalStrategy",
        "strategy_id": "pascal-btc", "trading_mode": contract.TRADING_MODE, "timeframe": "4h",
        "timerange": "20230101-20231231", "pairs": "BTC/USDT,ETH/USDT,1INCH/USDT", "experiment_name": "q1 sweep"}
    environment = request.container_environment()
    assert [entry["name"] for entry in environment] == list(contract.RUN_OVERRIDES.values())
    assert dict((e["name"], e["value"]) for e in environment)["PAIRS"] == "BTC/USDT,ETH/USDT,1INCH/USDT"
    assert parse_workflow_input(request.workflow_input()) == request


def test_default_strategy_id_of_a_snake_case_class_is_a_valid_id():
    request = parse({**VALID, "strategy": "Momentum_V2"})

    assert request.strategy_id == "momentum-v2"
    assert parse_workflow_input(request.workflow_input()).strategy_id == "momentum-v2"


def test_uppercase_job_id_is_normalised():
    assert parse({**VALID, "job_id": JOB_ID.upper()}).job_id == JOB_ID


@pytest.mark.parametrize("attributes, expected", [
    ({"trace_id": {"stringValue": "from-attribute", "dataType": "String"}}, "from-attribute"),
    ({"other": {"stringValue": "x", "dataType": "String"}}, "msg-1"),
    ({}, "msg-1"),
])
def test_trace_id_fallbacks(attributes, expected):
    assert parse(VALID, attributes=attributes).trace_id == expected
    assert parse({**VALID, "trace_id": "in-body"}, attributes=attributes).trace_id == "in-body"


@pytest.mark.parametrize("body, field", [
    ("not json", "body"),
    ("", "body"),
    ("[1, 2]", "body"),
    ('"a string"', "body"),
    ({**VALID, "job_id": None}, "job_id"),
    ({**VALID, "job_id": "job-42"}, "job_id"),
    ({**VALID, "job_id": "0b6c1f3e3d7a4c519a072f0d4e8b9c11"}, "job_id"),  # UUID, but not the canonical form
    ({**VALID, "job_id": 42}, "job_id"),
    ({**VALID, "strategy": None}, "strategy"),
    ({**VALID, "strategy": "pascalStrategy"}, "strategy"),
    ({**VALID, "strategy": "Pascal Strategy"}, "strategy"),
    ({**VALID, "strategy": "P" * 65}, "strategy"),
    ({**VALID, "strategy_id": "Pascal"}, "strategy_id"),
    ({**VALID, "strategy_id": "-pascal"}, "strategy_id"),
    ({**VALID, "strategy_id": ""}, "strategy_id"),
    ({**VALID, "timeframe": "1H"}, "timeframe"),
    ({**VALID, "timeframe": None}, "timeframe"),
    ({**VALID, "timerange": "20240101"}, "timerange"),
    ({**VALID, "timerange": "20240101-20240101"}, "timerange"),
    ({**VALID, "timerange": "20240301-20240101"}, "timerange"),
    ({**VALID, "timerange": "20240230-20240301"}, "timerange"),
    ({**VALID, "timerange": "2024-01-01-2024-03-01"}, "timerange"),
    ({**VALID, "pairs": []}, "pairs"),
    ({**VALID, "pairs": "BTC/USDT"}, "pairs"),
    ({**VALID, "pairs": ["btc/usdt"]}, "pairs"),
    ({**VALID, "pairs": ["BTCUSDT"]}, "pairs"),
    ({**VALID, "pairs": ["BTC/USDT", "BTC/USDT"]}, "pairs"),
    ({**VALID, "pairs": [f"C{i}/USDT" for i in range(51)]}, "pairs"),
    ({**VALID, "pairs": ["BTC/USDT", 7]}, "pairs"),
    ({**VALID, "experiment_name": "   "}, "experiment_name"),
    ({**VALID, "experiment_name": "a\nb"}, "experiment_name"),
    ({**VALID, "trace_id": "has space"}, "trace_id"),
    ({**VALID, "trace_id": 12}, "trace_id"),
])
def test_invalid_requests_name_the_field(body, field):
    with pytest.raises(InvalidRequest) as raised:
        parse(body)

    assert raised.value.field == field
    assert str(raised.value).startswith(f"invalid backtest request: {field}=")
    assert "allowed:" in str(raised.value)


def test_fifty_pairs_are_allowed():
    assert len(parse({**VALID, "pairs": [f"C{i}/USDT" for i in range(50)]}).pairs) == 50


def test_long_values_are_cut_in_the_message():
    with pytest.raises(InvalidRequest) as raised:
        parse({**VALID, "strategy": "x" * 10_000})
    assert len(str(raised.value)) < 400


def test_unknown_fields_are_ignored():
    assert parse({**VALID, "priority": "high"}).strategy == "PascalStrategy"


# --- settings helpers -------------------------------------------------------------------------------------------

def test_settings_helpers_parse_valid_values():
    env = {"A": " x ", "N": "15", "M": "ecs", "L": "subnet-0a1b2c3d, subnet-0a1b2c3d,,subnet-1a2b3c4d"}

    assert env_.required(env, "A") == "x"
    assert env_.optional(env, "MISSING", "d") == "d"
    assert env_.positive_int(env, "N") == 15
    assert env_.positive_int(env, "MISSING", default=3) == 3
    assert env_.one_of(env, "M", ("ecs", "stepfunctions")) == "ecs"
    assert env_.one_of(env, "MISSING", ("ecs", "stepfunctions"), default="ecs") == "ecs"
    assert env_.csv(env, "L", r"subnet-[0-9a-f]{8,17}") == ("subnet-0a1b2c3d", "subnet-1a2b3c4d")


@pytest.mark.parametrize("call, message", [
    (lambda env: env_.required(env, "A"), "configuration error: A=None; allowed: a non-empty value"),
    (lambda env: env_.required({"A": "a b"}, "A", r"\S+", "one word"),
     "configuration error: A='a b'; allowed: one word"),
    (lambda env: env_.positive_int({"N": "-1"}, "N", unit="minutes"),
     "configuration error: N='-1'; allowed: a positive whole number of minutes"),
    (lambda env: env_.positive_int({"N": "99"}, "N", maximum=10),
     "configuration error: N='99'; allowed: a positive whole number up to 10"),
    (lambda env: env_.one_of({"M": "lambda"}, "M", ("ecs", "stepfunctions"), default="ecs"),
     "configuration error: M='lambda'; allowed: one of ecs, stepfunctions (default ecs)"),
    (lambda env: env_.csv({"L": " , "}, "L"), "configuration error: L=' , '; allowed: a comma-separated list"),
    (lambda env: env_.csv({"L": "a,b,c"}, "L", max_items=2),
     "configuration error: L='a,b,c'; allowed: a comma-separated list, at most 2"),
])
def test_settings_helpers_name_variable_value_and_allowed(call, message):
    with pytest.raises(SettingsError) as raised:
        call({})
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)


def test_consumer_settings_by_launch_mode():
    ecs_env = {"ECS_CLUSTER": "arn:aws:ecs:eu-central-1:123456789012:cluster/tradai-dev",
               "TASK_FAMILY": "strategy-container-dev", "CAPACITY_PROVIDER": "FARGATE_SPOT",
               "TASK_SUBNETS": "subnet-0a1b2c3d4e5f60718,subnet-1a1b2c3d4e5f60718",
               "TASK_SECURITY_GROUPS": "sg-0a1b2c3d4e5f60718", "WORKFLOW_STATE_TABLE": "tradai-workflow-state-dev",
               "IDEMPOTENCY_TABLE": "tradai-idempotency-dev", "RUN_TTL_DAYS": "90"}

    ecs = consumer_settings(ecs_env)
    assert (ecs.launch_mode, ecs.ecs.task_family, ecs.ecs.subnets[1]) == ("ecs", "strategy-container-dev",
                                                                        "subnet-1a1b2c3d4e5f60718")
    sfn = consumer_settings({"LAUNCH_MODE": "stepfunctions", "WORKFLOW_STATE_TABLE": "t-1", "IDEMPOTENCY_TABLE": "t-2",
                             "RUN_TTL_DAYS": "30", "STEP_FUNCTIONS_ARN":
                                 "arn:aws:states:eu-central-1:123456789012:stateMachine:tradai-backtest-workflow-dev"})
    assert sfn.ecs is None and sfn.state_machine_arn.endswith(":tradai-backtest-workflow-dev")
    with pytest.raises(SettingsError, match="^configuration error: ECS_TASK_PREFIX='live-'; allowed: a prefix of"):
        consumer_settings({**ecs_env, "ECS_TASK_PREFIX": "live-"})
