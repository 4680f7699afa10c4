"""What the handler families' moto fixtures share (backtest, operations, ML lifecycle; conftest's ``aws``).

The Lambda context, cold starts (clearing every per-cold-start cache of a family and of ``shared``), the
environment object with clients, error injection, the alerts topic with a queue subscribed, the notifications
table, EMF metric parsing and the families' Powertools loggers. Each family's fixtures module builds on these
and keeps what is its own.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, ClassVar, Iterator, Optional

import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from shared.ddb import unmarshal

from .conftest import REGION, client_response, error_response

ACCOUNT = DEFAULT_ACCOUNT_ID
ENV = "dev"
NOTIFICATIONS_TABLE = f"tradai-notifications-{ENV}"


@dataclass
class LambdaContext:
    """The Lambda context attributes the handlers and Powertools read; ``remaining_ms`` is settable.

    Each family subclasses it with its own defaults (function name, remaining time, request id).
    """

    function_name: str = f"tradai-test-{ENV}"
    remaining_ms: int = 30_000
    memory_limit_in_mb: int = 256
    aws_request_id: str = "8d7e0d5a-0000-4000-8000-000000000001"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


# --- cold starts --------------------------------------------------------------------------------------------------

def package_caches(*packages: str) -> list[Callable]:
    """Every functools cache defined in the loaded modules of ``packages`` and of ``shared`` (settings, clients,
    repositories, the notifier, the MLflow client and its secret)."""
    roots = ("shared", *packages)
    submodules = tuple(f"{root}." for root in roots)
    caches: list[Callable] = []
    for name, module in list(sys.modules.items()):
        if module is not None and (name in roots or name.startswith(submodules)):
            caches.extend(value for value in vars(module).values()
                          if callable(value) and hasattr(value, "cache_clear")
                          and getattr(value, "__module__", None) == name)
    return caches


def clear_package_caches(*packages: str) -> None:
    """A new cold start: settings are read again and clients are created again (with the current hooks)."""
    for cache in package_caches(*packages):
        cache.cache_clear()


def cold_start_fixture(clear: Callable[[], None]) -> Callable:
    """A ``cold_start`` fixture: ``clear`` before and after the test; the test gets ``clear``."""

    @pytest.fixture
    def cold_start():
        clear()
        yield clear
        clear()

    return cold_start


# --- moto resources -----------------------------------------------------------------------------------------------

def create_table(dynamodb: Any, name: str, key: str, ttl: Optional[str] = None, sort: Optional[str] = None,
                 **extra: Any) -> None:
    """An on-demand table keyed by ``key`` (and ``sort``), both strings; ``extra["attributes"]`` adds attribute
    definitions (for indexes), other ``extra`` goes to CreateTable; ``ttl`` names the TTL attribute."""
    keys = [key] if sort is None else [key, sort]
    attributes = [{"AttributeName": name_, "AttributeType": "S"} for name_ in keys] + extra.pop("attributes", [])
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=attributes,
                          KeySchema=[{"AttributeName": k, "KeyType": kind} for k, kind in zip(keys, ("HASH", "RANGE"))],
                          **extra)
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})


def string_attributes(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def create_notifications_table(dynamodb: Any) -> None:
    """tradai-notifications (shared.notify's table)."""
    create_table(dynamodb, NOTIFICATIONS_TABLE, "notification_id", "expire_at")


def alerts_topic(session: Any) -> tuple[str, str]:
    """The alerts topic and a queue subscribed to it: (topic ARN, queue URL)."""
    sns, sqs = session.client("sns"), session.client("sqs")
    topic_arn = sns.create_topic(Name=f"tradai-alerts-{ENV}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


def pass_state_machine(session: Any, name: str, role: str) -> str:
    """A one-state Pass machine standing in for a workflow; its ARN."""
    return session.client("stepfunctions").create_state_machine(
        name=name, roleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]


@dataclass
class MotoEnv:
    """moto resources of a handler family, its environment and clients to inspect them.

    ``packages`` names the family's packages: ``set_env`` clears their caches (a cold start).
    """

    session: Any
    monkeypatch: Any
    topic_arn: str
    alerts_queue_url: str
    clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    packages: ClassVar[tuple[str, ...]] = ()

    def client(self, service: str) -> Any:
        """The test's own client (created once: client creation is the slowest part of a moto test)."""
        if service not in self.clients:
            self.clients[service] = self.session.client(service)
        return self.clients[service]

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    def set_env(self, **values: Optional[str]) -> None:
        """Change the functions' environment (None removes a variable) and start them cold."""
        for name, value in values.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)
        clear_package_caches(*self.packages)

    def items(self, table: str) -> list[dict[str, Any]]:
        return [unmarshal(item) for item in self.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]]

    def notifications(self) -> dict[str, dict[str, Any]]:
        """tradai-notifications items by notification_id."""
        return {item["notification_id"]: item for item in self.items(NOTIFICATIONS_TABLE)}

    def alerts(self) -> list[dict[str, Any]]:
        """SNS notifications delivered (since the last call) to the queue subscribed to the alerts topic."""
        sqs, found = self.client("sqs"), []
        while True:
            messages = sqs.receive_message(QueueUrl=self.alerts_queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.alerts_queue_url, ReceiptHandle=message["ReceiptHandle"])

    def executions(self, state_machine_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        return [sfn.describe_execution(executionArn=e["executionArn"])
                for e in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]]

    def fail(self, service_id: str, operation: str, code: str, times: int = 1, *, status: int = 400,
             response: Optional[dict] = None, message: Optional[str] = None,
             when: Optional[Callable[[dict], bool]] = None, first: bool = False) -> list[int]:
        """The next ``times`` calls (whose API parameters satisfy ``when``) fail with ``code`` (HTTP ``status``),
        or return ``response``.

        Register before the handler's first call (clients copy the session's hooks when created); ``first``
        puts the hook ahead of stubs registered earlier. Returns a one-item list counting the calls answered.
        """
        answered = [0]

        def hook(params: dict, **_kwargs: Any):
            if answered[0] >= times:
                return None
            if when is not None:
                body = params["body"]
                if not when(json.loads(body) if isinstance(body, (bytes, str)) and body else body):
                    return None
            answered[0] += 1
            if response is not None:
                return client_response(200, json.loads(json.dumps(response)))
            if status >= 500:
                return client_response(status, {"Error": {"Code": code, "Message": f"injected {operation}"}})
            return error_response(code, message or f"injected {operation} failure")

        register = self.session.events.register_first if first else self.session.events.register
        register(f"before-call.{service_id}.{operation}", hook)
        return answered


