"""The single DynamoDB table's keys and indexes.

One definition, used by the store, the CDK stack and the local stack, so they never drift.
"""

from __future__ import annotations

from typing import Any

PARTITION_KEY = "PK"
SORT_KEY = "SK"
TTL_ATTRIBUTE = "expires_at"
# The table's stream carries new items to platform_outbox (adapters/dynamodb_outbox.py).
STREAM_VIEW = "NEW_IMAGE"

# index name -> (partition key attribute, sort key attribute or None)
INDEXES: dict[str, tuple[str, str | None]] = {
    "by_call": ("GSI1PK", "GSI1SK"),  # a call's payment requests (and, later, connections)
    # A clinic's payment requests by time (CLINIC#<id>), for reports; and its audit trail
    # by time (AUDIT#<id>): every payment request's entries and the clinic's own.
    "by_clinic": ("GSI2PK", "GSI2SK"),
    "by_payment_intent": ("GSI3PK", None),  # webhook fallback when metadata is missing
    # Authorised holds by the day they lapse (HOLDS#<UTC date>, sorted by the instant):
    # the hold sweeper reads the days up to "now + warning" without a scan. Sparse: a
    # request is in it only while authorised.
    "by_hold_expiry": ("GSI4PK", "GSI4SK"),
}


def create_table_request(table_name: str) -> dict[str, Any]:
    """Arguments for DynamoDB CreateTable, as used by tests and the local stack."""
    attributes = {PARTITION_KEY, SORT_KEY}
    indexes = []
    for name, (pk, sk) in INDEXES.items():
        key_schema = [{"AttributeName": pk, "KeyType": "HASH"}]
        attributes.add(pk)
        if sk:
            key_schema.append({"AttributeName": sk, "KeyType": "RANGE"})
            attributes.add(sk)
        indexes.append(
            {"IndexName": name, "KeySchema": key_schema, "Projection": {"ProjectionType": "ALL"}}
        )
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in sorted(attributes)
        ],
        "GlobalSecondaryIndexes": indexes,
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": STREAM_VIEW},
    }
