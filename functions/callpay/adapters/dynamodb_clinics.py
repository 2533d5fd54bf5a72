"""ClinicStore on the single table: settings, the Stripe account pointer, the clinic audit trail.

A clinic's settings item carries a version; every change is one transaction of the new
item (on the version read), its audit entry and, when the Stripe account changes, the
`ACCOUNT#` pointer that lets Connect webhooks find the clinic by account id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from callpay.adapters.dynamodb_items import (
    epoch,
    from_item,
    is_condition_failure,
    key,
    processed_event_put,
    to_item,
)
from callpay.adapters.table_schema import INDEXES, TTL_ATTRIBUTE
from callpay.domain.clinic import Clinic, ClinicAuditEntry, ClinicChange
from callpay.domain.errors import UpstreamUnavailable
from callpay.domain.payment_request import PaymentRequest
from callpay.ports import DuplicateEvent, VersionConflict

# Stripe keeps an idempotency key for 24 hours: a link claim lasts as long.
LINK_RETENTION = timedelta(hours=24)


def clinic_item(clinic: Clinic) -> dict[str, Any]:
    values = clinic.model_dump(mode="json") | {
        "PK": f"CLINIC#{clinic.clinic_id}",
        "SK": "SETTINGS",
        "kind": "clinic",
    }
    return to_item(values)


def read_clinic(client: Any, table: str, clinic_id: str) -> Clinic | None:
    item = client.get_item(
        TableName=table, Key=key(f"CLINIC#{clinic_id}", "SETTINGS"), ConsistentRead=True
    ).get("Item")
    return Clinic.model_validate(from_item(item)) if item else None


class DynamoDBClinicStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def get_clinic(self, clinic_id: str) -> Clinic | None:
        return read_clinic(self._db, self._table, clinic_id)

    def save_clinic(
        self,
        change: ClinicChange,
        *,
        account_linked: str | None = None,
        account_removed: str | None = None,
        event: tuple[str, datetime] | None = None,
    ) -> None:
        """Write `change.after` if the clinic is still at `change.before`'s version; with
        `event` (id, expiry), record that Stripe event as processed in the same transaction."""
        clinic, expected_version = change.after, change.before.version
        # Version 0 is a clinic never saved by an admin (absent, or seeded as is).
        condition: dict[str, Any] = {
            "ConditionExpression": (
                "attribute_not_exists(PK) OR version = :expected"
                if expected_version == 0
                else "version = :expected"
            ),
            "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
        }
        items: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table, "Item": clinic_item(clinic), **condition}},
            {"Put": {"TableName": self._table, "Item": self._audit_item(change.audit)}},
        ]
        if account_removed:
            # The link claim goes with the account: a re-link creates a new one.
            items.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": key(f"LINK#{clinic.clinic_id}", "LINK"),
                    }
                }
            )
            items.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": key(f"ACCOUNT#{account_removed}", "ACCOUNT"),
                    }
                }
            )
        if account_linked:
            pointer = {
                "PK": f"ACCOUNT#{account_linked}",
                "SK": "ACCOUNT",
                "kind": "stripe_account",
                "clinic_id": clinic.clinic_id,
            }
            items.append({"Put": {"TableName": self._table, "Item": to_item(pointer)}})
        if event:
            items.append(processed_event_put(self._table, *event))
        try:
            self._db.transact_write_items(TransactItems=items)
        except self._db.exceptions.TransactionCanceledException as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if event and reasons[-1:] == ["ConditionalCheckFailed"]:
                raise DuplicateEvent(event[0]) from error
            raise VersionConflict(clinic.clinic_id) from error

    def claim_account_link(self, clinic_id: str, link_key: str, now: datetime) -> str:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=to_item(
                    {"PK": f"LINK#{clinic_id}", "SK": "LINK", "kind": "account_link",
                     "link_key": link_key, TTL_ATTRIBUTE: epoch(now + LINK_RETENTION)}
                ),
                ConditionExpression="attribute_not_exists(PK) OR #ttl < :now",
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":now": {"N": str(epoch(now))}},
            )  # fmt: skip
            return link_key
        except ClientError as error:
            if not is_condition_failure(error):
                raise
        held = self._db.get_item(
            TableName=self._table, Key=key(f"LINK#{clinic_id}", "LINK"), ConsistentRead=True
        ).get("Item")
        if held is None:  # expired and deleted in between: free again
            raise UpstreamUnavailable("store_busy", "Please try again.")
        return str(from_item(held)["link_key"])

    def clinic_by_account(self, stripe_account_id: str) -> Clinic | None:
        item = self._db.get_item(
            TableName=self._table, Key=key(f"ACCOUNT#{stripe_account_id}", "ACCOUNT")
        ).get("Item")
        return self.get_clinic(str(from_item(item)["clinic_id"])) if item else None

    def clinic_audit(self, clinic_id: str) -> list[ClinicAuditEntry]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": f"CLINIC#{clinic_id}"},
                ":prefix": {"S": "AUDIT#"},
            },
            ConsistentRead=True,
        )
        return [
            ClinicAuditEntry.model_validate(from_item(item))
            for page in pages
            for item in page.get("Items", [])
        ]

    def payments(self, clinic_id: str, start: datetime, end: datetime) -> Iterator[PaymentRequest]:
        """The clinic's payment requests created in [start, end), oldest first."""
        pk, sk = INDEXES["by_clinic"]
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table,
            IndexName="by_clinic",
            KeyConditionExpression="#pk = :pk AND #sk BETWEEN :start AND :end",
            ExpressionAttributeNames={"#pk": pk, "#sk": str(sk)},
            ExpressionAttributeValues={
                ":pk": {"S": f"CLINIC#{clinic_id}"},
                ":start": {"S": start.isoformat()},
                # Sort keys are "<created_at>#<id>": a key at exactly `end` is excluded below.
                ":end": {"S": f"{end.isoformat()}~"},
            },
        )
        for page in pages:
            for item in page.get("Items", []):
                request = PaymentRequest.model_validate(from_item(item))
                if start <= request.created_at < end:
                    yield request

    def _audit_item(self, entry: ClinicAuditEntry) -> dict[str, Any]:
        values = entry.model_dump(mode="json") | {
            "PK": f"CLINIC#{entry.clinic_id}",
            "SK": f"AUDIT#{entry.version:010d}",
            "kind": "clinic_audit",
        }
        return to_item(values)
