"""Fixtures and helpers for the operations handler tests (moto in-process; see conftest's `aws` and moto_fixtures).

Test modules import the fixtures they use from here (`from .operations_fixtures import ...`).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

import pytest
from moto.cloudformation.models import cloudformation_backends

from operations import contract, health_check, heartbeat_check, infra_drift  # noqa: F401
from shared.ddb import marshal, unmarshal

from .conftest import REGION, client_response, error_response
from .moto_fixtures import (ACCOUNT, ENV, NOTIFICATIONS_TABLE, LambdaContext, MotoEnv, ago,  # noqa: F401
                            alerts_topic, clear_package_caches, cold_start_fixture, create_notifications_table,
                            create_table, emf_values, service_logs, string_attributes)
from .moto_fixtures import scheduled_event as _scheduled_event

HEALTH_TABLE = f"tradai-health-state-{ENV}"
TRADING_TABLE = f"tradai-trading-state-{ENV}"
DRIFT_TABLE = f"tradai-infra-drift-state-{ENV}"
NAMESPACE = f"tradai-{ENV}.local"
STACKS = (f"tradai-foundation-{ENV}", f"tradai-compute-{ENV}")


@dataclass
class Context(LambdaContext):
    function_name: str = f"tradai-health-check-{ENV}"
    remaining_ms: int = 300_000
    aws_request_id: str = "8d7e0d5a-0000-4000-8000-000000000002"


def scheduled_event(rule: str = "tradai-health-check-dev-schedule") -> dict[str, Any]:
    """An EventBridge scheduled event exactly as the schedule delivers it."""
    return _scheduled_event(rule)


def clear_caches() -> None:
    """A new cold start of the operations handlers (settings, clients, checkers)."""
    clear_package_caches("operations")


cold_start = cold_start_fixture(clear_caches)


@dataclass
class OpsEnv(MotoEnv):
    """moto resources of the operations functions and clients to inspect them."""

    packages = ("operations",)

    def item(self, table: str, **key: str) -> Optional[dict[str, Any]]:
        found = self.dynamodb.get_item(TableName=table, Key=marshal(key), ConsistentRead=True).get("Item")
        return unmarshal(found) if found else None

    def put(self, table: str, **item: Any) -> None:
        self.dynamodb.put_item(TableName=table, Item=marshal(item))


def _create_tables(dynamodb: Any) -> None:
    create_table(dynamodb, HEALTH_TABLE, "service_name", "expires_at")
    create_table(dynamodb, TRADING_TABLE, "strategy_id", "ttl")
    create_notifications_table(dynamodb)
    create_table(dynamodb, DRIFT_TABLE, "stack_name", None, attributes=string_attributes("has_drift", "last_check"),
                 GlobalSecondaryIndexes=[{"IndexName": contract.DRIFT_INDEX,
                                          "KeySchema": [{"AttributeName": "has_drift", "KeyType": "HASH"},
                                                        {"AttributeName": "last_check", "KeyType": "RANGE"}],
                                          "Projection": {"ProjectionType": "ALL"}}])


@pytest.fixture
def ops_env(aws, monkeypatch, cold_start) -> OpsEnv:
    """The four tables and the alerts topic (with a queue subscribed) in moto, and every function's environment."""
    _create_tables(aws.client("dynamodb"))
    topic_arn, queue_url = alerts_topic(aws)
    for name, value in {
        "HEALTH_STATE_TABLE": HEALTH_TABLE, "SERVICE_NAMESPACE": NAMESPACE,
        "HEALTH_TARGETS": json.dumps([{"service": "backend-api", "path": "/api/v1/health"}]),
        "PROBE_TIMEOUT_SECONDS": "0.5", "HEALTH_TTL_MINUTES": "60",
        "TRADING_STATE_TABLE": TRADING_TABLE, "HEARTBEAT_STALE_MINUTES": "10",
        "INFRA_DRIFT_TABLE": DRIFT_TABLE, "STACK_NAMES": ",".join(STACKS), "RUNTIME_MANAGED": "",
        "DETECTION_TIMEOUT_SECONDS": "240",
        "NOTIFICATIONS_TABLE": NOTIFICATIONS_TABLE, "ALERTS_TOPIC_ARN": topic_arn,
    }.items():
        monkeypatch.setenv(name, value)
    clear_caches()
    return OpsEnv(aws, monkeypatch, topic_arn, queue_url)


