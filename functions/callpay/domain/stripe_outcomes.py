"""What Stripe's events mean for a payment request.

Stripe's vocabulary is translated here, once, into our StatusChange; the webhook
handler and our own API calls then share the same `transition`. The event's object is
read into the strict model its type calls for (domain/stripe_objects.py): a shape that
does not fit raises pydantic's ValidationError, which the webhook answers 400.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from callpay.domain.disputes import DisputeUpdate, FundsMove
from callpay.domain.payment_request import (
    CancellationReason,
    Cause,
    ChargeDetails,
    Failure,
    PaymentRequest,
    Status,
)
from callpay.domain.refunds import RELEASES_NOT_REFUNDS_SINCE, returned_by_charge
from callpay.domain.stripe_objects import Charge, Dispute, PaymentIntent, StripeEvent
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
DISPUTE_EVENTS: dict[str, FundsMove] = {
    "charge.dispute.created": None,
    "charge.dispute.updated": None,
    "charge.dispute.closed": None,
    "charge.dispute.funds_withdrawn": "withdrawn",
    "charge.dispute.funds_reinstated": "reinstated",
}
# charge.expired: an uncaptured charge (a hold) lapsed.
CHARGE_EVENTS = frozenset({"charge.refunded", "charge.succeeded", "charge.expired"})
ACCOUNT_EVENTS = frozenset({"account.updated", "account.application.deauthorized"})
# Every event type callpay acts on (the webhook endpoints subscribe to these).
HANDLED = frozenset(INTENT_EVENTS) | frozenset(DISPUTE_EVENTS) | CHARGE_EVENTS | ACCOUNT_EVENTS


@dataclass(frozen=True, slots=True)
class Reading:
    """What an event says: which PaymentIntent, our request id if Stripe echoed it, and
    the change it asks for."""

    intent_id: str
    payment_request_id: str | None
    change: StatusChange
    # charge.refunded: the charge, whose figure is read against our record (what was
    # captured) and the event's API version.
    refunded_charge: Charge | None = None
    api_version: str | None = None

    def change_for(self, request: PaymentRequest) -> StatusChange:
        if self.refunded_charge is None:
            return self.change
        returned = returned_by_charge(
            self.refunded_charge, self.api_version, request.amount_captured
        )
        return replace(self.change, reported_refunded=returned)


def asks_for_money_back(change: StatusChange) -> bool:
    """A refund or a dispute: only a paid request can have one."""
    return bool(change.reported_refunded) or change.dispute is not None


def read(event: StripeEvent) -> Reading | None:
    """The change an event asks for, or None for events we do not act on."""
    cause = Cause(actor="stripe", subject=event.id, detail=event.type)
    if event.type in INTENT_EVENTS:
        intent = PaymentIntent.model_validate(event.object)
        return Reading(intent.id, intent.metadata.our_id, intent_change(event, intent, cause))
    if event.type in CHARGE_EVENTS:
        charge = Charge.model_validate(event.object)
        intent_id = charge.payment_intent
        if intent_id is None:
            return None  # a charge made without a PaymentIntent is not one of ours
        if event.type == "charge.refunded":
            facts = StatusChange(None, cause, event.created, intent_id=intent_id)
            return Reading(intent_id, None, facts, charge, event.api_version)
        if event.type == "charge.expired":
            lapsed = StatusChange(
                Status.CANCELED, cause, event.created, intent_id=intent_id,
                cancellation_reason="expired",
            )  # fmt: skip
            return Reading(intent_id, None, lapsed)
        # charge.succeeded: the card, for the receipt (recent versions' PaymentIntent
        # events name their charge by id only), and a hold's deadline.
        facts = StatusChange(
            None, cause, event.created, charge=details_of(charge), intent_id=intent_id,
            capture_before=capture_before_of(charge),
        )  # fmt: skip
        return Reading(intent_id, None, facts)
    if event.type in DISPUTE_EVENTS:
        dispute = Dispute.model_validate(event.object)
        intent_id = dispute.payment_intent or (
            dispute.charge.payment_intent if isinstance(dispute.charge, Charge) else None
        )
        if intent_id is None:
            return None
        update = DisputeUpdate(dispute, event.created, DISPUTE_EVENTS[event.type])
        facts = StatusChange(None, cause, event.created, dispute=update, intent_id=intent_id)
        return Reading(intent_id, None, facts)
    return None


def failure_of(intent: PaymentIntent) -> Failure:
    error = intent.last_payment_error
    code = (error and (error.decline_code or error.code)) or "payment_failed"
    message = (error and error.message) or "The payment failed."
    return Failure(code=code, message=message)


def capture_before_of(charge: Charge | None) -> datetime | None:
    card = charge.payment_method_details.card if charge and charge.payment_method_details else None
    if card is None or card.capture_before is None:
        return None
    return datetime.fromtimestamp(card.capture_before, UTC)


def cancellation_of(intent: PaymentIntent, api_version: str | None) -> CancellationReason:
    """Why Stripe says an intent was canceled, in our words: a hold that lapsed is
    `expired` (Stripe's `expired` since 2025-03-31.basil, `automatic` before), anything
    else (our own cancel, the dashboard) `canceled`."""
    reason = intent.cancellation_reason
    older = api_version is None or api_version[:10] < RELEASES_NOT_REFUNDS_SINCE
    if reason == "expired" or (reason == "automatic" and older):
        return "expired"
    return "canceled"


def details_of(charge: Charge | None) -> ChargeDetails | None:
    if charge is None:
        return None
    card = charge.payment_method_details.card if charge.payment_method_details else None
    return ChargeDetails(
        charge_id=charge.id,
        card_brand=card.brand if card else None,
        card_last4=card.last4 if card else None,
    )


def intent_change(event: StripeEvent, intent: PaymentIntent, cause: Cause) -> StatusChange:
    """The change a PaymentIntent event asks for."""
    status = INTENT_EVENTS[event.type]
    if intent.status == "requires_capture":
        # The intent itself is the truth: authorised, not yet captured (localstripe, for
        # one, says "succeeded" for an authorisation).
        status = Status.AUTHORIZED
    captured = intent.amount if intent.amount_received is None else intent.amount_received
    capturable = intent.amount if intent.amount_capturable is None else intent.amount_capturable
    paid = status in {Status.SUCCEEDED, Status.AUTHORIZED}
    kept = paid and intent.setup_future_usage == "off_session"
    return StatusChange(
        status=status,
        cause=cause,
        event_created=event.created,
        amount_captured=captured if status is Status.SUCCEEDED else None,
        amount_capturable=capturable if status is Status.AUTHORIZED else None,
        failure=failure_of(intent) if status is Status.FAILED else None,
        charge=details_of(intent.charge)
        or (ChargeDetails(charge_id=intent.latest_charge) if intent.latest_charge else None),
        intent_id=intent.id,
        cancellation_reason=(
            cancellation_of(intent, event.api_version) if status is Status.CANCELED else None
        ),
        capture_before=capture_before_of(intent.charge),
        saved_payment_method=intent.payment_method_id if kept else None,
    )
