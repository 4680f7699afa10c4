"""The run records in tradai-workflow-state: one item per run (partition key run_id).

Every status change is a conditional write: a run only moves forward along
contract.ALLOWED_TRANSITIONS, so concurrent or replayed writers (the consumer, the state machine's
update-status task, the orphan scanner) cannot move it backwards or out of a terminal status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import error_code
from shared.clock import iso
from shared.ddb import marshal, unmarshal

from . import contract
from .request import BacktestRequest

STATUS_INDEX = "status-created_at-index"
TRACE_INDEX = "trace_id-index"
STATUSES = (contract.SUBMITTED, contract.RUNNING, contract.COMPLETED, contract.FAILED, contract.CANCELLED)


def run_and_status(event: Any) -> tuple[str, str]:
    """The run_id and status of a Step Functions task input; ValueError naming the bad field."""
    if not isinstance(event, dict):
        raise ValueError(f"input must be a JSON object with run_id and status, got {type(event).__name__}")
    run_id, status = event.get("run_id"), event.get("status")
    if not isinstance(run_id, str) or not run_id.strip():
        raise ValueError(f"run_id={run_id!r}: a non-empty run id is required")
    if status not in STATUSES:
        raise ValueError(f"status={status!r}: allowed: {', '.join(STATUSES)}")
    return run_id, status


SETTABLE_FIELDS = ("execution_arn", "task_arn", "error")
MAX_ERROR_CHARS = 2000
CONDITION_FAILED = "ConditionalCheckFailedException"


class StatusRegression(Exception):
    """A refused status change: backwards, out of a terminal status, or to a status the run cannot take.

    The class name is the error name the state machine sees (contract.STATUS_REGRESSION_ERROR).
    """

    def __init__(self, run_id: str, current: str, requested: str):
        allowed = ", ".join(sorted(contract.ALLOWED_TRANSITIONS.get(current, ()))) or "nothing, it is terminal"
        super().__init__(
            f"run {run_id}: status {current} cannot move to {requested} (allowed from {current}: {allowed})"
        )
        self.run_id, self.current, self.requested = run_id, current, requested


class RunNotFound(LookupError):
    """No run with this run_id exists in the workflow-state table."""

    def __init__(self, run_id: str):
        super().__init__(f"run {run_id} does not exist")
        self.run_id = run_id


@dataclass(frozen=True)
class Run:
    run_id: str
    status: str
    created_at: str
    trace_id: str | None = None
    execution_arn: str | None = None
    task_arn: str | None = None
    error: str | None = None
    item: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def terminal(self) -> bool:
        return self.status in contract.TERMINAL

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Run:
        return cls(
            run_id=item["run_id"],
            status=item.get("status", ""),
            created_at=item.get("created_at", ""),
            trace_id=item.get("trace_id"),
            execution_arn=item.get("execution_arn"),
            task_arn=item.get("task_arn"),
            error=item.get("error"),
            item=item,
        )


def error_text(error: Any) -> str | None:
    """A Step Functions error object ({"Error", "Cause"}) or any value as a bounded string."""
    if error is None:
        return None
    if isinstance(error, dict):
        parts = [str(error[key]) for key in ("Error", "Cause") if error.get(key) not in (None, "")]
        text = ": ".join(parts) if parts else str(error)
    else:
        text = str(error)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


class Runs:
    """Repository over the workflow-state table (a low-level DynamoDB client)."""

    def __init__(
        self, dynamodb: Any, table: str, ttl_days: int | None = None, now: Callable[[], datetime] | None = None
    ):
        self.dynamodb, self.table, self.ttl_days = dynamodb, table, ttl_days
        self.now = now or (lambda: datetime.now(UTC))

    def create_submitted(self, request: BacktestRequest) -> bool:
        """Put the SUBMITTED run; False when a run with this run_id already exists."""
        if not self.ttl_days:
            raise ValueError("Runs.ttl_days is needed to create runs")
        now = self.now()
        item = {
            "run_id": request.run_id,
            "job_id": request.job_id,
            "trace_id": request.trace_id,
            "status": contract.SUBMITTED,
            "created_at": iso(now),
            "updated_at": iso(now),
            "ttl": int((now + timedelta(days=self.ttl_days)).timestamp()),
            "strategy": request.strategy,
            "strategy_id": request.strategy_id,
            "timeframe": request.timeframe,
            "timerange": request.timerange,
            "pairs": list(request.pairs),
            "experiment_name": request.experiment_name,
        }
        try:
            self.dynamodb.put_item(
                TableName=self.table, Item=marshal(item), ConditionExpression="attribute_not_exists(run_id)"
            )
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                return False
            raise
        return True

    def get(self, run_id: str) -> Run | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=marshal({"run_id": run_id}), ConsistentRead=True).get(
            "Item"
        )
        return Run.from_item(unmarshal(item)) if item else None

    def transition(self, run_id: str, new_status: str, *, only_from: str | None = None, **fields: Any) -> bool:
        """Move the run to ``new_status`` (and set ``fields``) if its current status allows it.

        True when it moved; False when it already had ``new_status`` (an idempotent replay; fields are
        then left alone) or, with ``only_from``, when it no longer has that status but could still move
        (another writer got there first). Raises StatusRegression for a refused move, RunNotFound when
        the run does not exist, ValueError for an unknown status.
        """
        if new_status not in STATUSES:
            raise ValueError(f"status {new_status!r} is not one of {', '.join(STATUSES)}")
        sources = sorted(source for source, targets in contract.ALLOWED_TRANSITIONS.items() if new_status in targets)
        if only_from is not None:
            if only_from not in sources:
                raise ValueError(f"{only_from} -> {new_status} is not an allowed transition")
            sources = [only_from]
        current: dict | None = None
        if sources:
            values = {f":from{i}": source for i, source in enumerate(sources)}
            try:
                self._update(run_id, {"status": new_status, **fields}, f"#status IN ({', '.join(values)})", values)
                return True
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
                old = exc.response.get("Item")
                current = unmarshal(old) if old else None
        run = Run.from_item(current) if current else self.get(run_id)
        if run is None:
            raise RunNotFound(run_id)
        if run.status == new_status:
            return False
        if (
            only_from is not None
            and not run.terminal
            and new_status in contract.ALLOWED_TRANSITIONS.get(run.status, ())
        ):
            return False
        raise StatusRegression(run_id, run.status, new_status)

    def set_fields(self, run_id: str, **fields: Any) -> bool:
        """Set execution_arn / task_arn / error while the run exists and is not terminal; False otherwise."""
        terminal = {f":terminal{i}": status for i, status in enumerate(sorted(contract.TERMINAL))}
        try:
            self._update(
                run_id, fields, f"attribute_exists(run_id) AND NOT (#status IN ({', '.join(terminal)}))", terminal
            )
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                return False
            raise
        return True

    def stuck(self, status: str, older_than: datetime, limit: int) -> list[Run]:
        """Up to ``limit`` runs with ``status`` created before ``older_than``, oldest first."""
        runs: list[Run] = []
        params = {
            "TableName": self.table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#status = :status AND created_at < :before",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": marshal({":status": status, ":before": iso(older_than)}),
            "ScanIndexForward": True,
        }
        while len(runs) < limit:
            page = self.dynamodb.query(**params, Limit=limit - len(runs))
            runs.extend(Run.from_item(unmarshal(item)) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return runs[:limit]

    def _update(self, run_id: str, fields: dict[str, Any], condition: str, values: dict[str, Any]) -> None:
        unknown = set(fields) - set(SETTABLE_FIELDS) - {"status"}
        if unknown:
            raise TypeError(f"cannot set {', '.join(sorted(unknown))} on a run; settable: {', '.join(SETTABLE_FIELDS)}")
        updates = {"updated_at": iso(self.now()), **{k: v for k, v in fields.items() if v is not None}}
        if "error" in updates:
            updates["error"] = error_text(updates["error"])
        names = {f"#{key}": key for key in updates}
        names["#status"] = "status"
        expression = "SET " + ", ".join(f"#{key} = :set_{key}" for key in updates)
        self.dynamodb.update_item(
            TableName=self.table,
            Key=marshal({"run_id": run_id}),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=marshal({**values, **{f":set_{k}": v for k, v in updates.items()}}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