# --- health check: real HTTP servers behind moto's Cloud Map ------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        server: HealthServer = self.server.owner  # type: ignore[attr-defined]
        server.paths.append(self.path)
        if server.mode == "hang":
            server.released.wait(10)
            return
        status = {"ok": 200, "redirect": 302, "error": 500}[server.mode]
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class HealthServer:
    """An HTTP server on 127.0.0.1 answering 200 (ok), 302 (redirect), 500 (error) or nothing (hang)."""

    mode: str = "ok"
    paths: list[str] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    httpd: Optional[ThreadingHTTPServer] = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]  # type: ignore[union-attr]

    def start(self) -> "HealthServer":
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


@dataclass
class CloudMapEnv:
    """The namespace in moto's Cloud Map; services whose instances point at local HTTP servers."""

    client: Any
    namespace_id: str
    servers: list[HealthServer] = field(default_factory=list)
    service_ids: dict[str, str] = field(default_factory=dict)

    def service(self, name: str, *modes: str, record: str = "SRV") -> list[HealthServer]:
        """Create ``name`` with one instance per mode, each served by its own local server."""
        self.service_ids[name] = self.client.create_service(
            Name=name, NamespaceId=self.namespace_id,
            DnsConfig={"DnsRecords": [{"Type": record, "TTL": 10}], "RoutingPolicy": "MULTIVALUE"})["Service"]["Id"]
        return [self.instance(name, mode) for mode in modes]

    def instance(self, name: str, mode: str = "ok", **attributes: str) -> HealthServer:
        server = HealthServer(mode).start()
        self.servers.append(server)
        self.client.register_instance(ServiceId=self.service_ids[name], InstanceId=f"{name}-{len(self.servers)}",
                                      Attributes={"AWS_INSTANCE_IPV4": "127.0.0.1",
                                                  "AWS_INSTANCE_PORT": str(server.port), **attributes})
        return server


@pytest.fixture
def cloud_map(ops_env) -> CloudMapEnv:
    client = ops_env.client("servicediscovery")
    client.create_private_dns_namespace(Name=NAMESPACE, Vpc="vpc-0a1b2c3d4e5f60718")
    namespace_id = next(n["Id"] for n in client.list_namespaces()["Namespaces"] if n["Name"] == NAMESPACE)
    env = CloudMapEnv(client, namespace_id)
    yield env
    for server in env.servers:
        server.stop()


# --- drift detector: CloudFormation drift detection stubbed on moto's stacks --------------------------------------

@dataclass
class StackDrift:
    """How the stubbed detection of one stack goes: polls until complete, its final status, its resource drifts."""

    polls: int = 1  # DescribeStackDriftDetectionStatus answers IN_PROGRESS until the polls-th call
    detection_status: str = "DETECTION_COMPLETE"
    reason: str = ""
    resources: list[dict[str, Any]] = field(default_factory=list)  # StackResourceDrifts entries


def resource_drift(stack: str, logical_id: str, resource_type: str = "AWS::EC2::SecurityGroup",
                   status: str = "MODIFIED", paths: tuple[str, ...] = ("/Tags",)) -> dict[str, Any]:
    """One StackResourceDrifts entry as DescribeStackResourceDrifts returns it."""
    drift = {"StackId": stack_id(stack), "LogicalResourceId": logical_id,
             "PhysicalResourceId": f"{logical_id.lower()}-0a1b2c3d", "PhysicalResourceIdContext": [],
             "ResourceType": resource_type, "ExpectedProperties": "{}", "StackResourceDriftStatus": status,
             "Timestamp": datetime.now(timezone.utc)}
    if status == "MODIFIED":
        drift["ActualProperties"] = "{}"
        drift["PropertyDifferences"] = [{"PropertyPath": path, "ExpectedValue": "a", "ActualValue": "b",
                                         "DifferenceType": "NOT_EQUAL"} for path in paths]
    return drift


def stack_id(stack: str) -> str:
    backend = cloudformation_backends[ACCOUNT][REGION]
    found = next((s.stack_id for s in backend.stacks.values() if s.name == stack), None)
    return found or f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/00000000-0000-0000-0000-000000000000"


