"""DynamoDB access of the retraining workflow: tradai-retraining-state and tradai-shadow-test-state (low-level
client; numbers written as Decimal, never NaN; ``expires_at`` = epoch seconds now + STATE_TTL_DAYS).

tradai-retraining-state holds one item per model (partition key model_name), owned by the model's current
retraining_id. The scheduler writes it (SCHEDULED); each later step adds its fields once, marked by a
timestamp attribute (checked_at, candidate_at, shadow_at), with the condition that the item still belongs to
its retraining_id: a replay finds the marker and gets the stored item back, a superseded run gets
StaleRetraining. The state machine's Catch marks FAILED itself (condition retraining_id = :id).

Item: model_name, retraining_id, status, scheduled_at, updated_at, expires_at, execution_arn,
reason (latest step's), checked_at, needed, check_reason, strategy, champion_version, shadow_timerange,
candidate_at, candidate_better, candidate_reason, metric, challenger_version, challenger_score,
champion_score, test_id, shadow_at, shadow_better, shadow_reason, shadow_score.

tradai-shadow-test-state holds one item per shadow test (partition key test_id): model_name, status
(RUNNING → PASSED | FAILED), status_created_at = "<status>#<created_at>" (GSI range key), challenger_version,
champion_version, champion_score, challenger_score, metric, created_at, expires_at, and when finished
shadow_score, finished_at, reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import error_code
from shared.clock import iso
from shared.ddb import marshal, unmarshal

from . import contract
from .retraining import ShadowTestNotFound, StaleRetraining

CONDITION_FAILED = "ConditionalCheckFailedException"


def ddb_value(value: Any) -> Any:
    """A value DynamoDB accepts: floats as Decimal; None for NaN/inf (callers leave those out)."""
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    return value


def _present(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields with a value (None and non-finite numbers are not written)."""
    converted = {key: ddb_value(value) for key, value in fields.items()}
    return {key: value for key, value in converted.items() if value is not None}


def _condition_failed(exc: ClientError) -> bool:
    return error_code(exc) == CONDITION_FAILED


class _Table:
    def __init__(self, dynamodb: Any, table: str, key: str, ttl_days: int, now: Callable[[], datetime] | None = None):
        self.dynamodb, self.table, self.key, self.ttl_days = dynamodb, table, key, ttl_days
        self.now = now or (lambda: datetime.now(UTC))

    def get(self, key_value: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.table, Key=marshal({self.key: key_value}), ConsistentRead=True
        ).get("Item")
        return unmarshal(item) if item else None

    def _expires_at(self, now: datetime) -> int:
        return int((now + timedelta(days=self.ttl_days)).timestamp())

    def _old_item(self, exc: ClientError, key_value: str) -> dict[str, Any] | None:
        """The item a failed condition saw (ReturnValuesOnConditionCheckFailure, else a consistent read)."""
        old = exc.response.get("Item")
        return unmarshal(old) if old else self.get(key_value)


