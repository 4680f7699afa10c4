"""DynamoDB attribute-value conversion for the low-level client (numbers come back as int or float)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


def marshal(values: dict[str, Any]) -> dict[str, Any]:
    """{"name": "x", "ttl": 1} -> {"name": {"S": "x"}, "ttl": {"N": "1"}}."""
    return {key: _serializer.serialize(value) for key, value in values.items()}


def unmarshal(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
