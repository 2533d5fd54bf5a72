"""The small interfaces the logic needs from the outside world (DynamoDB, Stripe, tokens).

Adapters implement them; unit tests use in-memory fakes of the same shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from callpay.domain.access import Patient
from callpay.domain.clinic import Clinic, ClinicAuditEntry, ClinicChange
from callpay.domain.connection import Connection
from callpay.domain.payment_request import AuditEntry, ChargeDetails, PaymentRequest, Refund
from callpay.domain.receipt_job import Claim, ReceiptJob
from callpay.domain.saved_card import SavedCard
from callpay.domain.transitions import Transition


class DuplicateEvent(Exception):
    """This Stripe event id was already processed."""


class VersionConflict(Exception):
    """Someone else changed the payment request first; reload and try again."""


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """Who first used an Idempotency-Key, for which payment request and which body."""

    payment_request_id: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class RefundAnswer:
    """The answer first given for a refund's Idempotency-Key, replayed as is for that key."""

    status: int
    body: str  # the JSON body, exactly as first sent
    receipt: ReceiptJob  # the refund receipt it queued: queued again on every replay


@dataclass(frozen=True, slots=True)
class RefundKeyClaim:
    """Who holds a refund's Idempotency-Key, for which body, and how far it got."""

    fingerprint: str
    ours: bool  # this caller holds the key now, and must answer it
    refund: Refund | None = None  # Stripe's refund, once Stripe made it under this key
    answer: RefundAnswer | None = None


class PaymentStore(Protocol):
    def get_clinic(self, clinic_id: str) -> Clinic | None: ...

    def bind_call(self, call_id: str, clinic_id: str) -> str:
        """Bind the call to the clinic if unbound; return the clinic it is bound to."""
        ...

    def call_clinic(self, call_id: str) -> str | None: ...

    def claim_idempotency_key(self, key: str, claim: IdempotencyClaim) -> IdempotencyClaim:
        """Store `claim` under `key` unless taken; return whichever claim holds the key."""
        ...

    def claim_refund_key(self, key: str, fingerprint: str, now: datetime) -> RefundKeyClaim:
        """Take `key` (scoped to a request and a caller) for a refund with this body.

        A key is free if unknown, older than a day, or unanswered and abandoned (its short
        lease ran out) with the same fingerprint; otherwise the current holder's claim is
        returned with `ours` False.
        """
        ...

    def note_refund_key(self, key: str, refund: Refund) -> None:
        """Remember the refund Stripe made under `key`, before anything else can fail."""
        ...

    def answer_refund_key(self, key: str, answer: RefundAnswer) -> None: ...

    def release_refund_key(self, key: str) -> None:
        """An attempt ended without an answer: forget the key if Stripe made no refund
        under it, else let the next attempt take over at once (and finish that refund)."""
        ...

    def create(self, request: PaymentRequest, audit: AuditEntry) -> bool:
        """Store a new request; False if one with this id already exists."""
        ...

    def get(self, payment_request_id: str) -> PaymentRequest | None: ...

    def by_call(self, call_id: str) -> list[PaymentRequest]:
        """The call's requests, newest first."""
        ...

    def by_payment_intent(self, payment_intent_id: str) -> PaymentRequest | None: ...

    def holds_expiring(self, start: datetime, end: datetime) -> Iterator[PaymentRequest]:
        """Authorised holds whose deadline (`hold_deadline`) is in [start, end), by key."""
        ...

    def save(self, change: Transition, event_id: str | None = None) -> None:
        """Write `change.after` if the stored version is still `change.before.version`.

        With `event_id`, the event is recorded as processed in the same write; a card the
        patient agreed to keep (domain/saved_card.py) is recorded in the same write too.
        Raises VersionConflict or DuplicateEvent.
        """
        ...

    def saved_card(self, clinic_id: str, patient_ref: str) -> SavedCard | None: ...

    def customer_of(self, clinic_id: str, patient_ref: str) -> str | None: ...

    def claim_customer(self, clinic_id: str, patient_ref: str, customer_id: str) -> str:
        """Record the patient's Stripe Customer unless one is; return the one recorded."""
        ...

    def record_event(self, event_id: str) -> None:
        """Record a Stripe event that changed nothing; raises DuplicateEvent if seen."""
        ...

    def audit_trail(self, payment_request_id: str) -> list[AuditEntry]: ...


@dataclass(frozen=True, slots=True)
class Intent:
    id: str
    status: str
    client_secret: str | None = None
    # Read by the hold sweeper (retrieve_hold): what was captured, and the hold's deadline.
    amount_received: int | None = None
    capture_before: datetime | None = None


