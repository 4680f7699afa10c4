"""Backtest drill: one request through the deployed queue, consumer, state machine and strategy task.

Steps (each a line of the drill's detail):
1. a valid request is sent to tradai-backtest-queue-dev.fifo and received as the event source mapping would
   (the drill plays the mapping: moto's own would run the function through Docker, so it is paused);
2. the enabled consumer's handler runs on the received records (no batch item failures);
3. moto's Step Functions interpreter executes the deployed state machine; its Lambda tasks run the deployed
   functions' handlers in-process (harness patch 8); the data-collection service they call is a local
   stand-in answering 200 (moto runs no container);
4. the strategy task starts in the emulator's ECS and its completion is simulated (moto runs no container);
5. the execution succeeds and the workflow-state item is COMPLETED with the request's trace_id;
6. a malformed request is a batch item failure on each of 3 receives and then sits in the DLQ.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.ecs.models import ecs_backends

from .. import ACCOUNT, REGION
from ..smoke.model import CheckContext
from . import workflows
from .invoke import DrillFailure
from .support import wait_for

PIPELINE_HANDLERS = (
    "validate-strategy",
    "data-collection-proxy",
    "notify-completion",
    "update-status",
    "cleanup-resources",
)


def follow(ctx: CheckContext, invoke: Callable[[dict], Any]) -> str:
    """Run the steps above; raise DrillFailure at the first one that does not hold."""
    cfg = ctx.cfg
    sqs, ddb = ctx.client("sqs"), ctx.client("dynamodb")
    queue = sqs.get_queue_url(QueueName=f"{cfg.naming.name(cfg.backtest_queue.base_name)}.fifo")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=f"{cfg.naming.name(cfg.backtest_dlq.base_name)}.fifo")["QueueUrl"]
    _pause_event_source_mappings(ctx)
    data_service = _DataCollectionStandIn()
    machine_arn = _execute_state_machines(ctx, data_service.url)
    try:
        return _follow(ctx, invoke, sqs, ddb, queue, dlq, machine_arn, data_service)
    finally:
        data_service.close()


def _follow(ctx, invoke, sqs, ddb, queue, dlq, machine_arn, data_service) -> str:
    cfg, steps = ctx.cfg, []

    job_id, trace_id = str(uuid.uuid4()), f"drill-{uuid.uuid4().hex[:12]}"
    request = {
        "job_id": job_id,
        "strategy": "PascalStrategy",
        "timeframe": "1h",
        "timerange": "20240101-20240301",
        "pairs": ["BTC/USDT", "ETH/USDT"],
    }
    sqs.send_message(
        QueueUrl=queue,
        MessageBody=json.dumps(request),
        MessageGroupId="drill",
        MessageAttributes={"trace_id": {"DataType": "String", "StringValue": trace_id}},
    )
    records = _receive(sqs, queue)
    steps.append(f"1 sent and received job {job_id} (trace {trace_id})")

    outcome = invoke(_sqs_event(records, ctx))
    if outcome.result.get("batchItemFailures"):
        raise DrillFailure(f"consumer failed the record: {outcome.result}; log: {outcome.log[-1500:]}")
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=records[0]["ReceiptHandle"])
    steps.append("2 consumer handler accepted the record (message deleted, as the mapping does)")

    table = cfg.naming.name("workflow-state")
    run = wait_for(lambda: _item(ddb, table, job_id, "execution_arn"), "the run to record its execution")
    steps.append(f"3 state machine execution started: {run['execution_arn']['S'].split(':')[-1]}")

    task = wait_for(
        lambda: _strategy_task(cfg.env),
        "the strategy task to start",
        lambda: workflows.history(ctx, run["execution_arn"]["S"]),
    )
    environment = {
        e["name"]: e["value"] for o in task.overrides.get("containerOverrides", []) for e in o.get("environment", [])
    }
    if (environment.get("JOB_ID"), environment.get("TRACE_ID"), task.capacity_provider_name) != (
        job_id,
        trace_id,
        cfg.task(cfg.backtest.task).capacity_provider,
    ):
        raise DrillFailure(f"task overrides {environment}, capacity provider {task.capacity_provider_name}")
    task.last_status = task.desired_status = "STOPPED"
    for container in task.containers:
        container.last_status, container.exitCode = "STOPPED", 0
    steps.append(
        f"4 strategy task {task.task_arn.split('/')[-1]} started on {task.capacity_provider_name} with "
        f"JOB_ID/TRACE_ID overrides; its completion simulated (exit 0: moto runs no container)"
    )

    execution = workflows.finished(ctx, run["execution_arn"]["S"])
    item = _item(ddb, table, job_id)
    traced = ddb.query(
        TableName=table,
        IndexName="trace_id-index",
        KeyConditionExpression="trace_id = :t",
        ExpressionAttributeValues={":t": {"S": trace_id}},
    )["Items"]
    status = item["status"]["S"] if item else None
    if execution["status"] != "SUCCEEDED" or status != "COMPLETED" or len(traced) != 1:
        raise DrillFailure(
            f"execution {execution['status']}, run {status}, "
            f"{len(traced)} run(s) by trace id; history: {workflows.history(ctx, run['execution_arn']['S'])}"
        )
    if not data_service.requests:
        raise DrillFailure("the workflow never called the data-collection service")
    steps.append(
        f"5 execution SUCCEEDED on {machine_arn.split(':')[-1]} (data sync called with "
        f"{data_service.requests[0].get('pairs')}); run COMPLETED, found by trace_id"
    )

    sqs.send_message(QueueUrl=queue, MessageBody='{"job_id": "not-a-uuid"}', MessageGroupId="poison")
    for attempt in range(1, 4):
        records = _receive(sqs, queue)
        failures = invoke(_sqs_event(records, ctx)).result.get("batchItemFailures", [])
        if [f["itemIdentifier"] for f in failures] != [records[0]["MessageId"]]:
            raise DrillFailure(f"receive {attempt}: the malformed record was not a batch item failure")
    sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)  # the 4th receive moves it to the DLQ
    moved = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
    if not moved:
        raise DrillFailure("the malformed message is not in the DLQ after 3 receives")
    steps.append("6 malformed request failed 3 receives and is in the DLQ")
    return "\n      ".join(["backtest followed end to end:", *steps])


def _execute_state_machines(ctx: CheckContext, data_collection_url: str) -> str:
    """Let moto run executions: copy the deployed machine into its interpreter backend, route Lambda tasks."""
    machine = workflows.interpret(ctx, ctx.cfg.naming.name("backtest"))
    for key in PIPELINE_HANDLERS:
        overrides = {"DATA_COLLECTION_URL": data_collection_url} if key == "data-collection-proxy" else None
        workflows.route(ctx, key, overrides)
    return machine.arn


def _pause_event_source_mappings(ctx: CheckContext) -> None:
    """The drill plays the event source mapping itself: moto's would invoke the function through Docker."""
    client = ctx.client("lambda")
    for mapping in client.list_event_source_mappings()["EventSourceMappings"]:
        client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)


