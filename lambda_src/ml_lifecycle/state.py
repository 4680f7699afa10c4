"""DynamoDB access of the drift monitor, promote-model and model-rollback (low-level client, conditional writes).

- tradai-drift-state: one item per model (partition key model_name), the latest check. A put only replaces an
  item of the same or an earlier ``checked_at``, so a late duplicate cannot overwrite a newer check.
- tradai-deployments: one item per promotion (strategy_name, deployment_id); the first put wins.
- tradai-rollback-state: one item per model (partition key model_name), no TTL: the audit trail. Each rollback
  appends to ``history`` once per idempotency key (``request_keys`` string set, checked in the condition).

Numbers are written as Decimal (never NaN); other errors propagate as botocore raises them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import error_code
from shared.ddb import DEPLOYMENT_KEY, create, marshal, unmarshal

CONDITION_FAILED = "ConditionalCheckFailedException"


def decimal(value: float | None, places: int | None = None) -> Decimal | None:
    """A finite float as Decimal (rounded to ``places``), else None."""
    if value is None or not math.isfinite(value):
        return None
    return Decimal(f"{value:.{places}f}") if places is not None else Decimal(repr(float(value)))


def _condition_failed(exc: ClientError) -> bool:
    return error_code(exc) == CONDITION_FAILED


class _Table:
    key = "model_name"

    def __init__(self, dynamodb: Any, table: str):
        self.dynamodb, self.table = dynamodb, table

    def get(self, key_value: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.table, Key=marshal({self.key: key_value}), ConsistentRead=True
        ).get("Item")
        return unmarshal(item) if item else None


class DriftStates(_Table):
    """tradai-drift-state."""

    def put(self, item: Mapping[str, Any]) -> bool:
        """Write the check unless a newer one is stored; False when refused."""
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=marshal(dict(item)),
                ConditionExpression="attribute_not_exists(model_name) OR checked_at <= :at",
                ExpressionAttributeValues=marshal({":at": item["checked_at"]}),
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True


class Deployments:
    """tradai-deployments (partition key strategy_name, sort key deployment_id)."""

    def __init__(self, dynamodb: Any, table: str):
        self.dynamodb, self.table = dynamodb, table

    def record(self, item: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Put the record unless it exists: (True, item) when written, else (False, the first record)."""
        return create(self.dynamodb, self.table, item, DEPLOYMENT_KEY)


class Rollbacks(_Table):
    """tradai-rollback-state (no TTL)."""

    @staticmethod
    def entry(item: Mapping[str, Any] | None, request_keys: tuple[str, ...]) -> dict[str, Any] | None:
        """The history entry recorded under one of ``request_keys``, if any."""
        for entry in (item or {}).get("history") or ():
            if entry.get("request_key") in request_keys:
                return entry
        return None

    def append(self, model_name: str, entry: Mapping[str, Any]) -> bool:
        """Record one rollback (``entry`` has at, from_version, to_version, reason, requested_by, request_key).

        False when the request_key was recorded before (the item is unchanged).
        """
        values = {
            ":current": entry["to_version"],
            ":at": entry["at"],
            ":reason": entry["reason"],
            ":by": entry["requested_by"],
            ":one": 1,
            ":entry": [dict(entry)],
            ":empty": [],
            ":keys": {entry["request_key"]},
            ":key": entry["request_key"],
        }
        previous = ""
        if entry.get("from_version") is not None:
            values[":previous"] = entry["from_version"]
            previous = "previous_version = :previous, "
        remove = "" if previous else " REMOVE previous_version"
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=marshal({"model_name": model_name}),
                UpdateExpression=(
                    f"SET current_version = :current, {previous}last_rollback_at = :at, "
                    "last_reason = :reason, last_requested_by = :by, "
                    "history = list_append(if_not_exists(history, :empty), :entry) "
                    f"ADD rollback_count :one, request_keys :keys{remove}"
                ),
                ConditionExpression="attribute_not_exists(request_keys) OR NOT contains(request_keys, :key)",
                ExpressionAttributeValues=marshal(values),
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True