class Retrainings(_Table):
    """tradai-retraining-state (module docstring)."""

    def __init__(self, dynamodb: Any, table: str, ttl_days: int, now: Callable[[], datetime] | None = None):
        super().__init__(dynamodb, table, "model_name", ttl_days, now)

    def schedule(self, model_name: str, retraining_id: str, stale_before: str) -> bool:
        """Put the SCHEDULED item of ``retraining_id`` unless the model's item belongs to it already or to
        another retraining that is neither terminal, stale (last updated before ``stale_before``) nor SCHEDULED
        without an execution (retraining.schedule_action).
        True when written; False when the condition refused it (re-read and decide again)."""
        now = iso(self.now())
        item = {
            "model_name": model_name,
            "retraining_id": retraining_id,
            "status": contract.SCHEDULED,
            "scheduled_at": now,
            "updated_at": now,
            "expires_at": self._expires_at(self.now()),
        }
        terminal = {f":t{i}": status for i, status in enumerate(sorted(contract.RETRAINING_TERMINAL))}
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=marshal(item),
                ConditionExpression=(
                    "attribute_not_exists(model_name) OR (retraining_id <> :id AND "
                    f"(#status IN ({', '.join(terminal)}) OR attribute_not_exists(updated_at) "
                    "OR updated_at < :stale OR (#status = :scheduled AND attribute_not_exists(execution_arn))))"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=marshal(
                    {":id": retraining_id, ":stale": stale_before, ":scheduled": contract.SCHEDULED, **terminal}
                ),
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def set_execution(self, model_name: str, retraining_id: str, execution_arn: str) -> bool:
        """Record the execution ARN; False when the item no longer belongs to ``retraining_id``."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=marshal({"model_name": model_name}),
                UpdateExpression="SET execution_arn = :arn, updated_at = :now",
                ConditionExpression="retraining_id = :id",
                ExpressionAttributeValues=marshal(
                    {":arn": execution_arn, ":now": iso(self.now()), ":id": retraining_id}
                ),
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def record(
        self,
        model_name: str,
        retraining_id: str,
        marker: str,
        fields: Mapping[str, Any],
        status: str | None = None,
        create: bool = False,
    ) -> tuple[bool, dict[str, Any]]:
        """Add one step's ``fields`` (and ``status``, the ``marker`` timestamp, updated_at, expires_at) once.

        Condition: the item belongs to ``retraining_id`` (``create``: or does not exist yet, a manual start)
        and has no ``marker``. Returns (True, the new item), or (False, the stored item) when the step was
        recorded before (a replay). Raises StaleRetraining when the item belongs to another retraining_id
        (or does not exist, without ``create``).
        """
        now = self.now()
        values = _present(
            {
                **fields,
                marker: iso(now),
                "updated_at": iso(now),
                "expires_at": self._expires_at(now),
                "retraining_id": retraining_id,
                **({"status": status} if status else {}),
            }
        )
        names = {f"#f{i}": name for i, name in enumerate(values)}
        assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(values)))
        owned = "retraining_id = :owner" + (" OR attribute_not_exists(model_name)" if create else "")
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table,
                Key=marshal({"model_name": model_name}),
                UpdateExpression=f"SET {assignments}",
                ConditionExpression=f"({owned}) AND attribute_not_exists(#marker)",
                ExpressionAttributeNames={**names, "#marker": marker},
                ExpressionAttributeValues=marshal(
                    {**{f":v{i}": value for i, value in enumerate(values.values())}, ":owner": retraining_id}
                ),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            stored = self._old_item(exc, model_name)
            if stored is None or stored.get("retraining_id") != retraining_id:
                raise StaleRetraining(model_name, retraining_id, (stored or {}).get("retraining_id")) from None
            return False, stored
        return True, unmarshal(answer["Attributes"])


def owned(item: Mapping[str, Any] | None, model_name: str, retraining_id: str, allow_missing: bool = False) -> None:
    """StaleRetraining unless ``item`` belongs to ``retraining_id`` (or is missing and that is allowed)."""
    if item is None and allow_missing:
        return
    if item is None or item.get("retraining_id") != retraining_id:
        raise StaleRetraining(model_name, retraining_id, (item or {}).get("retraining_id"))


class ShadowTests(_Table):
    """tradai-shadow-test-state (module docstring)."""

    def __init__(self, dynamodb: Any, table: str, ttl_days: int, now: Callable[[], datetime] | None = None):
        super().__init__(dynamodb, table, "test_id", ttl_days, now)

    def create(self, test_id: str, model_name: str, fields: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Put the RUNNING test unless it exists: (True, the item) when written, else (False, the first item)."""
        now = self.now()
        item = _present(
            {
                **fields,
                "test_id": test_id,
                "model_name": model_name,
                "status": contract.SHADOW_RUNNING,
                "created_at": iso(now),
                "expires_at": self._expires_at(now),
            }
        )
        item["status_created_at"] = f"{contract.SHADOW_RUNNING}#{item['created_at']}"
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=marshal(item),
                ConditionExpression="attribute_not_exists(test_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False, self._old_item(exc, test_id) or item
            raise
        return True, item

    def finish(self, test: Mapping[str, Any], status: str, fields: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Move a RUNNING test to ``status`` (PASSED | FAILED) with ``fields``; status_created_at keeps its
        created_at. (True, the new item), or (False, the stored item) when it was no longer RUNNING."""
        now = self.now()
        values = _present(
            {**fields, "status": status, "status_created_at": f"{status}#{test['created_at']}", "finished_at": iso(now)}
        )
        names = {f"#f{i}": name for i, name in enumerate(values)}
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table,
                Key=marshal({"test_id": test["test_id"]}),
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues=marshal(
                    {
                        **{f":v{i}": value for i, value in enumerate(values.values())},
                        ":running": contract.SHADOW_RUNNING,
                    }
                ),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            stored = self._old_item(exc, test["test_id"])
            if stored is None:
                raise ShadowTestNotFound(f"shadow test {test['test_id']} does not exist") from None
            return False, stored
        return True, unmarshal(answer["Attributes"])
