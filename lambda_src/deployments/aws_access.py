"""The deployer's AWS calls: ECS tasks, Cloud Map instances, and its three DynamoDB tables.

Thin wrappers: they shape requests and responses, make conditional writes report False instead of raising and
map "not found" answers to values; every other error propagates as botocore raises it (the steps re-raise
transient ones; see shared.aws.is_transient).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import STOP_REASON_MAX, RunTaskOutcome, error_code, stop_task  # noqa: F401  (STOP_REASON_MAX re-exported)
from shared.ddb import DEPLOYMENT_KEY, create, marshal, query_all, unmarshal

from . import contract
from .settings import DeployerSettings, ModeTarget

CONDITION_FAILED = "ConditionalCheckFailedException"


def _condition_failed(exc: ClientError) -> bool:
    return error_code(exc) == CONDITION_FAILED


@dataclass(frozen=True)
class Ecs:
    client: Any
    settings: DeployerSettings

    @property
    def cluster(self) -> str:
        return self.settings.cluster

    def run_task(
        self, target: ModeTarget, started_by: str, environment: Mapping[str, str], tags: Mapping[str, str]
    ) -> RunTaskOutcome:
        """RunTask of the mode's task definition on its capacity provider, private subnets, no public IP."""
        response = self.client.run_task(
            cluster=self.cluster,
            taskDefinition=target.family,
            count=1,
            capacityProviderStrategy=[{"capacityProvider": target.capacity_provider, "weight": 1}],
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": list(self.settings.subnets),
                    "securityGroups": list(self.settings.security_groups),
                    "assignPublicIp": "DISABLED",
                }
            },
            startedBy=started_by,
            overrides={
                "containerOverrides": [
                    {
                        "name": contract.CONTAINER_NAME,
                        "environment": [{"name": name, "value": value} for name, value in environment.items()],
                    }
                ]
            },
            tags=[{"key": key, "value": value} for key, value in tags.items()],
            propagateTags="TASK_DEFINITION",
        )
        return RunTaskOutcome.from_response(response)

    def tasks_started_by(self, tag: str, desired_status: str) -> list[str]:
        pages = self.client.get_paginator("list_tasks").paginate(
            cluster=self.cluster, startedBy=tag, desiredStatus=desired_status
        )
        return [arn for page in pages for arn in page.get("taskArns", [])]

    def describe(self, task_arn: str) -> dict[str, Any] | None:
        """The task's DescribeTasks entry; None when ECS no longer knows it."""
        tasks = self.client.describe_tasks(cluster=self.cluster, tasks=[task_arn]).get("tasks") or []
        return next((task for task in tasks if task.get("taskArn") == task_arn), None)

    def stop(self, task_arn: str, reason: str) -> bool:
        """StopTask (stopping a stopped task is accepted); False when ECS does not know the task."""
        return stop_task(self.client, self.cluster, task_arn, reason)


@dataclass(frozen=True)
class CloudMap:
    client: Any

    def attributes(self, service_id: str, instance_id: str) -> dict[str, str] | None:
        """The instance's attributes; None when it is not registered."""
        try:
            return (
                self.client.get_instance(ServiceId=service_id, InstanceId=instance_id)["Instance"].get("Attributes")
                or {}
            )
        except ClientError as exc:
            if error_code(exc) == "InstanceNotFound":
                return None
            raise

    def register(
        self, service_id: str, instance_id: str, creator_request_id: str, attributes: Mapping[str, str]
    ) -> str:
        """RegisterInstance (creates or replaces the instance); the operation id."""
        return self.client.register_instance(
            ServiceId=service_id,
            InstanceId=instance_id,
            CreatorRequestId=creator_request_id,
            Attributes=dict(attributes),
        )["OperationId"]

    def deregister(self, service_id: str, instance_id: str) -> bool:
        """DeregisterInstance; False when it was not registered."""
        try:
            self.client.deregister_instance(ServiceId=service_id, InstanceId=instance_id)
        except ClientError as exc:
            if error_code(exc) == "InstanceNotFound":
                return False
            raise
        return True


