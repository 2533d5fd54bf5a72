"""Stripe events as Stripe would deliver them, signed by the test."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any


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


def signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header, computed the way Stripe documents it."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()
