"""The events callpay tells the video platform about (docs/platform-events.md).

Every change of state that the platform's own records need becomes a PlatformEvent, in the
same transaction as the change itself (an outbox item of the store). What an event carries
is decided here, once: ids, amounts, statuses and times; the clinician's description only
if the clinic opted in to sharing it with the platform; never the patient's e-mail.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from callpay.domain.invoice import InvoiceMove
from callpay.domain.payment_request import PaymentRequest, Status

EventType = Literal[
    "payment_request.created",
    "payment_request.updated",
    "payment_request.succeeded",
    "payment_request.failed",
    "payment_request.canceled",
    "payment_request.refunded",
    "payment_request.disputed",
    "payment_request.hold_expiring",
    "invoice.paid",
    "invoice.released",
    "invoice.refunded",
    "clinic.stripe_account.updated",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

# The payment request's new status -> the event that announces it.
STATUS_EVENTS: dict[Status, EventType] = {
    Status.SUCCEEDED: "payment_request.succeeded",
    Status.FAILED: "payment_request.failed",
    Status.CANCELED: "payment_request.canceled",
    Status.PARTIALLY_REFUNDED: "payment_request.refunded",
    Status.REFUNDED: "payment_request.refunded",
    Status.DISPUTED: "payment_request.disputed",
}
# Only sent when the clinic shares the description with the platform.
CLINICAL_FIELDS = ("description",)


class PlatformEvent(BaseModel):
    """One event, as the outbox keeps it until it is delivered to the platform's endpoints."""

    model_config = ConfigDict(frozen=True)

    id: str  # the same for every delivery and retry: Standard Webhooks' webhook-id
    type: EventType
    occurred_at: datetime
    clinic_id: str
    # The object's state after the change, clinical fields included (dropped in `payload`).
    data: dict[str, Any]

    def payload(self, share_description: bool) -> str:
        """The JSON body sent to the platform (Standard Webhooks: type, timestamp, data)."""
        data = dict(self.data)
        if not share_description:
            for name in CLINICAL_FIELDS:
                data.pop(name, None)
        body = {"type": self.type, "timestamp": self.occurred_at.isoformat(), "data": data}
        return json.dumps(body, separators=(",", ":"), sort_keys=True)


def event_id(*parts: object) -> str:
    """The same id whenever the same change is written again (a retried transaction)."""
    digest = hashlib.sha256("\n".join(str(p) for p in parts).encode()).hexdigest()
    return f"evt_{digest[:32]}"


def payment_request_data(request: PaymentRequest) -> dict[str, Any]:
    """The request as the platform sees it; `updated_at` and `sequence` order its events."""
    return {
        "object": "payment_request",
        "id": request.id,
        "call_id": request.call_id,
        "clinic_id": request.clinic_id,
        "status": request.status.value,
        "amount": request.amount,
        "currency": request.currency,
        "capture_method": request.capture_method,
        "amount_captured": request.amount_captured,
        "amount_refunded": request.amount_refunded,
        "invoice_ids": sorted({i.invoice_id for i in request.line_items if i.invoice_id}),
        "failure": request.failure.model_dump() if request.failure else None,
        "dispute": (
            request.dispute.model_dump(include={"id", "status", "reason", "amount"})
            if request.dispute
            else None
        ),
        "created_at": request.created_at.isoformat(),
        "updated_at": request.updated_at.isoformat(),
        "paid_at": request.paid_at.isoformat() if request.paid_at else None,
        "hold_expires_at": request.hold_deadline.isoformat() if request.hold_deadline else None,
        "sequence": request.version,
        "description": request.description,
    }


def request_event(before: PaymentRequest | None, after: PaymentRequest) -> PlatformEvent | None:
    """What a change of a payment request announces (`before` None: it was created), or
    None for a change the platform has no use for (the patient's checkout details)."""
    kind = _request_event_type(before, after)
    if kind is None:
        return None
    return PlatformEvent(
        id=event_id(after.id, after.version, kind),
        type=kind,
        occurred_at=after.updated_at,
        clinic_id=after.clinic_id,
        data=payment_request_data(after),
    )


def _request_event_type(before: PaymentRequest | None, after: PaymentRequest) -> EventType | None:
    if before is None:
        return "payment_request.created"
    if after.status is not before.status:
        return STATUS_EVENTS.get(after.status, "payment_request.updated")
    if after.dispute != before.dispute:
        return "payment_request.disputed"  # opened, updated, won or lost
    if after.amount_refunded != before.amount_refunded:
        return "payment_request.refunded"
    if after.expiry_warned_at and not before.expiry_warned_at:
        return "payment_request.hold_expiring"  # a day left: capture, or ask for a new hold
    if after.status is Status.FAILED and after.last_event_at != before.last_event_at:
        return "payment_request.failed"  # declined again, by a newer Stripe event
    if (after.amount_captured, after.amount_capturable) != (
        before.amount_captured,
        before.amount_capturable,
    ):
        return "payment_request.updated"
    return None


def clinic_account_event(
    clinic_id: str, version: int, at: datetime, account: dict[str, Any]
) -> PlatformEvent:
    """The clinic's Stripe account was linked, updated by Stripe, removed or deauthorized."""
    data = {"object": "clinic", "clinic_id": clinic_id, **account,
            "updated_at": at.isoformat(), "sequence": version}  # fmt: skip
    return PlatformEvent(
        id=event_id("clinic", clinic_id, version),
        type="clinic.stripe_account.updated",
        occurred_at=at,
        clinic_id=clinic_id,
        data=data,
    )


def invoice_event(move: InvoiceMove, request: PaymentRequest) -> PlatformEvent:
    """An invoice was paid, released or refunded by the change of `request`."""
    data = {
        "object": "invoice",
        "id": move.invoice_id,
        "clinic_id": request.clinic_id,
        "status": move.to.value,
        "total": move.total,
        "currency": request.currency,
        "amount_refunded": move.amount_refunded,
        "payment_request_id": request.id,
        "paid_at": move.paid_at.isoformat() if move.paid_at else None,
        "receipt_number": move.receipt_number,
        "updated_at": request.updated_at.isoformat(),
    }
    return PlatformEvent(
        id=event_id(
            "invoice", request.clinic_id, move.invoice_id, request.id, request.version, move.event
        ),
        type=move.event,
        occurred_at=request.updated_at,
        clinic_id=request.clinic_id,
        data=data,
    )
