"""Handler of `tradai-data-collection-proxy` (Step Functions task in the VPC, 180 s; entry point
``backtest.data_collection_proxy.handler``).

Input: the workflow input (pairs comma-joined, or a list), at least "pairs", "timeframe", "timerange",
"trace_id". POSTs {"pairs": [...], "timeframe", "timerange", "trace_id"} as JSON to DATA_COLLECTION_URL
with the header X-Trace-Id, leaving 10 s of the invocation for the answer.
Output on 2xx: {"synced": true, "status": <code>, "body": <parsed JSON, or the text cut to 1 KB>}.
Errors: DataSyncRejected for a 3xx/4xx answer (the request is wrong; the state machine does not retry
it), DataSyncUnavailable for 5xx, 408, 429, a timeout or a connection failure (retried).
Env: DATA_COLLECTION_URL.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from .observability import logger, metrics, tracer
from .settings import data_collection_url

RESERVE_SECONDS = 10  # kept back from the invocation's remaining time
MIN_TIMEOUT_SECONDS = 1.0
MAX_TEXT_BYTES = 1024  # a non-JSON body is returned cut to this size
MAX_JSON_BYTES = 32 * 1024  # a larger JSON body is returned as cut text (state payloads are limited)
RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})


class DataSyncRejected(Exception):
    """data-collection refused the request (3xx/4xx): retrying the same request cannot help."""


class DataSyncUnavailable(Exception):
    """data-collection could not be reached or failed (5xx, 408, 429, timeout, connection): worth a retry."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (reported as rejected), not something to follow with a POST."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@functools.cache
def settings() -> str:
    """The sync endpoint URL; read and validated once per cold start."""
    return data_collection_url(os.environ)


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    url = settings()
    payload = sync_payload(event)
    logger.append_keys(run_id=event.get("run_id"), trace_id=payload["trace_id"])
    timeout = max(MIN_TIMEOUT_SECONDS, context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS)
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json", "X-Trace-Id": payload["trace_id"]},
    )
    started = time.monotonic()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read(MAX_JSON_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise _http_failure(url, exc, time.monotonic() - started) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        logger.warning(
            "data-collection unreachable",
            extra={"url": url, "error": repr(reason), "seconds": round(time.monotonic() - started, 3)},
        )
        raise DataSyncUnavailable(
            f"data-collection unreachable at {url}: {reason!r} (timeout {timeout:.0f} s)"
        ) from None
    logger.info("data synced", extra={"status": status, "seconds": round(time.monotonic() - started, 3)})
    return {"synced": True, "status": status, "body": _body(raw)}


def sync_payload(event: Any) -> dict[str, Any]:
    """The data-collection request for a workflow input; ValueError naming a missing or malformed field."""
    if not isinstance(event, dict):
        raise ValueError(f"input must be a JSON object (the workflow input), got {type(event).__name__}")
    pairs = event.get("pairs")
    if isinstance(pairs, str):
        pairs = [pair.strip() for pair in pairs.split(",") if pair.strip()]
    if not (isinstance(pairs, list) and pairs and all(isinstance(pair, str) for pair in pairs)):
        raise ValueError(f"pairs={event.get('pairs')!r}: a comma-joined string or a list of pairs is required")
    for field in ("timeframe", "timerange", "trace_id"):
        if not isinstance(event.get(field), str) or not event[field].strip():
            raise ValueError(f"{field}={event.get(field)!r}: a non-empty string is required")
    if any(ch in event["trace_id"] for ch in "\r\n"):
        raise ValueError(f"trace_id={event['trace_id']!r}: must not contain line breaks")
    return {
        "pairs": pairs,
        "timeframe": event["timeframe"],
        "timerange": event["timerange"],
        "trace_id": event["trace_id"],
    }


def _http_failure(url: str, exc: urllib.error.HTTPError, seconds: float) -> Exception:
    try:
        snippet = exc.read(MAX_TEXT_BYTES).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the status is what matters; the body is a courtesy
        snippet = ""
    retryable = exc.code >= 500 or exc.code in RETRYABLE_CLIENT_ERRORS
    log = logger.warning if retryable else logger.error
    log(
        "data-collection answered with an error",
        extra={"url": url, "status": exc.code, "body": snippet, "seconds": round(seconds, 3)},
    )
    error = DataSyncUnavailable if retryable else DataSyncRejected
    return error(f"data-collection answered {exc.code} {exc.reason} at {url}: {snippet[:300]}")


def _body(raw: bytes) -> Any:
    if len(raw) <= MAX_JSON_BYTES:
        try:
            return json.loads(raw)
        except ValueError:
            pass
    return raw[:MAX_TEXT_BYTES].decode("utf-8", "replace")
