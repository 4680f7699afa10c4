"""What several drills share: the deployed function of a config name, scheduled events, table scans, stubs."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from .. import ACCOUNT, REGION
from ..smoke.model import CheckContext, Resource, StackView
from .invoke import DrillFailure

_DESERIALIZER = TypeDeserializer()


def deployed_function(ctx: CheckContext, key: str) -> tuple[StackView, Resource]:
    """The stack view and function resource of config Lambda ``key`` (e.g. "health-check")."""
    name = ctx.cfg.function_name(key)
    for view in ctx.views.values():
        for fn in view.of_type("AWS::Lambda::Function"):
            if fn.physical_id == name:
                return view, fn
    raise DrillFailure(f"{name} is not deployed")


def function_environment(ctx: CheckContext, key: str) -> dict[str, str]:
    """The deployed function's environment variables."""
    conf = ctx.client("lambda").get_function_configuration(FunctionName=ctx.cfg.function_name(key))
    return conf.get("Environment", {}).get("Variables", {})


def scheduled_event(rule: str = "drill", at: datetime | None = None) -> dict:
    """The event an EventBridge schedule rule delivers to its target."""
    moment = at or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"],
        "detail": {},
    }


def plain(item: dict) -> dict[str, Any]:
    """A DynamoDB item (attribute-value map) as plain Python values."""
    return {key: _DESERIALIZER.deserialize(value) for key, value in item.items()}


def scan(ctx: CheckContext, table: str) -> list[dict[str, Any]]:
    """Every item of the table, as plain values."""
    pages = ctx.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return [plain(item) for page in pages for item in page.get("Items", [])]


def get_item(ctx: CheckContext, table: str, key: dict[str, str]) -> dict[str, Any] | None:
    item = (
        ctx.client("dynamodb")
        .get_item(TableName=table, ConsistentRead=True, Key={k: {"S": v} for k, v in key.items()})
        .get("Item")
    )
    return plain(item) if item else None


def notifications_from(ctx: CheckContext, function_name: str) -> list[dict[str, Any]]:
    """tradai-notifications items whose source is the function (shared.notify records the sender)."""
    return [item for item in scan(ctx, ctx.cfg.naming.name("notifications")) if item.get("source") == function_name]


def lines(title: str, steps: list[str]) -> str:
    """A drill's multi-line detail."""
    return "\n      ".join([title, *steps])


def expect(condition: object, what: str, outcome: Any = None) -> None:
    """Raise DrillFailure naming ``what`` (and the handler's answer or log) unless ``condition``."""
    if not condition:
        raise DrillFailure(what if outcome is None else f"{what}; got {_short(outcome)}")


def _short(outcome: Any) -> str:
    result, log = getattr(outcome, "result", outcome), getattr(outcome, "log", "")
    text = json.dumps(result, default=str) if not isinstance(result, str) else result
    return text[:1500] + (f"; log: {log[-1500:]}" if log else "")


class HealthStub:
    """A loopback HTTP server answering GET ``path`` with ``status`` (404 elsewhere), like a service's health
    endpoint; ``requests`` records the paths asked for. Use as a context manager, or ``close()``."""

    def __init__(self, path: str, status: int = 200):
        self.requests: list[str] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                code = status if self.path == path else 404
                body = json.dumps({"status": "ok" if code < 400 else "failing"}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.host, self.port = "127.0.0.1", self._server.server_port

    def __enter__(self) -> HealthStub:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


PAUSE_SECONDS = (0.02, 0.2)  # wait_for's first and longest pause between probes


def wait_for(probe: Callable[[], Any], what: str, diagnose: Callable[[], Any] = lambda: "", seconds: int = 60) -> Any:
    """``probe()``'s first truthy answer, polled after pauses growing from 20 ms to 0.2 s (a quick answer is seen
    at once, a slow one costs few probes); DrillFailure after ``seconds`` (with ``diagnose()``)."""
    deadline, pause = time.monotonic() + seconds, PAUSE_SECONDS[0]
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(pause)
        pause = min(pause * 2, PAUSE_SECONDS[1])
    raise DrillFailure(f"timed out after {seconds} s waiting for {what}: {diagnose()}")
