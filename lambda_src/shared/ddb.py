"""DynamoDB attribute-value conversion for the low-level client (numbers come back as int or float)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from .aws import error_code

CONDITION_FAILED = "ConditionalCheckFailedException"

_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


def marshal(values: dict[str, Any]) -> dict[str, Any]:
    """{"name": "x", "ttl": 1} -> {"name": {"S": "x"}, "ttl": {"N": "1"}}."""
    return {key: _serializer.serialize(value) for key, value in values.items()}


def unmarshal(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def query_all(dynamodb: Any, **params: Any) -> list[dict[str, Any]]:
    """Every item of Query ``params`` (low-level client; every page), unmarshalled."""
    params = dict(params)
    found: list[dict[str, Any]] = []
    while True:
        page = dynamodb.query(**params)
        found.extend(unmarshal(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return found
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def put_if_absent(
    dynamodb: Any, table: str, item: dict[str, Any], key: dict[str, Any], key_attribute: str
) -> dict[str, Any] | None:
    """Put ``item`` unless an item with ``key`` exists (``attribute_not_exists(key_attribute)``).

    None when written; else the existing item (the failed condition's ALL_OLD, else a consistent read of ``key``,
    else ``item`` itself when it has vanished again). Other errors propagate as botocore raises them.
    """
    try:
        dynamodb.put_item(
            TableName=table,
            Item=marshal(dict(item)),
            ConditionExpression=f"attribute_not_exists({key_attribute})",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if error_code(exc) != CONDITION_FAILED:
            raise
        old = exc.response.get("Item") or dynamodb.get_item(TableName=table, ConsistentRead=True, Key=marshal(key)).get(
            "Item"
        )
        return unmarshal(old) if old else dict(item)
    return None


# tradai-deployments' key (spec 3.2 row 5): written by the strategy deployer and by model promotions.
DEPLOYMENT_KEY = ("strategy_name", "deployment_id")


def create(
    dynamodb: Any, table: str, item: Mapping[str, Any], key_names: tuple[str, ...]
) -> tuple[bool, dict[str, Any]]:
    """Put ``item`` unless an item with its key exists: (True, item) when written, else (False, the existing one)."""
    key = {name: item[name] for name in key_names}
    existing = put_if_absent(dynamodb, table, dict(item), key=key, key_attribute=key_names[-1])
    return (True, dict(item)) if existing is None else (False, existing)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
