"""What Stripe's PaymentIntent events mean for a payment request.

Stripe's vocabulary is translated here, once, into our StatusChange; the webhook
handler and our own API calls then share the same `transition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from callpay.domain.payment_request import Cause, Failure, Status
from callpay.domain.transitions import StatusChange

# Stripe retries a webhook for up to 3 days; processed event ids are kept longer.
EVENT_RETENTION = timedelta(days=7)

INTENT_EVENTS: dict[str, Status] = {
    "payment_intent.succeeded": Status.SUCCEEDED,
    "payment_intent.payment_failed": Status.FAILED,
    "payment_intent.processing": Status.PROCESSING,
    "payment_intent.requires_action": Status.REQUIRES_ACTION,
    "payment_intent.canceled": Status.CANCELED,
    "payment_intent.amount_capturable_updated": Status.AUTHORIZED,
}


class PaymentIntentSnapshot(BaseModel):
    """The fields of a PaymentIntent we read; Stripe sends many more."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: str = ""
    amount: int = 0
    # Absent from some older API versions (and localstripe): then the whole amount was paid.
    amount_received: int | None = None
    amount_capturable: int | None = None
    metadata: dict[str, str] = {}
    last_payment_error: dict[str, Any] | None = None

    @property
    def payment_request_id(self) -> str | None:
        return self.metadata.get("payment_request_id")


class StripeEvent(BaseModel):
    """A verified Stripe event, reduced to what routing and ordering need."""

    model_config = ConfigDict(extra="ignore")

    id: str
    type: str
    created: int
    account: str | None = None
    data: dict[str, Any]

    @property
    def object(self) -> dict[str, Any]:
        obj = self.data.get("object")
        return obj if isinstance(obj, dict) else {}


def failure_of(intent: PaymentIntentSnapshot) -> Failure:
    error = intent.last_payment_error or {}
    code = error.get("decline_code") or error.get("code") or "payment_failed"
    message = error.get("message") or "The payment failed."
    return Failure(code=str(code), message=str(message))


@dataclass(frozen=True, slots=True)
class Reading:
    """What an event says: which PaymentIntent, our request id if Stripe echoed it, and
    the change it asks for."""

    intent_id: str
    payment_request_id: str | None
    change: StatusChange


def read(event: StripeEvent) -> Reading | None:
    """The change an event asks for, or None for events we do not act on."""
    kind = event.object.get("object")
    if kind == "payment_intent" and event.type in INTENT_EVENTS:
        intent = PaymentIntentSnapshot.model_validate(event.object)
        return Reading(intent.id, intent.payment_request_id, intent_change(event, intent))
    intent_id = event.object.get("payment_intent")
    if not isinstance(intent_id, str):
        return None
    cause = Cause(actor="stripe", subject=event.id, detail=event.type)
    if kind == "charge" and event.type == "charge.refunded":
        # Refunds made in Stripe's dashboard; ours are written through when made.
        refunded = int(event.object.get("amount_refunded") or 0)
        full = bool(event.object.get("refunded"))
        status = Status.REFUNDED if full else Status.PARTIALLY_REFUNDED
        change = StatusChange(status, cause, event.created, amount_refunded=refunded)
        return Reading(intent_id, None, change)
    if kind == "dispute" and event.type == "charge.dispute.created":
        return Reading(intent_id, None, StatusChange(Status.DISPUTED, cause, event.created))
    return None


def intent_change(event: StripeEvent, intent: PaymentIntentSnapshot) -> StatusChange:
    """The change a PaymentIntent event asks for."""
    status = INTENT_EVENTS[event.type]
    if intent.status == "requires_capture":
        # The intent itself is the truth: authorised, not yet captured (localstripe, for
        # one, says "succeeded" for an authorisation).
        status = Status.AUTHORIZED
    cause = Cause(actor="stripe", subject=event.id, detail=event.type)
    captured = intent.amount if intent.amount_received is None else intent.amount_received
    capturable = intent.amount if intent.amount_capturable is None else intent.amount_capturable
    return StatusChange(
        status=status,
        cause=cause,
        event_created=event.created,
        amount_captured=captured if status is Status.SUCCEEDED else None,
        amount_capturable=capturable if status is Status.AUTHORIZED else None,
        failure=failure_of(intent) if status is Status.FAILED else None,
    )
