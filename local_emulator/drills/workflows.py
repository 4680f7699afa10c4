"""Letting moto's Step Functions interpreter run a deployed state machine, its Lambda tasks in-process.

moto's CloudFormation puts state machines in its plain Step Functions backend; executions run only in its
interpreter backend (``execute_state_machine``), so a drill copies the deployed definition there (same ARN)
and routes the machine's Lambda tasks to the deployed handlers (harness patch 8).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from moto.core.config import default_user_config
from moto.stepfunctions.models import stepfunctions_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from .. import ACCOUNT, REGION, patches
from ..smoke.model import CheckContext
from .invoke import DrillFailure, invoke_in_process
from .support import deployed_function, wait_for

GATE_SECONDS = 60
_FUNCTION_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]+)")


def interpret(ctx: CheckContext, name: str):
    """Enable executions and copy the deployed machine ``name`` into the interpreter; returns the deployed one."""
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    os.environ["MOTO_PORT"] = ctx.aws_env["AWS_ENDPOINT_URL"].rsplit(":", 1)[1]
    machine = next((m for m in stepfunctions_backends[ACCOUNT][REGION].state_machines if m.name == name), None)
    if machine is None:
        raise DrillFailure(f"state machine {name} is not deployed")
    interpreter = stepfunctions_parser_backends[ACCOUNT][REGION]
    if not any(m.arn == machine.arn for m in interpreter.state_machines):
        interpreter.create_state_machine(name=machine.name, definition=machine.definition, roleArn=machine.roleArn)
    return machine


def task_functions(definition: str) -> list[str]:
    """Names of the Lambda functions a state machine definition invokes, in order of first use."""
    return list(dict.fromkeys(_FUNCTION_ARN.findall(definition)))


def route(
    ctx: CheckContext, key: str, overrides: dict[str, str] | None = None, gate: threading.Event | None = None
) -> str:
    """Run the deployed function of config name ``key`` in-process when a state machine invokes it; with a
    ``gate``, each invocation first waits (at most GATE_SECONDS) until the drill opens it."""
    view, fn = deployed_function(ctx, key)

    def handle(payload):
        if gate is not None and not gate.wait(GATE_SECONDS):
            raise DrillFailure(f"{fn.physical_id}: the drill never let the task run")
        return invoke_in_process(ctx, view, fn, payload, overrides).result

    patches.LAMBDA_ROUTES[fn.physical_id] = handle
    return fn.physical_id


def entered_states(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The states an execution entered, in order (GetExecutionHistory events)."""
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def events(ctx: CheckContext, execution_arn: str) -> list[dict]:
    """The execution's history events."""
    return ctx.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def states(ctx: CheckContext, execution_arn: str) -> list[str]:
    """The states the execution entered, in order."""
    return entered_states(events(ctx, execution_arn))


def history(ctx: CheckContext, execution_arn: str) -> list[str]:
    """The states the execution entered, then each failure or time-out (a drill's diagnosis)."""
    found = events(ctx, execution_arn)
    failed = [
        f"{e['type']}: {next((v for k, v in e.items() if k.endswith('EventDetails')), '')}"
        for e in found
        if "Failed" in e["type"] or "TimedOut" in e["type"]
    ]
    return [f"states: {' > '.join(entered_states(found))}", *failed]


def finished(ctx: CheckContext, execution_arn: str) -> dict:
    """DescribeExecution's answer once the execution is no longer RUNNING (DrillFailure with its history after 60 s)."""
    client = ctx.client("stepfunctions")

    def ended() -> dict | None:
        execution = client.describe_execution(executionArn=execution_arn)
        return execution if execution["status"] != "RUNNING" else None

    return wait_for(ended, f"execution {execution_arn.split(':')[-1]} to end", lambda: history(ctx, execution_arn))
