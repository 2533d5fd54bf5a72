"""The small interfaces the logic needs from the outside world (DynamoDB, Stripe, tokens).

Adapters implement them; unit tests use in-memory fakes of the same shape.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from callpay.domain.access import Patient
from callpay.domain.clinic import Clinic, ClinicAuditEntry, ClinicChange
from callpay.domain.connection import Connection
from callpay.domain.invoice import Invoice
from callpay.domain.payment_request import AuditEntry, ChargeDetails, PaymentRequest, Refund
from callpay.domain.receipt_job import Claim, ReceiptJob
from callpay.domain.saved_card import SavedCard
from callpay.domain.transitions import Transition
from callpay.domain.webhook_endpoint import Delivery, WebhookEndpoint


class DuplicateEvent(Exception):
    """This Stripe event id was already processed."""


class VersionConflict(Exception):
    """Someone else changed the payment request first; reload and try again."""


class InvoiceTaken(Exception):
    """An invoice to bill is no longer unpaid as it was read: another request has it, it
    was paid, or the platform changed it."""

    def __init__(self, invoice_id: str) -> None:
        super().__init__(invoice_id)
        self.invoice_id = invoice_id


class InvoiceOutOfStep(Exception):
    """An invoice is not in the state its request's change expects: never the caller's
    fault (a bug, or a write that bypassed the store); nothing was written."""


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

    def create(
        self, request: PaymentRequest, audit: AuditEntry, billed: Sequence[Invoice] = ()
    ) -> bool:
        """Store a new request; False if one with this id already exists. The invoices it
        bills become pending for it in the same write, each only if still unpaid at the
        version read (else InvoiceTaken, and nothing is written)."""
        ...

    def get_invoice(self, clinic_id: str, invoice_id: str) -> Invoice | None: ...

    def get(self, payment_request_id: str) -> PaymentRequest | None: ...

    def by_call(self, call_id: str) -> list[PaymentRequest]:
        """The call's requests, newest first."""
        ...

    def by_payment_intent(self, payment_intent_id: str) -> PaymentRequest | None: ...

    def holds_expiring(self, start: datetime, end: datetime) -> Iterator[PaymentRequest]:
        """Authorised holds whose deadline (`hold_deadline`) is in [start, end), by key."""
        ...

    def save(self, change: Transition, event_id: str | None = None) -> None:
        """Write `change.after` if the stored version is still `change.before.version`,
        with what it means for the invoices it bills (domain/invoice.py) in the same write.

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


AuditRecord = AuditEntry | ClinicAuditEntry


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditRecord]
    next_cursor: str | None  # opaque; None on the last page


class AuditLog(Protocol):
    """The audit trail, read a page at a time (BadRequest `invalid_cursor` for a cursor
    this log did not give)."""

    def request_trail(
        self, payment_request_id: str, cursor: str | None, limit: int
    ) -> AuditPage: ...

    def clinic_trail(
        self, clinic_id: str, start: datetime, end: datetime, cursor: str | None, limit: int
    ) -> AuditPage:
        """Every entry of the clinic's payment requests and of the clinic itself made in
        [start, end), oldest first."""
        ...


class ConnectOnboarding(Protocol):
    def create_account(self, clinic_id: str, country: str | None, idempotency_key: str) -> str: ...

    def onboarding_link(self, stripe_account_id: str, clinic_id: str) -> str: ...


class InvoiceStore(Protocol):
    """The platform's invoices, as the platform upserts and lists them."""

    def get_invoice(self, clinic_id: str, invoice_id: str) -> Invoice | None: ...

    def put_invoice(self, invoice: Invoice, expected_version: int | None) -> None:
        """A new invoice (None) or the next version of an unpaid or void one; raises
        VersionConflict if it changed (or was claimed) since it was read."""
        ...

    def invoices_of(
        self, clinic_id: str, patient: str | None, start_after: str | None, limit: int
    ) -> tuple[list[Invoice], str | None]:
        """A page of the clinic's invoices (a patient's) and where the next page starts."""
        ...


class EndpointStore(Protocol):
    """The organisations' webhook endpoints and every delivery to them."""

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    def endpoints_of(self, org_id: str) -> list[WebhookEndpoint]: ...

    def get_endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None: ...

    def remove_endpoint(self, org_id: str, endpoint_id: str) -> bool:
        """False if there was no such endpoint."""
        ...

    def add_delivery(self, delivery: Delivery) -> Delivery:
        """Store a new delivery; if this event was already given to this endpoint, the one
        stored before (a forwarder retried) is returned instead."""
        ...

    def get_delivery(self, endpoint_id: str, key: str) -> Delivery | None: ...

    def save_delivery(self, delivery: Delivery) -> None: ...

    def failed_deliveries(self, endpoint_id: str) -> list[Delivery]:
        """The endpoint's deliveries that gave up, oldest event first."""
        ...


class EndpointSecrets(Protocol):
    """Endpoint signing secrets at rest: sealed when registered, opened only to sign."""

    def seal(self, secret: str, org_id: str, endpoint_id: str) -> str: ...

    def open(self, ciphertext: str, org_id: str, endpoint_id: str) -> str: ...


class DeliveryQueue(Protocol):
    def send(self, delivery: Delivery) -> None:
        """Queue a delivery behind the earlier ones of its endpoint (first in, first out)."""
        ...


@dataclass(frozen=True, slots=True)
class Sent:
    """What the endpoint answered: its HTTP status, or why there was no answer."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class EventSender(Protocol):
    def post(self, url: str, body: str, headers: dict[str, str]) -> Sent:
        """POST the body; never raises for the endpoint's failures (they are in Sent)."""
        ...