def _update(
    fields: Mapping[str, Any], remove: tuple[str, ...] = (), defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """UpdateExpression, names and values of SET ``fields``, SET ``defaults`` where absent, REMOVE ``remove``."""
    defaults = defaults or {}
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    names.update({f"#d{i}": name for i, name in enumerate(defaults)})
    names.update({f"#r{i}": name for i, name in enumerate(remove)})
    sets = [f"#f{i} = :f{i}" for i in range(len(fields))]
    sets += [f"#d{i} = if_not_exists(#d{i}, :d{i})" for i in range(len(defaults))]
    expression = "SET " + ", ".join(sets)
    if remove:
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
    values = {f":f{i}": value for i, value in enumerate(fields.values())}
    values.update({f":d{i}": value for i, value in enumerate(defaults.values())})
    return {"UpdateExpression": expression, "ExpressionAttributeNames": names, "values": values}


class TradingSlots:
    """tradai-trading-state: one slot per strategy and mode (key contract.state_key); the container writes
    last_heartbeat on it, the heartbeat checker flips RUNNING <-> STALE."""

    # A previous occupant's runtime fields, cleared when the slot is claimed again (the outbox's pending notice is
    # left to the heartbeat checker).
    CLEARED_ON_CLAIM = (
        "task_arn",
        "last_heartbeat",
        "stale_since",
        "stale_heartbeat",
        "error",
        "stopped_at",
        "activated_at",
        "recovered_at",
    )

    def __init__(self, dynamodb: Any, table: str):
        self.dynamodb, self.table = dynamodb, table

    def get(self, key: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=marshal({"strategy_id": key}), ConsistentRead=True).get(
            "Item"
        )
        return unmarshal(item) if item else None

    def _write(
        self,
        key: str,
        fields: Mapping[str, Any],
        condition: str,
        names: Mapping[str, str],
        values: Mapping[str, Any],
        remove: tuple[str, ...] = (),
    ) -> tuple[bool, dict[str, Any] | None]:
        update = _update(fields, remove)
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=marshal({"strategy_id": key}),
                UpdateExpression=update["UpdateExpression"],
                ConditionExpression=condition,
                ExpressionAttributeNames={**update["ExpressionAttributeNames"], **names},
                ExpressionAttributeValues=marshal({**update["values"], **values}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            old = exc.response.get("Item")
            return False, unmarshal(old) if old else None
        return True, None

    def claim(
        self, key: str, fields: Mapping[str, Any], condition: tuple[str, dict, dict]
    ) -> tuple[bool, dict[str, Any] | None]:
        """Write ``fields`` (status STARTING...) if ``condition`` (decisions.claim_condition) holds; else (False, the
        slot as it is)."""
        expression, names, values = condition
        return self._write(key, fields, expression, names, values, remove=self.CLEARED_ON_CLAIM)

    def update_held(
        self, key: str, deployment_id: str, fields: Mapping[str, Any], statuses: tuple[str, ...] | None = None
    ) -> tuple[bool, dict[str, Any] | None]:
        """Write ``fields`` while the slot is ``deployment_id``'s (and in ``statuses``); else (False, the slot)."""
        condition, values = "deployment_id = :holder", {":holder": deployment_id}
        names: dict[str, str] = {}
        if statuses:
            placeholders = [f":s{i}" for i in range(len(statuses))]
            condition += f" AND #slot_status IN ({', '.join(placeholders)})"
            names["#slot_status"] = "status"
            values.update(zip(placeholders, statuses))
        return self._write(key, fields, condition, names, values)


class Deployments:
    """tradai-deployments (partition key strategy_name, sort key deployment_id)."""

    def __init__(self, dynamodb: Any, table: str):
        self.dynamodb, self.table = dynamodb, table

    def get(self, strategy_name: str, deployment_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.table,
            ConsistentRead=True,
            Key=marshal({"strategy_name": strategy_name, "deployment_id": deployment_id}),
        ).get("Item")
        return unmarshal(item) if item else None

    def create(self, item: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Put the record unless it exists: (True, item) when written, else (False, the existing record)."""
        return create(self.dynamodb, self.table, item, DEPLOYMENT_KEY)

    def history(self, strategy_name: str) -> list[dict[str, Any]]:
        """Every record of the strategy name (every page, consistent)."""
        return query_all(
            self.dynamodb,
            TableName=self.table,
            ConsistentRead=True,
            KeyConditionExpression="strategy_name = :name",
            ExpressionAttributeValues=marshal({":name": strategy_name}),
        )

    def update(
        self,
        strategy_name: str,
        deployment_id: str,
        fields: Mapping[str, Any],
        statuses: tuple[str, ...],
        create: Mapping[str, Any] | None = None,
    ) -> bool:
        """Write ``fields`` if the record's status is one of ``statuses``, or, with ``create`` (the fields a new
        record gets, kept where present), if it does not exist (an upsert); False when the condition fails."""
        update = _update(
            {key: value for key, value in fields.items() if value is not None},
            defaults={key: value for key, value in (create or {}).items() if value is not None},
        )
        placeholders = [f":s{i}" for i in range(len(statuses))]
        condition = f"#record_status IN ({', '.join(placeholders)})"
        if create is not None:
            condition = f"attribute_not_exists(deployment_id) OR {condition}"
        else:
            condition = f"attribute_exists(deployment_id) AND {condition}"
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=marshal({"strategy_name": strategy_name, "deployment_id": deployment_id}),
                UpdateExpression=update["UpdateExpression"],
                ConditionExpression=condition,
                ExpressionAttributeNames={**update["ExpressionAttributeNames"], "#record_status": "status"},
                ExpressionAttributeValues=marshal({**update["values"], **dict(zip(placeholders, statuses))}),
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            return False
        return True


class ConfigVersions:
    """tradai-config-versions (partition key strategy_name, sort key config_id; config_hash-index KEYS_ONLY)."""

    def __init__(self, dynamodb: Any, table: str):
        self.dynamodb, self.table = dynamodb, table

    def keys_by_hash(self, config_hash: str) -> list[dict[str, Any]]:
        return query_all(
            self.dynamodb,
            TableName=self.table,
            IndexName=contract.CONFIG_HASH_INDEX,
            KeyConditionExpression="config_hash = :hash",
            ExpressionAttributeValues=marshal({":hash": config_hash}),
        )

    def get(self, strategy_name: str, config_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.table,
            ConsistentRead=True,
            Key=marshal({"strategy_name": strategy_name, "config_id": config_id}),
        ).get("Item")
        return unmarshal(item) if item else None
