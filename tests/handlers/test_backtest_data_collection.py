"""data-collection-proxy against a local HTTP server (a thread in this process): 2xx, 4xx, 5xx, timeout."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from backtest import data_collection_proxy as proxy
from shared.settings import SettingsError

from .backtest_fixtures import Context, cold_start  # noqa: F401

WORKFLOW_INPUT = {
    "run_id": "0b6c1f3e-3d7a-4c51-9a07-2f0d4e8b9c11", "job_id": "0b6c1f3e-3d7a-4c51-9a07-2f0d4e8b9c11",
    "trace_id": "trace-abc-123", "strategy": "PascalStrategy", "strategy_id": "pascal-btc", "trading_mode": "backtest",
    "timeframe": "1h", "timerange": "20240101-20240301", "pairs": "BTC/USDT,ETH/USDT", "experiment_name": "default",
}


@dataclass
class DataCollection:
    """What the fake data-collection service answers, and what it received."""

    status: int = 200
    body: bytes = b'{"synced_pairs": 2, "rows": 1440}'
    content_type: str = "application/json"
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""


@pytest.fixture
def data_collection(monkeypatch, cold_start):
    service = DataCollection()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            service.requests.append({"path": self.path, "headers": dict(self.headers),
                                     "body": json.loads(self.rfile.read(length))})
            if service.delay:
                service.release.wait(service.delay)  # released at teardown: no test waits for it
            self.send_response(service.status)
            self.send_header("Content-Type", service.content_type)
            self.send_header("Content-Length", str(len(service.body)))
            self.end_headers()
            self.wfile.write(service.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    service.url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/data/sync"
    monkeypatch.setenv("DATA_COLLECTION_URL", service.url)
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    proxy.settings.cache_clear()
    yield service
    service.release.set()
    server.shutdown()
    server.server_close()


def invoke(event=None, remaining_ms: int = 170_000):
    return proxy.handler(dict(WORKFLOW_INPUT) if event is None else event,
                         Context(remaining_ms=remaining_ms, function_name="tradai-data-collection-proxy-dev"))


def test_2xx_returns_synced_with_the_parsed_body_and_posts_the_sync_request(data_collection):
    result = invoke()

    assert result == {"synced": True, "status": 200, "body": {"synced_pairs": 2, "rows": 1440}}
    [request] = data_collection.requests
    assert request["path"] == "/api/v1/data/sync"
    assert request["body"] == {"pairs": ["BTC/USDT", "ETH/USDT"], "timeframe": "1h",
                               "timerange": "20240101-20240301", "trace_id": "trace-abc-123"}
    assert request["headers"]["X-Trace-Id"] == "trace-abc-123"
    assert request["headers"]["Content-Type"] == "application/json"


def test_2xx_text_body_is_returned_cut_to_1_kb(data_collection):
    data_collection.status, data_collection.content_type = 202, "text/plain"
    data_collection.body = b"accepted " * 500

    result = invoke()

    assert result["status"] == 202 and result["synced"] is True
    assert result["body"] == ("accepted " * 500)[:1024]


@pytest.mark.parametrize("status", [400, 404, 422])
def test_4xx_raises_data_sync_rejected(data_collection, status):
    data_collection.status, data_collection.body = status, b'{"detail": "unknown pair FOO/BAR"}'

    with pytest.raises(proxy.DataSyncRejected, match=f"answered {status} .*unknown pair FOO/BAR"):
        invoke()


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_5xx_and_429_raise_data_sync_unavailable(data_collection, status):
    data_collection.status, data_collection.body = status, b"upstream exchange timeout"

    with pytest.raises(proxy.DataSyncUnavailable, match=f"answered {status}"):
        invoke()


def test_timeout_leaves_ten_seconds_of_the_invocation_and_raises_unavailable(data_collection, monkeypatch):
    monkeypatch.setattr(proxy, "MIN_TIMEOUT_SECONDS", 0.05)
    data_collection.delay = 30

    with pytest.raises(proxy.DataSyncUnavailable, match="unreachable"):
        invoke(remaining_ms=10_200)  # 0.2 s left for the request once 10 s are kept back

    assert len(data_collection.requests) == 1


def test_connection_refused_raises_unavailable(data_collection, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    monkeypatch.setenv("DATA_COLLECTION_URL", f"http://127.0.0.1:{port}/api/v1/data/sync")
    proxy.settings.cache_clear()

    with pytest.raises(proxy.DataSyncUnavailable, match="unreachable"):
        invoke()


def test_redirect_is_not_followed_and_is_rejected(data_collection):
    data_collection.status, data_collection.body = 307, b""

    with pytest.raises(proxy.DataSyncRejected, match="answered 307"):
        invoke()
    assert len(data_collection.requests) == 1


@pytest.mark.parametrize("event, field", [
    ({**WORKFLOW_INPUT, "pairs": ""}, "pairs"),
    ({**WORKFLOW_INPUT, "pairs": None}, "pairs"),
    ({key: value for key, value in WORKFLOW_INPUT.items() if key != "timerange"}, "timerange"),
    ({**WORKFLOW_INPUT, "trace_id": "a\r\nX-Injected: 1"}, "trace_id"),
])
def test_malformed_input_raises_value_error_naming_the_field(data_collection, event, field):
    with pytest.raises(ValueError, match=f"^{field}="):
        invoke(event)
    assert data_collection.requests == []


def test_pairs_may_also_be_a_list(data_collection):
    invoke({**WORKFLOW_INPUT, "pairs": ["SOL/USDT"]})

    assert data_collection.requests[0]["body"]["pairs"] == ["SOL/USDT"]


@pytest.mark.parametrize("value", [None, "data-collection:8002", "ftp://data-collection/sync"])
def test_invalid_url_setting_names_the_variable(data_collection, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("DATA_COLLECTION_URL")
    else:
        monkeypatch.setenv("DATA_COLLECTION_URL", value)
    proxy.settings.cache_clear()

    with pytest.raises(SettingsError, match="^configuration error: DATA_COLLECTION_URL="):
        invoke()
