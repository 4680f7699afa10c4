"""AWS client creation and error classification shared by every handler."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# botocore's own retries absorb short hiccups; what outlasts them is re-raised as transient.
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=15)

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "EC2ThrottledException",
        "SlowDown",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "Unavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)

STOP_REASON_MAX = 255  # ECS StopTask takes a reason of at most 255 characters


def client(service: str) -> Any:
    """A client for ``service`` in the function's region (AWS_ENDPOINT_URL is honoured by boto3)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client(service, region_name=region, config=BOTO_CONFIG)


@functools.cache
def cached_client(service: str) -> Any:
    """``client(service)``, created once per execution environment (cold start) and reused.

    Tests that swap the boto3 session (moto) call ``cached_client.cache_clear()``; botocore copies the
    session's event hooks into a client when it is created, so register hooks before the first call.
    """
    return client(service)


def error_code(exc: Exception) -> str:
    """The AWS error code of a ClientError, else the exception's class name."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "Unknown")
    return type(exc).__name__


def is_transient(exc: Exception) -> bool:
    """Throttling, 5xx and connection failures: worth another attempt, not a verdict."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in TRANSIENT_CODES or status >= 500
    return isinstance(exc, BotoCoreError)


def stop_task(client: Any, cluster: str, task_arn: str, reason: str) -> bool:
    """StopTask (stopping a stopped task is accepted); False when ECS does not know the task."""
    try:
        client.stop_task(cluster=cluster, task=task_arn, reason=reason[:STOP_REASON_MAX])
    except ClientError as exc:
        if error_code(exc) == "InvalidParameterException" and "not found" in str(exc).lower():
            return False
        raise
    return True


@dataclass(frozen=True)
class RunTaskOutcome:
    """A started task's ARN, or why ECS could not start one (RunTask ``failures``)."""

    task_arn: str | None = None
    failure: str | None = None

    @classmethod
    def from_response(cls, response: dict[str, Any]) -> RunTaskOutcome:
        tasks = response.get("tasks") or []
        if tasks:
            return cls(task_arn=tasks[0]["taskArn"])
        reasons = (
            "; ".join(
                " ".join(str(part) for part in (f.get("reason"), f.get("detail"), f.get("arn")) if part)
                for f in response.get("failures") or []
            )
            or "RunTask returned neither a task nor a failure"
        )
        return cls(failure=reasons)
