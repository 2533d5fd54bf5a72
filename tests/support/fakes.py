"""In-memory stand-ins for the ports, with the same contracts as the real adapters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from callpay.adapters.patient_tokens import SignedPatientTokens
from callpay.adapters.stripe_gateway import create_key
from callpay.domain.clinic import Clinic, ClinicAuditEntry, ClinicChange
from callpay.domain.connection import Connection
from callpay.domain.errors import BadRequest
from callpay.domain.invoice import EDITABLE, Invoice, InvoiceStatus, invoice_moves
from callpay.domain.payment_request import AuditEntry, ChargeDetails, PaymentRequest, Refund
from callpay.domain.platform_events import PlatformEvent, invoice_event, request_event
from callpay.domain.receipt_job import Claim, ReceiptJob
from callpay.domain.saved_card import SavedCard, saved_card_of
from callpay.domain.transitions import Transition
from callpay.domain.webhook_endpoint import Delivery, WebhookEndpoint
from callpay.ports import (
    AuditPage,
    AuditRecord,
    DuplicateEvent,
    IdempotencyClaim,
    Intent,
    InvoiceOutOfStep,
    InvoiceTaken,
    RefundAnswer,
    RefundKeyClaim,
    Sent,
    VersionConflict,
)

TOKEN_KEY = "unit-test-patient-token-key-0123456789abcdef"
LEASE = timedelta(seconds=30)


@dataclass
class InMemoryStore:
    clinics: dict[str, Clinic] = field(default_factory=dict)
    calls: dict[str, str] = field(default_factory=dict)
    requests: dict[str, PaymentRequest] = field(default_factory=dict)
    audits: dict[str, list[AuditEntry]] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)
    claims: dict[str, IdempotencyClaim] = field(default_factory=dict)
    clinic_audits: dict[str, list[ClinicAuditEntry]] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # Stripe account -> clinic
    invoices: dict[tuple[str, str], Invoice] = field(default_factory=dict)  # (clinic, id)
    # The outbox: every event the changes announced, in order.
    announced: list[PlatformEvent] = field(default_factory=list)
    refund_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    link_claims: dict[str, str] = field(default_factory=dict)  # clinic -> account link key
    saved_cards: dict[tuple[str, str], SavedCard] = field(default_factory=dict)
    customers: dict[tuple[str, str], str] = field(default_factory=dict)

    # -- ClinicStore ---------------------------------------------------------------------

    def save_clinic(
        self,
        change: ClinicChange,
        *,
        account_linked: str | None = None,
        account_removed: str | None = None,
        event: tuple[str, datetime] | None = None,
    ) -> None:
        clinic = change.after
        current = self.clinics.get(clinic.clinic_id)
        if (current.version if current else 0) != change.before.version:
            raise VersionConflict(clinic.clinic_id)
        if event and event[0] in self.events:
            raise DuplicateEvent(event[0])
        self.clinics[clinic.clinic_id] = clinic
        self.clinic_audits.setdefault(clinic.clinic_id, []).append(change.audit)
        if account_removed:
            self.accounts.pop(account_removed, None)
            self.link_claims.pop(clinic.clinic_id, None)
        if account_linked:
            self.accounts[account_linked] = clinic.clinic_id
        if event:
            self.events.add(event[0])

    def claim_account_link(self, clinic_id: str, key: str, now: datetime) -> str:
        return self.link_claims.setdefault(clinic_id, key)

    def clinic_by_account(self, stripe_account_id: str) -> Clinic | None:
        clinic_id = self.accounts.get(stripe_account_id)
        return self.clinics.get(clinic_id) if clinic_id else None

    def clinic_audit(self, clinic_id: str) -> list[ClinicAuditEntry]:
        return list(self.clinic_audits.get(clinic_id, []))

    def payments(self, clinic_id: str, start: datetime, end: datetime) -> Iterator[PaymentRequest]:
        found = [r for r in self.requests.values() if r.clinic_id == clinic_id]
        yield from (
            r for r in sorted(found, key=lambda r: r.created_at) if start <= r.created_at < end
        )

    # -- PaymentStore --------------------------------------------------------------------

    def get_clinic(self, clinic_id: str) -> Clinic | None:
        return self.clinics.get(clinic_id)

    def bind_call(self, call_id: str, clinic_id: str) -> str:
        return self.calls.setdefault(call_id, clinic_id)

    def call_clinic(self, call_id: str) -> str | None:
        return self.calls.get(call_id)

    def claim_idempotency_key(self, key: str, claim: IdempotencyClaim) -> IdempotencyClaim:
        return self.claims.setdefault(key, claim)

    def claim_refund_key(self, key: str, fingerprint: str, now: datetime) -> RefundKeyClaim:
        held = self.refund_keys.get(key)
        if held is None or held["expires"] < now:
            self.refund_keys[key] = {"fingerprint": fingerprint, "lease": now + LEASE,
                                     "expires": now + timedelta(hours=24)}  # fmt: skip
            return RefundKeyClaim(fingerprint, ours=True)
        free = held.get("answer") is None and held["fingerprint"] == fingerprint
        if free and held["lease"] < now:
            held["lease"] = now + LEASE
            return RefundKeyClaim(fingerprint, ours=True, refund=held.get("refund"))
        return RefundKeyClaim(
            held["fingerprint"], ours=False, refund=held.get("refund"), answer=held.get("answer")
        )

    def note_refund_key(self, key: str, refund: Refund) -> None:
        self.refund_keys[key]["refund"] = refund

    def answer_refund_key(self, key: str, answer: RefundAnswer) -> None:
        self.refund_keys[key]["answer"] = answer

    def release_refund_key(self, key: str) -> None:
        held = self.refund_keys[key]
        if held.get("answer") is None and held.get("refund") is None:
            del self.refund_keys[key]
        elif held.get("answer") is None:
            held["lease"] = datetime.min.replace(tzinfo=UTC)

    def create(
        self, request: PaymentRequest, audit: AuditEntry, billed: Sequence[Invoice] = ()
    ) -> bool:
        if request.id in self.requests:
            return False
        for invoice in billed:
            stored = self.invoices.get((invoice.clinic_id, invoice.id))
            if (
                stored is None
                or stored.version != invoice.version
                or (stored.status is not InvoiceStatus.UNPAID)
            ):
                raise InvoiceTaken(invoice.id)
        for invoice in billed:
            self.invoices[(invoice.clinic_id, invoice.id)] = invoice.model_copy(
                update={"status": InvoiceStatus.PENDING, "payment_request_id": request.id,
                        "version": invoice.version + 1, "updated_at": request.created_at}
            )  # fmt: skip
        self.requests[request.id] = request
        self.audits[request.id] = [audit]
        self.announced.extend(e for e in [request_event(None, request)] if e)
        return True

    def get_invoice(self, clinic_id: str, invoice_id: str) -> Invoice | None:
        return self.invoices.get((clinic_id, invoice_id))

    # -- InvoiceStore ----------------------------------------------------------------------

    def put_invoice(self, invoice: Invoice, expected_version: int | None) -> None:
        stored = self.invoices.get((invoice.clinic_id, invoice.id))
        if (stored.version if stored else None) != expected_version or (
            stored is not None and stored.status not in EDITABLE
        ):
            raise VersionConflict(invoice.id)
        self.invoices[(invoice.clinic_id, invoice.id)] = invoice

    def invoices_of(
        self, clinic_id: str, patient: str | None, start_after: str | None, limit: int
    ) -> tuple[list[Invoice], str | None]:
        found = sorted(
            (i for (c, _), i in self.invoices.items() if c == clinic_id),
            key=lambda i: f"{i.patient}#{i.id}",
        )
        found = [i for i in found if patient is None or i.patient == patient]
        found = [i for i in found if start_after is None or f"{i.patient}#{i.id}" > start_after]
        page = found[:limit]
        more = len(found) > limit
        return page, f"{page[-1].patient}#{page[-1].id}" if more else None

    def get(self, payment_request_id: str) -> PaymentRequest | None:
        return self.requests.get(payment_request_id)

    def by_call(self, call_id: str) -> list[PaymentRequest]:
        found = [r for r in self.requests.values() if r.call_id == call_id]
        return sorted(found, key=lambda r: (r.created_at, r.id), reverse=True)

    def by_payment_intent(self, payment_intent_id: str) -> PaymentRequest | None:
        return next(
            (r for r in self.requests.values() if r.payment_intent_id == payment_intent_id), None
        )

    def holds_expiring(self, start: datetime, end: datetime) -> Iterator[PaymentRequest]:
        held = [r for r in self.requests.values() if r.hold_deadline is not None]
        for request in sorted(held, key=lambda r: (r.hold_deadline, r.id)):
            assert request.hold_deadline is not None
            if start <= request.hold_deadline < end:
                yield request

    def save(self, change: Transition, event_id: str | None = None) -> None:
        if event_id and event_id in self.events:
            raise DuplicateEvent(event_id)
        if self.requests[change.before.id].version != change.before.version:
            raise VersionConflict(change.before.id)
        moves = invoice_moves(change.before, change.after)
        for move in moves:
            stored = self.invoices.get((change.after.clinic_id, move.invoice_id))
            if (
                stored is None
                or stored.payment_request_id != change.after.id
                or (stored.status not in move.expected)
            ):
                raise InvoiceOutOfStep(change.before.id)
        for move in moves:
            key = (change.after.clinic_id, move.invoice_id)
            stored = self.invoices[key]
            updates: dict[str, object] = {"status": move.to, "version": stored.version + 1,
                                          "updated_at": change.after.updated_at}  # fmt: skip
            if move.to is InvoiceStatus.PAID:
                updates |= {"paid_at": move.paid_at, "receipt_number": move.receipt_number}
            elif move.to is InvoiceStatus.UNPAID:
                updates["payment_request_id"] = None
            else:
                updates["amount_refunded"] = move.amount_refunded
            self.invoices[key] = stored.model_copy(update=updates)
        self.requests[change.before.id] = change.after
        self.audits[change.before.id].append(change.audit)
        self.announced.extend(e for e in [request_event(change.before, change.after)] if e)
        self.announced.extend(invoice_event(move, change.after) for move in moves)
        if event_id:
            self.events.add(event_id)
        card = saved_card_of(change.after, change.audit.at)
        if card and change.after.saved_payment_method != change.before.saved_payment_method:
            self.saved_cards[(card.clinic_id, card.patient_ref)] = card

    def saved_card(self, clinic_id: str, patient_ref: str) -> SavedCard | None:
        return self.saved_cards.get((clinic_id, patient_ref))

    def customer_of(self, clinic_id: str, patient_ref: str) -> str | None:
        return self.customers.get((clinic_id, patient_ref))

    def claim_customer(self, clinic_id: str, patient_ref: str, customer_id: str) -> str:
        return self.customers.setdefault((clinic_id, patient_ref), customer_id)

    def record_event(self, event_id: str) -> None:
        if event_id in self.events:
            raise DuplicateEvent(event_id)
        self.events.add(event_id)

    def audit_trail(self, payment_request_id: str) -> list[AuditEntry]:
        return list(self.audits.get(payment_request_id, []))

    # -- AuditLog (cursors are offsets) ---------------------------------------------------

    def request_trail(self, payment_request_id: str, cursor: str | None, limit: int) -> AuditPage:
        return _page(list(self.audit_trail(payment_request_id)), cursor, limit)

    def clinic_trail(
        self, clinic_id: str, start: datetime, end: datetime, cursor: str | None, limit: int
    ) -> AuditPage:
        records: list[AuditRecord] = [
            entry
            for request in self.requests.values()
            if request.clinic_id == clinic_id
            for entry in self.audits.get(request.id, [])
        ]
        records += self.clinic_audits.get(clinic_id, [])
        records = sorted((r for r in records if start <= r.at < end), key=lambda r: r.at)
        return _page(records, cursor, limit)


def _page(records: Sequence[AuditRecord], cursor: str | None, limit: int) -> AuditPage:
    if cursor is not None and not cursor.isdigit():
        raise BadRequest("invalid_cursor", "'cursor' is not one this API gave.")
    start = int(cursor or 0)
    end = start + limit
    return AuditPage(list(records[start:end]), str(end) if end < len(records) else None)


@dataclass
class FakeGateway:
    """Records what would be sent to Stripe; `fail_with` makes the next call raise."""

    created: list[dict[str, object]] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    fail_with: Exception | None = None
    status: str = "requires_payment_method"
    refunded: dict[str, int] = field(default_factory=dict)  # intent id -> total refunded
    captured: dict[str, int] = field(default_factory=dict)  # intent id -> amount captured
    refund_keys: dict[str, str] = field(default_factory=dict)  # refund id -> idempotency key
    refund_amounts: dict[str, int] = field(default_factory=dict)  # refund id -> amount
    keys: list[str] = field(default_factory=list)  # cancel and capture idempotency keys
    charge_lookups: int = 0  # charge_details calls: receipts must not make one per view
    # The hold sweeper's view of Stripe: intent id -> what retrieve_hold answers.
    holds: dict[str, Intent] = field(default_factory=dict)
    # Off-session charges: what confirm_off_session raises (else it succeeds).
    off_session_decline: Exception | None = None
    off_session_confirmed: list[str] = field(default_factory=list)
    kept_cards: dict[str, str | None] = field(default_factory=dict)  # intent -> customer
    customers: list[tuple[str, str]] = field(default_factory=list)  # (patient key, idem. key)

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error

    def create_intent(
        self,
        request: PaymentRequest,
        stripe_account: str,
        share_description: bool,
        saved_card: SavedCard | None = None,
        resumed: bool = False,
    ) -> Intent:
        self._maybe_fail()
        key = create_key(request)
        for sent in self.created:
            if sent["idempotency_key"] == key:  # Stripe replays the first answer
                return Intent(id=str(sent["intent_id"]), status=self.status)
        intent_id = f"pi_{len(self.created) + 1}"
        self.created.append(
            {
                "intent_id": intent_id,
                "idempotency_key": key,
                "stripe_account": stripe_account,
                "description": request.description if share_description else None,
                "amount": request.amount,
                "currency": request.currency,
                "capture_method": request.capture_method,
                "customer": saved_card.customer_id if saved_card else None,
                "payment_method": saved_card.payment_method_id if saved_card else None,
            }
        )
        return Intent(id=intent_id, status=self.status)

    def retrieve_hold(self, intent_id: str, stripe_account: str) -> Intent:
        self._maybe_fail()
        return self.holds.get(intent_id, Intent(id=intent_id, status="requires_capture"))

    def confirm_off_session(
        self, intent_id: str, stripe_account: str, idempotency_key: str
    ) -> Intent:
        self._maybe_fail()
        self.off_session_confirmed.append(intent_id)
        if self.off_session_decline is not None:
            raise self.off_session_decline
        return Intent(id=intent_id, status="succeeded")

    def keep_card(
        self, intent_id: str, stripe_account: str, customer_id: str | None, idempotency_key: str
    ) -> Intent:
        self._maybe_fail()
        self.kept_cards[intent_id] = customer_id
        return Intent(id=intent_id, status=self.status)

    def create_customer(self, stripe_account: str, patient_key: str, idempotency_key: str) -> str:
        self._maybe_fail()
        for index, (_, key) in enumerate(self.customers):
            if key == idempotency_key:
                return f"cus_{index + 1}"
        self.customers.append((patient_key, idempotency_key))
        return f"cus_{len(self.customers)}"

    def retrieve_intent(self, intent_id: str, stripe_account: str) -> Intent:
        self._maybe_fail()
        return Intent(id=intent_id, status=self.status, client_secret=f"{intent_id}_secret_x")

    def cancel_intent(self, intent_id: str, stripe_account: str, idempotency_key: str) -> Intent:
        self._maybe_fail()
        self.canceled.append(intent_id)
        self.keys.append(idempotency_key)
        return Intent(id=intent_id, status="canceled")

    def charge_details(self, intent_id: str, stripe_account: str) -> ChargeDetails:
        self._maybe_fail()
        self.charge_lookups += 1
        return ChargeDetails(charge_id=f"ch_{intent_id}", card_brand="visa", card_last4="4242")

    def capture_intent(
        self, intent_id: str, stripe_account: str, amount: int, idempotency_key: str
    ) -> Intent:
        self._maybe_fail()
        self.captured[intent_id] = amount
        self.keys.append(idempotency_key)
        return Intent(id=intent_id, status="succeeded")

    def refund(self, request: PaymentRequest, amount: int, idempotency_key: str) -> Refund:
        self._maybe_fail()
        assert request.payment_intent_id
        for refund_id, key in self.refund_keys.items():
            if key == idempotency_key:  # Stripe replays the first answer
                return Refund(id=refund_id, amount=self.refund_amounts[refund_id])
        total = self.refunded.get(request.payment_intent_id, 0) + amount
        self.refunded[request.payment_intent_id] = total
        refund_id = f"re_{len(self.refund_keys) + 1}"
        self.refund_keys[refund_id] = idempotency_key
        self.refund_amounts[refund_id] = amount
        return Refund(id=refund_id, amount=amount)


@dataclass
class FakeConnect:
    """Connect onboarding as Stripe would answer it; records the accounts it created."""

    created: list[tuple[str, str]] = field(default_factory=list)  # (clinic, idempotency key)

    def create_account(self, clinic_id: str, country: str | None, idempotency_key: str) -> str:
        for index, (_, key) in enumerate(self.created):
            if key == idempotency_key:
                return f"acct_{index + 1}"
        self.created.append((clinic_id, idempotency_key))
        return f"acct_{len(self.created)}"

    def onboarding_link(self, stripe_account_id: str, clinic_id: str) -> str:
        return f"https://connect.stripe.test/setup/{stripe_account_id}?clinic={clinic_id}"


@dataclass
class InMemoryConnections:
    by_id: dict[str, Connection] = field(default_factory=dict)

    def add(self, connection: Connection) -> None:
        self.by_id[connection.connection_id] = connection

    def remove(self, connection_id: str) -> None:
        self.by_id.pop(connection_id, None)

    def get(self, connection_id: str) -> Connection | None:
        return self.by_id.get(connection_id)

    def by_call(self, call_id: str) -> list[Connection]:
        return [c for c in self.by_id.values() if c.call_id == call_id]


@dataclass
class RecordingQueue:
    jobs: list[ReceiptJob] = field(default_factory=list)

    def enqueue(self, job: ReceiptJob) -> None:
        self.jobs.append(job)


@dataclass
class InMemoryLedger:
    """Receipt claims without leases: a claim is held until released or marked sent."""

    states: dict[str, str] = field(default_factory=dict)

    def claim(self, receipt_key: str, now: datetime) -> Claim:
        state = self.states.get(receipt_key)
        if state == "sent":
            return Claim.SENT
        if state == "sending":
            return Claim.BUSY
        self.states[receipt_key] = "sending"
        return Claim.CLAIMED

    def mark_sent(self, receipt_key: str, message_id: str, now: datetime) -> None:
        self.states[receipt_key] = "sent"

    def release(self, receipt_key: str) -> None:
        if self.states.get(receipt_key) == "sending":
            del self.states[receipt_key]


@dataclass
class FakeMailer:
    """An outbox; `fail_next` makes the next send raise, like SES refusing."""

    outbox: list[dict[str, str]] = field(default_factory=list)
    fail_next: bool = False

    def send(self, to: str, subject: str, html: str, text: str) -> str:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("MessageRejected: Email address is not verified.")
        self.outbox.append({"to": to, "subject": subject, "html": html, "text": text})
        return f"msg-{len(self.outbox)}"


@dataclass
class RecordingNotifier:
    """Remembers every update it was asked to push."""

    pushed: list[PaymentRequest] = field(default_factory=list)

    def payment_request_updated(self, request: PaymentRequest) -> None:
        self.pushed.append(request)


def tokens() -> SignedPatientTokens:
    return SignedPatientTokens(lambda: TOKEN_KEY, timedelta(hours=4))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        # Starts at the wall clock: patient tokens' expiry is checked against real time.
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: int = 1) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class InMemoryEndpoints:
    """EndpointStore: endpoints by organisation, deliveries by endpoint and key."""

    endpoints: dict[tuple[str, str], WebhookEndpoint] = field(default_factory=dict)
    deliveries: dict[tuple[str, str], Delivery] = field(default_factory=dict)

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self.endpoints[(endpoint.org_id, endpoint.id)] = endpoint

    def endpoints_of(self, org_id: str) -> list[WebhookEndpoint]:
        return [e for (org, _), e in self.endpoints.items() if org == org_id]

    def get_endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        return self.endpoints.get((org_id, endpoint_id))

    def remove_endpoint(self, org_id: str, endpoint_id: str) -> bool:
        return self.endpoints.pop((org_id, endpoint_id), None) is not None

    def add_delivery(self, delivery: Delivery) -> Delivery:
        return self.deliveries.setdefault((delivery.endpoint_id, delivery.key), delivery)

    def get_delivery(self, endpoint_id: str, key: str) -> Delivery | None:
        return self.deliveries.get((endpoint_id, key))

    def save_delivery(self, delivery: Delivery) -> None:
        self.deliveries[(delivery.endpoint_id, delivery.key)] = delivery

    def failed_deliveries(self, endpoint_id: str) -> list[Delivery]:
        found = [d for (e, _), d in sorted(self.deliveries.items()) if e == endpoint_id]
        return [d for d in found if d.status == "failed"]


class ReversibleSecrets:
    """EndpointSecrets that only pretends to encrypt, bound to org and endpoint like KMS."""

    def seal(self, secret: str, org_id: str, endpoint_id: str) -> str:
        return f"sealed:{org_id}:{endpoint_id}:{secret[::-1]}"

    def open(self, ciphertext: str, org_id: str, endpoint_id: str) -> str:
        prefix = f"sealed:{org_id}:{endpoint_id}:"
        if not ciphertext.startswith(prefix):
            raise ValueError("InvalidCiphertextException")
        return ciphertext.removeprefix(prefix)[::-1]


@dataclass
class RecordingDeliveryQueue:
    sent: list[Delivery] = field(default_factory=list)

    def send(self, delivery: Delivery) -> None:
        self.sent.append(delivery)


@dataclass
class ScriptedSender:
    """EventSender answering from a script of statuses (None: no answer), then 204."""

    script: list[int | None] = field(default_factory=list)
    posts: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def post(self, url: str, body: str, headers: dict[str, str]) -> Sent:
        self.posts.append((url, body, headers))
        status = self.script.pop(0) if self.script else 204
        return Sent(status, None if status else "ReadTimeoutError")
