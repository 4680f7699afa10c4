"""The AWS calls of the operations functions: Cloud Map, CloudFormation drift detection, their state tables.

Thin wrappers: they shape requests and responses and map "condition failed" answers to values; every
other error propagates as botocore raises it (callers classify it with shared.aws.is_transient).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import error_code
from shared.ddb import marshal, unmarshal
from shared.notify import CONDITION_FAILED

from . import contract

DISCOVER_MAX_RESULTS = 1000  # DiscoverInstances has no pagination; 1000 is its maximum
RESOURCE_DRIFT_FILTERS = ("MODIFIED", "DELETED")
SCAN_PAGE_SIZE = 100


class CloudMap:
    def __init__(self, client: Any, namespace: str):
        self.client, self.namespace = client, namespace

    def instances(self, service: str) -> list[dict[str, Any]]:
        """Every registered instance of ``service`` (healthy or not), as DiscoverInstances returns them."""
        return self.client.discover_instances(
            NamespaceName=self.namespace, ServiceName=service, HealthStatus="ALL", MaxResults=DISCOVER_MAX_RESULTS
        ).get("Instances", [])


class CloudFormation:
    def __init__(self, client: Any):
        self.client = client

    def detect(self, stack: str) -> str:
        """Start drift detection of the whole stack; its StackDriftDetectionId."""
        return self.client.detect_stack_drift(StackName=stack)["StackDriftDetectionId"]

    def detection(self, detection_id: str) -> dict[str, Any]:
        """The DescribeStackDriftDetectionStatus response (DetectionStatus, StackDriftStatus, ...)."""
        return self.client.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)

    def drifted_resources(self, stack: str) -> list[dict[str, Any]]:
        """The stack's MODIFIED and DELETED resources of its latest detection (every page)."""
        params: dict[str, Any] = {
            "StackName": stack,
            "MaxResults": 100,
            "StackResourceDriftStatusFilters": list(RESOURCE_DRIFT_FILTERS),
        }
        drifts: list[dict[str, Any]] = []
        while True:
            page = self.client.describe_stack_resource_drifts(**params)
            drifts.extend(page.get("StackResourceDrifts", []))
            if not page.get("NextToken"):
                return drifts
            params["NextToken"] = page["NextToken"]


class StateTable:
    """A table with one state item per ``key`` whose ``version`` attribute changes on every write."""

    def __init__(self, dynamodb: Any, table: str, key: str, version: str):
        self.dynamodb, self.table, self.key, self.version = dynamodb, table, key, version

    def get(self, name: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=marshal({self.key: name}), ConsistentRead=True).get(
            "Item"
        )
        return unmarshal(item) if item else None

    def replace(self, item: dict[str, Any], previous: dict[str, Any] | None) -> bool:
        """Put ``item`` unless another writer changed the stored item since ``previous`` was read; False then."""
        version = previous.get(self.version) if previous is not None else None
        values: dict[str, Any]
        if previous is None:
            condition, names, values = "attribute_not_exists(#key)", {"#key": self.key}, {}
        elif version is None:
            condition, names, values = "attribute_not_exists(#version)", {"#version": self.version}, {}
        else:
            condition, names = "#version = :version", {"#version": self.version}
            values = {"ExpressionAttributeValues": marshal({":version": version})}
        return _conditional(
            self.dynamodb.put_item,
            TableName=self.table,
            Item=marshal(item),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            **values,
        )


class TradingStates:
    """tradai-trading-state: items written by the trading containers; the checker flips RUNNING <-> STALE."""

    def __init__(self, dynamodb: Any, table: str):
        self.dynamodb, self.table = dynamodb, table

    def candidates(self) -> Iterator[dict[str, Any]]:
        """Items that are RUNNING or STALE, or still carry a pending notice (every page, consistent)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "ConsistentRead": True,
            "Limit": SCAN_PAGE_SIZE,
            "FilterExpression": "#status IN (:running, :stale) OR attribute_exists(#pending)",
            "ExpressionAttributeNames": {"#status": contract.ATTR_STATUS, "#pending": contract.ATTR_PENDING_NOTICE},
            "ExpressionAttributeValues": marshal(
                {":running": contract.TRADING_RUNNING, ":stale": contract.TRADING_STALE}
            ),
        }
        while True:
            page = self.dynamodb.scan(**params)
            yield from (unmarshal(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def mark_stale(self, strategy_id: str, heartbeat: Any, stale_since: str, notice: dict[str, Any]) -> bool:
        """RUNNING -> STALE, only while status and last_heartbeat are still what was judged; False otherwise."""
        return self._flip(
            strategy_id,
            heartbeat,
            contract.TRADING_RUNNING,
            contract.TRADING_STALE,
            notice,
            {contract.ATTR_STALE_SINCE: stale_since, contract.ATTR_STALE_HEARTBEAT: heartbeat},
        )

    def mark_running(self, strategy_id: str, heartbeat: Any, recovered_at: str, notice: dict[str, Any]) -> bool:
        """STALE -> RUNNING, only while status and last_heartbeat are still what was judged; False otherwise."""
        return self._flip(
            strategy_id,
            heartbeat,
            contract.TRADING_STALE,
            contract.TRADING_RUNNING,
            notice,
            {"recovered_at": recovered_at},
            remove=(contract.ATTR_STALE_SINCE, contract.ATTR_STALE_HEARTBEAT),
        )

    def _flip(
        self,
        strategy_id: str,
        heartbeat: Any,
        from_status: str,
        to_status: str,
        notice: dict[str, Any],
        fields: dict[str, Any],
        remove: tuple[str, ...] = (),
    ) -> bool:
        fields = {**fields, contract.ATTR_STATUS: to_status, contract.ATTR_PENDING_NOTICE: notice}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        names.update({f"#r{i}": name for i, name in enumerate(remove)})
        names.update({"#status": contract.ATTR_STATUS, "#heartbeat": contract.ATTR_LAST_HEARTBEAT})
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        values[":from"] = from_status
        if heartbeat is None:
            unchanged = "attribute_not_exists(#heartbeat)"
        else:
            unchanged, values[":heartbeat"] = "#heartbeat = :heartbeat", heartbeat
        update = "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        if remove:
            update += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        return _conditional(
            self.dynamodb.update_item,
            TableName=self.table,
            Key=marshal({"strategy_id": strategy_id}),
            UpdateExpression=update,
            ConditionExpression=f"#status = :from AND {unchanged}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=marshal(values),
        )


def _conditional(call: Any, **params: Any) -> bool:
    """``call(**params)``; False when its condition failed."""
    try:
        call(**params)
    except ClientError as exc:
        if error_code(exc) == CONDITION_FAILED:
            return False
        raise
    return True
