"""EndpointStore on the single table: an organisation's endpoints under `ORG#<org>`, each
endpoint's deliveries under `ENDPOINT#<id>` ordered by their event's time (kept 30 days)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from callpay.adapters.dynamodb_items import epoch, from_item, is_condition_failure, key, to_item
from callpay.adapters.table_schema import TTL_ATTRIBUTE
from callpay.domain.webhook_endpoint import Delivery, WebhookEndpoint

DELIVERY_RETENTION = timedelta(days=30)


def _endpoint_key(org_id: str, endpoint_id: str) -> dict[str, Any]:
    return key(f"ORG#{org_id}", f"ENDPOINT#{endpoint_id}")


def _delivery_key(endpoint_id: str, delivery_key: str) -> dict[str, Any]:
    return key(f"ENDPOINT#{endpoint_id}", f"DELIVERY#{delivery_key}")


def _delivery_item(delivery: Delivery) -> dict[str, Any]:
    keys = _delivery_key(delivery.endpoint_id, delivery.key)
    values = delivery.model_dump(mode="json") | {
        "PK": keys["PK"]["S"],
        "SK": keys["SK"]["S"],
        "kind": "delivery",
        TTL_ATTRIBUTE: epoch(delivery.occurred_at + DELIVERY_RETENTION),
    }
    return to_item(values)


class DynamoDBEndpointStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        keys = _endpoint_key(endpoint.org_id, endpoint.id)
        values = endpoint.model_dump(mode="json") | {
            "PK": keys["PK"]["S"], "SK": keys["SK"]["S"], "kind": "webhook_endpoint"
        }  # fmt: skip
        self._db.put_item(
            TableName=self._table, Item=to_item(values),
            ConditionExpression="attribute_not_exists(PK)",
        )  # fmt: skip

    def endpoints_of(self, org_id: str) -> list[WebhookEndpoint]:
        return [
            WebhookEndpoint.model_validate(item)
            for item in self._query(f"ORG#{org_id}", "ENDPOINT#")
        ]

    def get_endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        item = self._db.get_item(
            TableName=self._table, Key=_endpoint_key(org_id, endpoint_id), ConsistentRead=True
        ).get("Item")
        return WebhookEndpoint.model_validate(from_item(item)) if item else None

    def remove_endpoint(self, org_id: str, endpoint_id: str) -> bool:
        try:
            self._db.delete_item(
                TableName=self._table, Key=_endpoint_key(org_id, endpoint_id),
                ConditionExpression="attribute_exists(PK)",
            )  # fmt: skip
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def add_delivery(self, delivery: Delivery) -> Delivery:
        try:
            self._db.put_item(
                TableName=self._table, Item=_delivery_item(delivery),
                ConditionExpression="attribute_not_exists(PK)",
            )  # fmt: skip
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            stored = self.get_delivery(delivery.endpoint_id, delivery.key)
            assert stored is not None  # deliveries are only removed by their TTL
            return stored
        return delivery

    def get_delivery(self, endpoint_id: str, key: str) -> Delivery | None:
        item = self._db.get_item(
            TableName=self._table, Key=_delivery_key(endpoint_id, key), ConsistentRead=True
        ).get("Item")
        return Delivery.model_validate(from_item(item)) if item else None

    def save_delivery(self, delivery: Delivery) -> None:
        self._db.put_item(TableName=self._table, Item=_delivery_item(delivery))

    def failed_deliveries(self, endpoint_id: str) -> list[Delivery]:
        items = self._query(f"ENDPOINT#{endpoint_id}", "DELIVERY#")
        deliveries = [Delivery.model_validate(item) for item in items]
        return [delivery for delivery in deliveries if delivery.status == "failed"]

    def _query(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={":pk": {"S": pk}, ":prefix": {"S": prefix}},
            ConsistentRead=True,
        )
        return [from_item(item) for page in pages for item in page.get("Items", [])]
