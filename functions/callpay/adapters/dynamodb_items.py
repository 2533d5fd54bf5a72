"""Conversions between plain values and DynamoDB's typed attribute values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Typed attributes; None values are left out rather than stored as NULL."""
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def is_condition_failure(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


def processed_event_put(table: str, event_id: str, expires: datetime) -> dict[str, Any]:
    """The transaction item that records a Stripe event as processed, once only."""
    item = {
        "PK": f"EVENT#{event_id}",
        "SK": "EVENT",
        "kind": "stripe_event",
        "expires_at": epoch(expires),
    }
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }
