"""Apply a verified Stripe event to the payment request it is about, exactly once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from callpay.domain.payment_request import PaymentRequest, Status
from callpay.domain.receipt_job import ReceiptJob
from callpay.domain.stripe_objects import StripeEvent
from callpay.domain.stripe_outcomes import Reading, asks_for_money_back, read
from callpay.domain.transitions import PAID, transition
from callpay.logic.optimistic import optimistic_update
from callpay.ports import DuplicateEvent, Notifier, PaymentStore, ReceiptQueue


class Outcome(StrEnum):
    APPLIED = "applied"  # the payment request moved forward
    STALE = "stale"  # ours, but late or out of order: nothing changed
    DUPLICATE = "duplicate"  # this event id was processed before
    IGNORED = "ignored"  # not an event we act on, or not about one of our payments
    EARLY = "early"  # a refund or dispute before the payment is known to us: Stripe retries


@dataclass(frozen=True, slots=True)
class Applied:
    outcome: Outcome
    request: PaymentRequest | None = None


@dataclass
class StripeEvents:
    store: PaymentStore
    notifier: Notifier
    receipts: ReceiptQueue
    clock: Callable[[], datetime]

    def _request_for(self, event: StripeEvent, reading: Reading) -> PaymentRequest | None:
        request_id, intent_id = reading.payment_request_id, reading.intent_id
        request = (
            self.store.get(request_id) if request_id else self.store.by_payment_intent(intent_id)
        )
        if request is None or request.payment_intent_id != intent_id:
            return None
        if event.account and request.stripe_account and event.account != request.stripe_account:
            return None
        return request

    def apply(self, event: StripeEvent) -> Applied:
        """Raises pydantic's ValidationError when the event's object is not what its type
        says (the webhook answers 400)."""
        reading = read(event)
        request = self._request_for(event, reading) if reading else None
        if reading is None or request is None:
            return Applied(Outcome.IGNORED)
        change = reading.change_for(request)
        if asks_for_money_back(change) and request.status not in PAID | {Status.CANCELED}:
            # Not recorded as processed: Stripe delivers it again, by when the payment's
            # own event has arrived.
            return Applied(Outcome.EARLY, request)
        applied = self._record(event, reading, request)
        if applied.outcome is Outcome.APPLIED and applied.request:
            self.notifier.payment_request_updated(applied.request)
        if change.status is Status.SUCCEEDED and applied.request:
            # Also on a duplicate: if the first delivery's enqueue was lost, this one makes
            # up for it. The receipt worker sends each receipt once, however often queued.
            self.receipts.enqueue(ReceiptJob(payment_request_id=applied.request.id))
        return applied

    def _record(self, event: StripeEvent, reading: Reading, request: PaymentRequest) -> Applied:
        """Apply the change and mark the event processed, in one conditional write."""

        def reload() -> PaymentRequest:
            latest = self.store.get(request.id)
            assert latest is not None  # payment requests are never deleted
            return latest

        try:
            updated = optimistic_update(
                load=reload,
                decide=lambda current: transition(
                    current, reading.change_for(current), self.clock()
                ),
                save=lambda step: self.store.save(step, event_id=event.id),
                first=request,
            )
            if updated.change is None:
                self.store.record_event(event.id)
                return Applied(Outcome.STALE, updated.state)
        except DuplicateEvent:
            return Applied(Outcome.DUPLICATE, self.store.get(request.id))
        return Applied(Outcome.APPLIED, updated.change.after)
