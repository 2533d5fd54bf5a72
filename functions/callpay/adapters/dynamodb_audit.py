"""The audit trail on the single table, read a page at a time.

Every audit entry is written in the same transaction as the change it records (the
payment request store and the clinic store); each also carries the `by_clinic` index keys
`AUDIT#<clinic>` / `<at>#<what>#<version>`, so a clinic's whole trail reads by time with
one query. Cursors are opaque to callers and can only point inside the trail they came from.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from callpay.adapters.dynamodb_items import from_item, to_item
from callpay.adapters.table_schema import INDEXES
from callpay.domain.clinic import ClinicAuditEntry
from callpay.domain.errors import BadRequest
from callpay.domain.payment_request import AuditEntry
from callpay.ports import AuditPage, AuditRecord

INDEX = "by_clinic"


def audit_index_keys(clinic_id: str, at: datetime, what: str, version: int) -> dict[str, str]:
    """The `by_clinic` keys of an audit entry: the clinic's trail, ordered by time."""
    pk, sk = INDEXES[INDEX]
    return {pk: f"AUDIT#{clinic_id}", str(sk): f"{at.isoformat()}#{what}#{version:010d}"}


def _encode(position: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _decode(cursor: str, names: tuple[str, ...]) -> dict[str, str]:
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise BadRequest("invalid_cursor", "'cursor' is not one this API gave.") from None
    if (
        not isinstance(position, dict)
        or set(position) != set(names)
        or not all(isinstance(position[n], str) for n in names)
    ):
        raise BadRequest("invalid_cursor", "'cursor' is not one this API gave.")
    return position


def record_of(item: dict[str, Any]) -> AuditRecord:
    values = from_item(item)
    if values.get("kind") == "clinic_audit":
        return ClinicAuditEntry.model_validate(values)
    return AuditEntry.model_validate(values)


class DynamoDBAuditLog:
    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def request_trail(self, payment_request_id: str, cursor: str | None, limit: int) -> AuditPage:
        """One payment request's entries, oldest first (a strongly consistent read)."""
        pk = f"PR#{payment_request_id}"
        params: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": "AUDIT#"}},
            "ConsistentRead": True,
        }
        if cursor:
            position = _decode(cursor, ("SK",))
            if not position["SK"].startswith("AUDIT#"):
                raise BadRequest("invalid_cursor", "'cursor' is not one this API gave.")
            params["ExclusiveStartKey"] = to_item({"PK": pk, "SK": position["SK"]})
        return self._page(params, limit, lambda last: {"SK": last["SK"]})

    def clinic_trail(
        self, clinic_id: str, start: datetime, end: datetime, cursor: str | None, limit: int
    ) -> AuditPage:
        """The clinic's entries made in [start, end), oldest first (from the index: a
        change is seen there a moment after it was made)."""
        pk, sk = INDEXES[INDEX]
        index_pk = f"AUDIT#{clinic_id}"
        params: dict[str, Any] = {
            "IndexName": INDEX,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :start AND :end",
            "ExpressionAttributeNames": {"#pk": pk, "#sk": str(sk)},
            "ExpressionAttributeValues": {
                ":pk": {"S": index_pk},
                ":start": {"S": start.isoformat()},
                # Sort keys start with the entry's time; one at exactly `end` is excluded below.
                ":end": {"S": f"{end.isoformat()}~"},
            },
        }
        if cursor:
            position = _decode(cursor, ("PK", "SK", "at"))
            params["ExclusiveStartKey"] = to_item(
                {"PK": position["PK"], "SK": position["SK"], pk: index_pk, str(sk): position["at"]}
            )
        page = self._page(
            params, limit, lambda last: {"PK": last["PK"], "SK": last["SK"], "at": last[str(sk)]}
        )
        kept = [r for r in page.entries if start <= r.at < end]
        return AuditPage(kept, page.next_cursor)

    def _page(self, params: dict[str, Any], limit: int, position: Any) -> AuditPage:
        answer = self._db.query(TableName=self._table, Limit=limit, **params)
        entries = [record_of(item) for item in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        return AuditPage(entries, _encode(position(from_item(last))) if last else None)
