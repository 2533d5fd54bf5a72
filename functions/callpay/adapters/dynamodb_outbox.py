"""The outbox: events for the platform written in the same transaction as the change they
announce, so an event is never lost and never announces a change that was not made.

Each event is an item beside its object (`PR#<id>` or `CLINIC#<id>`, sort key
`OUTBOX#<version>#<type>`); the table's stream hands each new one to platform_outbox,
which fans it out to the endpoints' delivery queue. Outbox items expire after a week.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from callpay.adapters.dynamodb_items import epoch, from_item, to_item
from callpay.adapters.table_schema import TTL_ATTRIBUTE
from callpay.domain.platform_events import PlatformEvent

KIND = "platform_event"
RETENTION = timedelta(days=7)
# The stream records platform_outbox is given (its event source mapping's filter, and the
# local stack's): new outbox items only.
STREAM_FILTER = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": [KIND]}}}}


def outbox_put(table: str, pk: str, version: int, event: PlatformEvent) -> dict[str, Any]:
    """The transaction item that writes `event` to the outbox (once: a retried transaction
    writes the same item again)."""
    item = {
        "PK": pk,
        "SK": f"OUTBOX#{version:010d}#{event.type}#{event.id}",
        "kind": KIND,
        "event": event.model_dump_json(),
        TTL_ATTRIBUTE: epoch(event.occurred_at + RETENTION),
    }
    return {"Put": {"TableName": table, "Item": to_item(item)}}


def event_of(image: dict[str, Any]) -> PlatformEvent:
    """The event in an outbox item, as the table's stream carries it (NewImage)."""
    return PlatformEvent.model_validate_json(str(from_item(image)["event"]))
