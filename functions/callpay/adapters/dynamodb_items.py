"""Conversions between plain values and DynamoDB's typed attribute values.

The same conversions as boto3's TypeSerializer and TypeDeserializer for the values callpay
stores (text, whole numbers, booleans, null, lists, maps, sets of text): numbers come back
as Decimal, floats are refused. Written out here because importing boto3 for them would
also import its session, s3transfer and multiprocessing into every cold start (about 14 ms,
docs/performance.md); tests/unit/test_dynamodb_items.py holds them to boto3's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

from botocore.exceptions import ClientError

# DynamoDB's numbers: 38 digits, exponents -130..125 (boto3's DYNAMODB_CONTEXT).
NUMBERS = Context(
    Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
)


def value(plain: Any) -> dict[str, Any]:
    """One typed attribute value."""
    if plain is None:
        return {"NULL": True}
    if isinstance(plain, bool):
        return {"BOOL": plain}
    if isinstance(plain, str):
        return {"S": plain}
    if isinstance(plain, int | Decimal):
        return {"N": _number(plain)}
    if isinstance(plain, Mapping):
        return {"M": {str(k): value(v) for k, v in plain.items()}}
    if isinstance(plain, list | tuple):
        return {"L": [value(v) for v in plain]}
    if isinstance(plain, set | frozenset) and all(isinstance(v, str) for v in plain):
        return {"SS": list(plain)}
    raise TypeError(f"Unsupported type {type(plain).__name__} for value {plain!r}")


def _number(number: int | Decimal) -> str:
    text = str(NUMBERS.create_decimal(number))
    if text in {"Infinity", "NaN"}:
        raise TypeError("Infinity and NaN not supported")
    return text


def plain(typed: Mapping[str, Any]) -> Any:
    """One typed attribute value as a plain one (numbers as Decimal)."""
    (kind, raw), *rest = typed.items()
    if rest:
        raise TypeError(f"Not a DynamoDB value: {typed!r}")
    match kind:
        case "S":
            return raw
        case "N":
            return NUMBERS.create_decimal(raw)
        case "BOOL":
            return raw
        case "NULL":
            return None
        case "L":
            return [plain(v) for v in raw]
        case "M":
            return {k: plain(v) for k, v in raw.items()}
        case "SS":
            return set(raw)
        case "NS":
            return {NUMBERS.create_decimal(v) for v in raw}
    raise TypeError(f"Unsupported DynamoDB type {kind}")


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Typed attributes; None values are left out rather than stored as NULL."""
    return {k: value(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in item.items()}


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
