"""ReceiptLedger on the single table: which receipts were sent, and who is sending one now.

A worker claims a receipt before emailing it; the claim is a lease, so a worker that
died mid-send does not block the receipt forever, and a sent receipt is never claimed
again. SES has no idempotency key, so this ledger is what makes sending exactly once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from callpay.adapters.dynamodb_items import epoch, from_item, is_condition_failure, key, to_item
from callpay.domain.receipt_job import Claim

# Longer than a send takes (render + one SES call), shorter than SQS's visibility timeout.
LEASE = timedelta(seconds=60)


class DynamoDBReceiptLedger:
    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def claim(self, receipt_key: str, now: datetime) -> Claim:
        item = {
            "PK": f"RECEIPT#{receipt_key}",
            "SK": "RECEIPT",
            "kind": "receipt",
            "state": "sending",
            "lease_until": epoch(now + LEASE),
        }
        try:
            self._db.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression=(
                    "attribute_not_exists(PK) OR (#state = :sending AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":sending": {"S": "sending"},
                    ":now": {"N": str(epoch(now))},
                },
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            held = self._get(receipt_key)
            return Claim.SENT if held and held.get("state") == "sent" else Claim.BUSY
        return Claim.CLAIMED

    def mark_sent(self, receipt_key: str, message_id: str, now: datetime) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=key(f"RECEIPT#{receipt_key}", "RECEIPT"),
            UpdateExpression=(
                "SET #state = :sent, message_id = :id, sent_at = :at REMOVE lease_until"
            ),
            ConditionExpression="#state = :sending",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":sent": {"S": "sent"},
                ":sending": {"S": "sending"},
                ":id": {"S": message_id},
                ":at": {"S": now.isoformat()},
            },
        )

    def release(self, receipt_key: str) -> None:
        """Give the lease back after a failed send, so the retry need not wait for it."""
        try:
            self._db.delete_item(
                TableName=self._table,
                Key=key(f"RECEIPT#{receipt_key}", "RECEIPT"),
                ConditionExpression="#state = :sending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":sending": {"S": "sending"}},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def _get(self, receipt_key: str) -> dict[str, Any] | None:
        item = self._db.get_item(
            TableName=self._table, Key=key(f"RECEIPT#{receipt_key}", "RECEIPT"), ConsistentRead=True
        ).get("Item")
        return from_item(item) if item else None
