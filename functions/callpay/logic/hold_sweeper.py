"""The hold sweeper, run on a schedule: warns the clinic about holds about to lapse, and
makes sure a hold that lapsed is recorded as such even if Stripe's event never came.

Holds are found by key (the `by_hold_expiry` index), never by a scan. For a hold past its
deadline Stripe is asked (it is the truth): canceled there, or still authorised past
Stripe's own `capture_before` (then released, so nothing is left held), it becomes
`canceled` with reason `expired`; captured there meanwhile, `succeeded`. A hold whose
deadline was only estimated learns Stripe's and waits for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from callpay.domain.errors import DomainError
from callpay.domain.payment_request import Cause, PaymentRequest, Status
from callpay.domain.receipt_job import ReceiptJob
from callpay.domain.transitions import StatusChange, transition
from callpay.logic.optimistic import optimistic_update
from callpay.ports import Notifier, PaymentGateway, PaymentStore, ReceiptQueue

logger = Logger(child=True)

# How far back a run looks for lapsed holds its predecessors missed (the sweeper down for
# days): longer than any hold lasts.
LOOKBACK = timedelta(days=31)
WARN_BEFORE = timedelta(hours=24)


@dataclass
class Sweep:
    """What one run did, by request id."""

    warned: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    captured: list[str] = field(default_factory=list)
    postponed: list[str] = field(default_factory=list)  # Stripe's deadline is later
    unreachable: list[str] = field(default_factory=list)  # Stripe did not answer: next run


@dataclass
class HoldSweeper:
    store: PaymentStore
    gateway: PaymentGateway
    notifier: Notifier
    receipts: ReceiptQueue
    clock: Callable[[], datetime]
    warn_before: timedelta = WARN_BEFORE

    def sweep(self) -> Sweep:
        now = self.clock()
        done = Sweep()
        for hold in list(self.store.holds_expiring(now - LOOKBACK, now + self.warn_before)):
            deadline = hold.hold_deadline
            if deadline is None:
                continue
            if deadline <= now:
                self._lapsed(hold, now, done)
            elif hold.expiry_warned_at is None:
                self._apply(hold, StatusChange(None, _cause("expiring"), expiry_warned=True))
                done.warned.append(hold.id)
        return done

    def _lapsed(self, hold: PaymentRequest, now: datetime, done: Sweep) -> None:
        assert hold.payment_intent_id and hold.stripe_account
        try:
            intent = self.gateway.retrieve_hold(hold.payment_intent_id, hold.stripe_account)
            if intent.status == "requires_capture":
                if intent.capture_before is not None and intent.capture_before > now:
                    # The deadline was Stripe's default; Stripe's own is later.
                    change = StatusChange(
                        None, _cause("capture_before"), capture_before=intent.capture_before
                    )
                    self._apply(hold, change)
                    done.postponed.append(hold.id)
                    return
                # Past Stripe's deadline a capture fails: let go of what is left.
                self.gateway.cancel_intent(
                    hold.payment_intent_id, hold.stripe_account,
                    f"{hold.id}:cancel:v{hold.version}",
                )  # fmt: skip
            elif intent.status == "succeeded":
                captured = intent.amount_received or hold.amount_capturable
                change = StatusChange(
                    Status.SUCCEEDED, _cause("captured"), amount_captured=captured
                )
                if self._apply(hold, change):
                    self.receipts.enqueue(ReceiptJob(payment_request_id=hold.id))
                done.captured.append(hold.id)
                return
            elif intent.status != "canceled":
                return
        except DomainError as error:
            logger.warning(
                "hold not swept", extra={"payment_request_id": hold.id, "code": error.code}
            )
            done.unreachable.append(hold.id)
            return
        lapse = StatusChange(Status.CANCELED, _cause("expired"), cancellation_reason="expired")
        self._apply(hold, lapse)
        done.expired.append(hold.id)

    def _apply(self, hold: PaymentRequest, change: StatusChange) -> PaymentRequest | None:
        """The change, on the hold's current PaymentIntent only (a re-authorisation
        meanwhile makes it stale); pushed to the call's feed if it changed anything."""
        bound = replace(change, intent_id=hold.payment_intent_id)

        def load() -> PaymentRequest:
            latest = self.store.get(hold.id)
            assert latest is not None  # payment requests are never deleted
            return latest

        updated = optimistic_update(
            load=load,
            decide=lambda current: transition(current, bound, self.clock()),
            save=self.store.save,
            first=hold,
        )
        if updated.change is None:
            return None
        self.notifier.payment_request_updated(updated.change.after)
        return updated.change.after


def _cause(detail: str) -> Cause:
    return Cause(actor="scheduler", subject="hold_sweeper", detail=detail)
