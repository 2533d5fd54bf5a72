"""Stripe events as Stripe would deliver them, signed by the test (`signature`).

The objects follow Stripe's documented shapes for the API version an event is rendered
in (the version of the webhook endpoint):

- PaymentIntent: `charges` (a list, newest first) before 2022-11-15, `latest_charge` (the
  charge's id) since.
- Charge: `refunds` (a list) included before 2022-11-15, not since. Before
  2025-03-31.basil a partial capture and a released authorisation are refunds: the
  uncaptured remainder is in `amount_refunded` (and `refunded` is true for a released
  authorisation, whose `amount_captured` is null); since basil neither touches
  `amount_refunded`, and a released authorisation has `amount_captured` 0 and sends no
  `charge.refunded` at all.
- Dispute: `charge` and `payment_intent` ids, `status`, `reason`, `amount`,
  `is_charge_refundable`, `balance_transactions`.
- An authorisation's charge: `captured: false`, `payment_method_details.card.capture_before`
  (epoch seconds). A hold that lapses: `payment_intent.canceled` with
  `cancellation_reason: expired` since 2025-03-31.basil, `automatic` before; and
  `charge.expired` for its charge.
- Off-session failures (`authentication_required`): `last_payment_error` with that `code`
  and `decline_code`, the intent back to `requires_payment_method`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from devtools.stripe_signature import signature_header

# The Stripe-Signature header for a payload (devtools' one implementation).
signature = signature_header

# The oldest version callpay supports, the versions whose shapes differ, and the SDK's.
API_VERSIONS = ["2020-08-27", "2022-11-15", "2024-06-20", "2025-03-31.basil",
                "2026-10-28.endive"]  # fmt: skip
BASIL = "2025-03-31"


def folds_releases(api_version: str) -> bool:
    return api_version[:10] < BASIL


def event(
    event_type: str,
    obj: dict[str, Any],
    *,
    api_version: str | None = None,
    created: int | None = None,
    account: str | None = None,
) -> dict[str, Any]:
    """An event envelope as Stripe sends it to a webhook endpoint."""
    envelope: dict[str, Any] = {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj},
    }
    if api_version:
        envelope["api_version"] = api_version
    if account:
        envelope["account"] = account
    return envelope


def charge_object(
    intent_id: str,
    *,
    amount: int = 8000,
    captured: int | None = None,
    refunded: int = 0,
    api_version: str = "2025-03-31.basil",
    charge_id: str = "ch_1",
    refund_ids: tuple[str, ...] = (),
    capture_before: int | None = None,
) -> dict[str, Any]:
    """The charge of a PaymentIntent as rendered in `api_version`.

    `captured`: None for an authorisation released without capture, else the amount
    captured (less than `amount` for a partial capture). `refunded`: money refunded to the
    patient by real refunds.
    """
    folds = folds_releases(api_version)
    if captured is None:  # released authorisation
        amount_captured: int | None = None if folds else 0
        amount_refunded = amount if folds else 0
    else:
        amount_captured = captured
        amount_refunded = refunded + (amount - captured if folds else 0)
    # Fully refunded: the whole authorisation (old versions), or everything captured.
    fully = amount_refunded >= amount if folds else bool(captured) and refunded >= (captured or 0)
    charge: dict[str, Any] = {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount_captured,
        "amount_refunded": amount_refunded,
        "captured": captured is not None,
        "refunded": fully,
        "currency": "aud",
        "disputed": False,
        "paid": True,
        "payment_intent": intent_id,
        "payment_method": "pm_1",
        "payment_method_details": {
            "type": "card",
            "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034},
        },
        "status": "succeeded",
        "metadata": {},
    }
    if capture_before is not None:
        charge["payment_method_details"]["card"]["capture_before"] = capture_before
    if api_version < "2022-11-15":
        charge["refunds"] = {
            "object": "list",
            "data": [{"id": r, "object": "refund", "charge": charge_id} for r in refund_ids],
            "has_more": False,
            "total_count": len(refund_ids),
        }
    return charge


def intent_event(
    event_type: str,
    intent_id: str,
    payment_request_id: str | None,
    *,
    created: int | None = None,
    amount: int = 8000,
    received: int | None = None,
    account: str | None = None,
    decline_code: str | None = None,
    api_version: str | None = None,
    cancellation_reason: str | None = None,
    capture_before: int | None = None,
    error_code: str = "card_declined",
    payment_method: str | None = None,
    setup_future_usage: str | None = None,
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
        error = {"code": error_code, "decline_code": decline_code, "message": "Declined."}
    received = amount if received is None else received
    intent: dict[str, Any] = {
        "id": intent_id,
        "object": "payment_intent",
        "status": status,
        "amount": amount,
        "amount_received": received if status == "succeeded" else 0,
        "amount_capturable": amount if status == "requires_capture" else 0,
        "metadata": {"payment_request_id": payment_request_id} if payment_request_id else {},
        "last_payment_error": error,
        "cancellation_reason": cancellation_reason,
        "payment_method": payment_method,
        "setup_future_usage": setup_future_usage,
    }
    if api_version and status in {"succeeded", "requires_capture"}:
        charge = charge_object(
            intent_id, amount=amount, captured=received, api_version=api_version,
            capture_before=capture_before,
        )  # fmt: skip
        if status == "requires_capture":
            charge |= {"captured": False, "amount_captured": 0}
        if api_version < "2022-11-15":
            intent["charges"] = {"object": "list", "data": [charge], "has_more": False}
        else:
            intent["latest_charge"] = charge["id"]
    return event(event_type, intent, api_version=api_version, created=created, account=account)


def dispute_object(
    intent_id: str,
    *,
    status: str = "needs_response",
    amount: int = 8000,
    reason: str = "fraudulent",
    dispute_id: str = "dp_1",
    refundable: bool = False,
) -> dict[str, Any]:
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "currency": "aud",
        "charge": "ch_1",
        "payment_intent": intent_id,
        "status": status,
        "reason": reason,
        "is_charge_refundable": refundable,
        "balance_transactions": [],
        "created": int(time.time()),
        "evidence_details": {"due_by": int(time.time()) + 7 * 86400, "has_evidence": False},
        "livemode": False,
        "metadata": {},
    }


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()