# --- events, logs and metrics -------------------------------------------------------------------------------------

def scheduled_event(rule: str, time: Optional[str] = None, event_id: Optional[str] = None) -> dict[str, Any]:
    """An EventBridge scheduled event as the rule delivers it (``time`` defaults to now, the id to a new one)."""
    return {"version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": ACCOUNT,
            "time": time or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"], "detail": {}}


def ago(**delta: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(**delta)


def service_logs(caplog, service: str) -> Iterator[Any]:
    """Body of a family's logs fixture: caplog for the Powertools logger named after ``service``."""
    logger = logging.getLogger(service)
    attach = not logger.propagate  # Powertools may or may not let records propagate to the root logger
    if attach:
        logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger=service)
    yield caplog
    if attach:
        logger.removeHandler(caplog.handler)


def service_errors(caplog, service: str) -> list[logging.LogRecord]:
    """ERROR records of the ``service`` logger (Powertools' tracer logs exceptions separately)."""
    return [record for record in caplog.records if record.levelno >= logging.ERROR and record.name == service]


def emf_values(capsys, namespace: str) -> list[tuple[str, float, dict[str, Any]]]:
    """(name, value, dimensions) of every metric of every EMF document printed so far (namespace checked)."""
    found = []
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        for definition in document.get("_aws", {}).get("CloudWatchMetrics", []):
            assert definition["Namespace"] == namespace
            dimensions = {name: document[name] for names in definition.get("Dimensions", []) for name in names}
            for metric in definition["Metrics"]:
                value = document[metric["Name"]]
                for each in value if isinstance(value, list) else [value]:
                    found.append((metric["Name"], each, dimensions))
    return found