class PaymentGateway(Protocol):
    def create_intent(
        self,
        request: PaymentRequest,
        stripe_account: str,
        share_description: bool,
        saved_card: SavedCard | None = None,
        resumed: bool = False,
    ) -> Intent:
        """A PaymentIntent for the request's current attempt (idempotent per attempt); with
        a saved card, for its Customer and card, to be confirmed off-session; `resumed`: an
        earlier attempt may have made it already (its answer lost): look for it first."""
        ...

    def retrieve_intent(self, intent_id: str, stripe_account: str) -> Intent: ...

    def retrieve_hold(self, intent_id: str, stripe_account: str) -> Intent:
        """The intent with its charge's `capture_before` and `amount_received`."""
        ...

    def confirm_off_session(
        self, intent_id: str, stripe_account: str, idempotency_key: str
    ) -> Intent:
        """Charge the saved card without the patient; raises PaymentDeclined (e.g.
        `authentication_required`) when the bank wants the card holder."""
        ...

    def keep_card(
        self, intent_id: str, stripe_account: str, customer_id: str | None, idempotency_key: str
    ) -> Intent:
        """Set (a Customer) or unset (None) `setup_future_usage: off_session` on the intent."""
        ...

    def create_customer(self, stripe_account: str, patient_key: str, idempotency_key: str) -> str:
        """A Customer on the clinic's account standing for one patient; its id."""
        ...

    def cancel_intent(
        self, intent_id: str, stripe_account: str, idempotency_key: str
    ) -> Intent: ...

    def charge_details(self, intent_id: str, stripe_account: str) -> ChargeDetails: ...

    def capture_intent(
        self, intent_id: str, stripe_account: str, amount: int, idempotency_key: str
    ) -> Intent: ...

    def refund(self, request: PaymentRequest, amount: int, idempotency_key: str) -> Refund:
        """Stripe's Refund object for `amount` of the request's payment."""
        ...


class PatientTokens(Protocol):
    def mint(
        self,
        call_id: str,
        clinic_id: str,
        now: datetime,
        *,
        patient_ref: str | None = None,
        payment_request_id: str | None = None,
        token_id: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, datetime]: ...

    def verify(self, token: str) -> Patient:
        """What a valid token grants; raises Unauthenticated."""
        ...


class ClinicianTokens(Protocol):
    def verify(self, token: str) -> dict[str, Any]:
        """The verified claims of an identity provider JWT; raises Unauthenticated."""
        ...


class ConnectionStore(Protocol):
    def add(self, connection: Connection) -> None: ...

    def remove(self, connection_id: str) -> None: ...

    def get(self, connection_id: str) -> Connection | None: ...

    def by_call(self, call_id: str) -> list[Connection]: ...


class Notifier(Protocol):
    def payment_request_updated(self, request: PaymentRequest) -> None:
        """Tell everyone watching the request's call; never raises."""
        ...


class ReceiptQueue(Protocol):
    def enqueue(self, job: ReceiptJob) -> None: ...


class ReceiptMailer(Protocol):
    def send(self, to: str, subject: str, html: str, text: str) -> str:
        """Send one email; return the provider's message id."""
        ...


class ReceiptLedger(Protocol):
    def claim(self, receipt_key: str, now: datetime) -> Claim: ...

    def mark_sent(self, receipt_key: str, message_id: str, now: datetime) -> None: ...

    def release(self, receipt_key: str) -> None: ...


class ClinicStore(Protocol):
    def get_clinic(self, clinic_id: str) -> Clinic | None: ...

    def save_clinic(
        self,
        change: ClinicChange,
        *,
        account_linked: str | None = None,
        account_removed: str | None = None,
        event: tuple[str, datetime] | None = None,
    ) -> None:
        """Raises VersionConflict if the clinic is no longer at `change.before`'s version,
        and DuplicateEvent if `event` (a Stripe event id and its expiry) was processed."""
        ...

    def claim_account_link(self, clinic_id: str, key: str, now: datetime) -> str:
        """The Stripe idempotency key for creating the clinic's account: `key` if no link
        is under way (or the last one is over a day old, like Stripe's keys), else the key
        the link under way claimed. Removing the account frees it."""
        ...

    def clinic_by_account(self, stripe_account_id: str) -> Clinic | None: ...

    def clinic_audit(self, clinic_id: str) -> list[ClinicAuditEntry]: ...

    def payments(
        self, clinic_id: str, start: datetime, end: datetime
    ) -> Iterator[PaymentRequest]: ...


class ConnectOnboarding(Protocol):
    def create_account(self, clinic_id: str, country: str | None, idempotency_key: str) -> str: ...

    def onboarding_link(self, stripe_account_id: str, clinic_id: str) -> str: ...