@dataclass
class DriftDetection:
    """DetectStackDrift, DescribeStackDriftDetectionStatus and DescribeStackResourceDrifts, which moto 5.2.5
    does not implement, answered from ``stacks`` (per stack name) for stacks that exist in moto; ``calls``
    holds each call's operation name and parameters. ``page_size`` splits DescribeStackResourceDrifts pages."""

    stacks: dict[str, StackDrift] = field(default_factory=dict)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    detections: dict[str, list] = field(default_factory=dict)  # detection id -> [stack, polls so far]
    page_size: int = 100

    def register(self, session: Any) -> None:
        for operation in ("DetectStackDrift", "DescribeStackDriftDetectionStatus", "DescribeStackResourceDrifts"):
            session.events.register(f"before-call.cloudformation.{operation}", self._answer(operation))

    def _answer(self, operation: str) -> Callable:
        def hook(params: dict, **_kwargs: Any):
            body = {k: v for k, v in params["body"].items() if k not in ("Action", "Version")}
            self.calls.append((operation, body))
            return getattr(self, f"_{operation}")(body)
        return hook

    def _DetectStackDrift(self, body: dict) -> Any:  # noqa: N802
        stack = body["StackName"]
        if stack not in {s.name for s in cloudformation_backends[ACCOUNT][REGION].stacks.values()}:
            return error_response("ValidationError", f"Stack with id {stack} does not exist")
        detection_id = str(uuid.uuid4())
        self.detections[detection_id] = [stack, 0]
        return client_response(200, {"StackDriftDetectionId": detection_id})

    def _DescribeStackDriftDetectionStatus(self, body: dict) -> Any:  # noqa: N802
        detection_id = body["StackDriftDetectionId"]
        if detection_id not in self.detections:
            return error_response("ValidationError", f"Drift detection {detection_id} does not exist")
        state = self.detections[detection_id]
        state[1] += 1
        drift = self.stacks.setdefault(state[0], StackDrift())
        response = {"StackId": stack_id(state[0]), "StackDriftDetectionId": detection_id,
                    "Timestamp": datetime.now(timezone.utc)}
        if state[1] < drift.polls:
            return client_response(200, {**response, "DetectionStatus": "DETECTION_IN_PROGRESS"})
        response["DetectionStatus"] = drift.detection_status
        if drift.detection_status == "DETECTION_FAILED":
            response.update(StackDriftStatus="UNKNOWN", DetectionStatusReason=drift.reason)
        else:
            response.update(StackDriftStatus="DRIFTED" if drift.resources else "IN_SYNC",
                            DriftedStackResourceCount=len(drift.resources),
                            DetectionStatusReason="Stack drift detection completed successfully")
        return client_response(200, response)

    def _DescribeStackResourceDrifts(self, body: dict) -> Any:  # noqa: N802
        filters = [body[k] for k in sorted(body) if k.startswith("StackResourceDriftStatusFilters.member.")]
        found = [r for r in self.stacks.get(body["StackName"], StackDrift()).resources
                 if r["StackResourceDriftStatus"] in filters]
        start = int(body.get("NextToken", "0"))
        page = {"StackResourceDrifts": found[start:start + self.page_size]}
        if start + self.page_size < len(found):
            page["NextToken"] = str(start + self.page_size)
        return client_response(200, page)


@pytest.fixture
def drift_env(ops_env, aws) -> DriftDetection:
    """STACKS exist in moto's CloudFormation; their drift detection is answered by a DriftDetection."""
    cloudformation = aws.client("cloudformation")
    for stack in STACKS:
        cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps({"Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"{stack}-topic"}}}}))
    detection = DriftDetection()
    detection.register(aws)
    return detection


# --- logs and metrics --------------------------------------------------------------------------------------------

@pytest.fixture
def ops_logs(caplog):
    """caplog for the operations functions' Powertools logger (named after the service)."""
    yield from service_logs(caplog, contract.SERVICE)


def emf_metrics(capsys) -> list[tuple[str, float, dict[str, str]]]:
    """(name, value, dimensions) of every metric of every EMF document printed so far (namespace checked)."""
    return emf_values(capsys, contract.METRICS_NAMESPACE)
