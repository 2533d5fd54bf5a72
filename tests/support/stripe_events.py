"""Stripe events as Stripe would deliver them, signed by the test (`signature`)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from devtools.stripe_signature import signature_header

# The Stripe-Signature header for a payload (devtools' one implementation).
signature = signature_header


def intent_event(
    event_type: str,
    intent_id: str,
    payment_request_id: str | None,
    *,
    created: int | None = None,
    amount: int = 8000,
    account: str | None = None,
    decline_code: str | None = None,
) -> dict[str, Any]:
    status = {
        "payment_intent.succeeded": "succeeded",
        "payment_intent.payment_failed": "requires_payment_method",
        "payment_intent.processing": "processing",
        "payment_intent.requires_action": "requires_action",
        "payment_intent.canceled": "canceled",
        "payment_intent.amount_capturable_updated": "requires_capture",
    }.get(event_type, "requires_payment_method")
    error = None
    if event_type == "payment_intent.payment_failed":
        error = {"code": "card_declined", "decline_code": decline_code, "message": "Declined."}
    event: dict[str, Any] = {
        "id": f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": event_type,
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "data": {
            "object": {
                "id": intent_id,
                "object": "payment_intent",
                "status": status,
                "amount": amount,
                "amount_received": amount if status == "succeeded" else 0,
                "amount_capturable": amount if status == "requires_capture" else 0,
                "metadata": {"payment_request_id": payment_request_id}
                if payment_request_id
                else {},
                "last_payment_error": error,
            }
        },
    }
    if account:
        event["account"] = account
    return event


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()
