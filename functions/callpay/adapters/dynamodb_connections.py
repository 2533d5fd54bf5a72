"""ConnectionStore on the single table: by connection id, and by call through `by_call`.

Records expire with the table's TTL two hours after connecting (API Gateway's limit),
so a connection whose `$disconnect` never ran does not linger.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from callpay.adapters.dynamodb_items import epoch, from_item, key, to_item
from callpay.adapters.table_schema import INDEXES, TTL_ATTRIBUTE
from callpay.domain.connection import Connection


class DynamoDBConnectionStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def add(self, connection: Connection) -> None:
        call_pk, call_sk = INDEXES["by_call"]
        values = connection.model_dump(mode="json") | {
            "PK": f"CONN#{connection.connection_id}",
            "SK": "CONN",
            "kind": "connection",
            call_pk: f"CALL#{connection.call_id}",
            str(call_sk): f"CONN#{connection.connection_id}",
            TTL_ATTRIBUTE: epoch(connection.expires_at),
        }
        self._db.put_item(TableName=self._table, Item=to_item(values))

    def remove(self, connection_id: str) -> None:
        self._db.delete_item(TableName=self._table, Key=key(f"CONN#{connection_id}", "CONN"))

    def get(self, connection_id: str) -> Connection | None:
        item = self._db.get_item(
            TableName=self._table, Key=key(f"CONN#{connection_id}", "CONN"), ConsistentRead=True
        ).get("Item")
        return Connection.model_validate(from_item(item)) if item else None

    def by_call(self, call_id: str) -> list[Connection]:
        return [Connection.model_validate(from_item(item)) for item in self._by_call(call_id)]

    def _by_call(self, call_id: str) -> Iterator[dict[str, Any]]:
        pk, sk = INDEXES["by_call"]
        paginator = self._db.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName="by_call",
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
            ExpressionAttributeNames={"#pk": pk, "#sk": str(sk)},
            ExpressionAttributeValues={":pk": {"S": f"CALL#{call_id}"}, ":prefix": {"S": "CONN#"}},
        )
        for page in pages:
            yield from page.get("Items", [])
