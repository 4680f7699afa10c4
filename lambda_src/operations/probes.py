"""HTTP health probes of service instances (stdlib urllib; redirects are answers, not followed)."""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request
from typing import Any

from .health import ProbeResult

USER_AGENT = "tradai-health-check"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a 3xx answer is a pass; its target is not probed
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def probe(url: str | None, problem: str | None, timeout: float) -> ProbeResult:
    """GET ``url`` once: 2xx and 3xx pass. ``problem``: why the instance has no URL (it then fails unprobed)."""
    if url is None:
        return ProbeResult(None, False, None, problem or "no address")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT}, method="GET")
    started = time.monotonic()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    except TimeoutError:
        return ProbeResult(url, False, None, f"timed out after {timeout:g} s")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return ProbeResult(url, False, None, f"timed out after {timeout:g} s")
        return ProbeResult(url, False, None, f"connection failed: {reason}")
    except (OSError, ValueError, http.client.HTTPException) as exc:  # resets, malformed answers, bad URLs
        return ProbeResult(url, False, None, f"{type(exc).__name__}: {exc}")
    latency_ms = round((time.monotonic() - started) * 1000)
    if 200 <= status < 400:
        return ProbeResult(url, True, latency_ms, None)
    return ProbeResult(url, False, latency_ms, f"HTTP {status}")
