"""What the three scheduled operations handlers share: the trigger log and the failure collector.

Every run handles all of its items (services, strategies, stacks) even when some fail: each failure is
logged where it happens and collected, and after the last item ``Failures.raise_if_any`` fails the
invocation, so Lambda's Errors metric (and its alarm) sees it and an asynchronous retry runs again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import error_code, is_transient

from .observability import logger


def error_text(exc: Exception) -> str:
    """The error code and message of an AWS error (without botocore's "An error occurred" prefix) or exception."""
    message = exc.response.get("Error", {}).get("Message", "") if isinstance(exc, ClientError) else str(exc)
    return f"{error_code(exc)}: {message}"


class IncompleteRun(RuntimeError):
    """Some items of the run could not be handled; each was logged with its cause."""


class Failures:
    """The items of one run that failed, by name, with the first exception of each."""

    def __init__(self, kind: str):
        self.kind = kind  # what the items are, e.g. "services"
        self.failed: dict[str, Exception] = {}

    def add(self, name: str, exc: Exception) -> None:
        self.failed.setdefault(name, exc)

    @contextmanager
    def guard(self, name: str, **log_keys: Any) -> Iterator[None]:
        """Run the block for one item; an exception is logged and collected instead of ending the run."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - collected and raised by raise_if_any after the other items
            logger.exception(
                f"{name}: {error_code(exc)}; the run goes on and fails at its end",
                extra={
                    "item": name,
                    "error_code": error_code(exc),
                    "error": str(exc),
                    "transient": is_transient(exc),
                    **log_keys,
                },
            )
            self.add(name, exc)

    def raise_if_any(self) -> None:
        if not self.failed:
            return
        causes = "; ".join(f"{name}: {error_text(exc)}" for name, exc in self.failed.items())
        raise IncompleteRun(f"{len(self.failed)} {self.kind} not handled: {causes}"[:2000]) from next(
            iter(self.failed.values())
        )


def log_trigger(event: Any) -> None:
    """The schedule's event carries nothing the checks need; log it, and run whatever it is."""
    if isinstance(event, dict) and event.get("detail-type") == "Scheduled Event":
        resources = event.get("resources")
        logger.info(
            "scheduled run",
            extra={
                "event_id": event.get("id"),
                "event_time": event.get("time"),
                "rule": resources[0] if isinstance(resources, list) and resources else None,
            },
        )
    else:
        logger.warning(
            "not an EventBridge scheduled event; ignored, the check runs anyway", extra={"event": repr(event)[:500]}
        )