def _receive(sqs, queue: str) -> list[dict]:
    messages = sqs.receive_message(
        QueueUrl=queue,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=1,
        VisibilityTimeout=0,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    if not messages:
        raise DrillFailure(f"nothing to receive from {queue}")
    return messages


def _sqs_event(messages: list[dict], ctx: CheckContext) -> dict:
    """The event a Lambda SQS event source mapping delivers for these messages."""
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{ctx.cfg.naming.name(ctx.cfg.backtest_queue.base_name)}.fifo"
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
                "messageAttributes": {
                    k: {
                        "stringValue": v.get("StringValue"),
                        "dataType": v["DataType"],
                        "stringListValues": [],
                        "binaryListValues": [],
                    }
                    for k, v in m.get("MessageAttributes", {}).items()
                },
            }
            for m in messages
        ]
    }


def _item(ddb, table: str, run_id: str, required: str = "status") -> dict | None:
    item = ddb.get_item(TableName=table, Key={"run_id": {"S": run_id}}).get("Item")
    return item if item and required in item else None


def _strategy_task(env: str):
    """The running task of the strategy-container family in the emulator's ECS, if any."""
    for tasks in ecs_backends[ACCOUNT][REGION].tasks.values():
        for task in tasks.values():
            if f"strategy-container-{env}" in task.task_definition_arn and task.last_status != "STOPPED":
                return task
    return None


class _DataCollectionStandIn:
    """A loopback HTTP server answering the data sync as the data-collection service would (200, JSON)."""

    def __init__(self):
        requests = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                body = json.dumps({"synced": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/api/v1/data/sync"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
