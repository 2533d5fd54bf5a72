"""Receipts: build one from a paid request, email it exactly once, show it as a page."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from aws_lambda_powertools import Logger

from callpay.domain.clinic import Clinic
from callpay.domain.errors import Conflict
from callpay.domain.payment_request import Cause, ChargeDetails, PaymentRequest
from callpay.domain.receipt_job import Claim, ReceiptJob, receipt_number
from callpay.domain.transitions import PAID, StatusChange, transition
from callpay.logic.optimistic import optimistic_update
from callpay.ports import PaymentGateway, PaymentStore, ReceiptLedger, ReceiptMailer
from callpay.receipts.receipt import ClinicDetails, Receipt, ReceiptLine
from callpay.receipts.render import RenderedReceipt

logger = Logger(child=True)


class Sent(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    NO_ADDRESS = "no_address"  # paid without our checkout: nowhere to send it
    NOT_PAID = "not_paid"


class ReceiptInFlight(Exception):
    """Another worker is sending this receipt; the job is retried later."""


def clinic_details(clinic: Clinic | None) -> ClinicDetails:
    if clinic is None:
        return ClinicDetails()
    return ClinicDetails.model_validate(clinic.model_dump(include=set(ClinicDetails.model_fields)))


@dataclass
class ReceiptBook:
    """Makes receipts: for the downloadable page, and for the mailing."""

    store: PaymentStore
    gateway: PaymentGateway
    render: Callable[[Receipt, str], RenderedReceipt]
    negotiate: Callable[[Iterable[str | None]], str]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def charge_of(self, request: PaymentRequest) -> ChargeDetails:
        """The charge and card, from our record; asked of Stripe once if no event brought
        them, then kept on the record, so showing a receipt never calls Stripe again."""
        if request.charge is not None and request.charge.complete:
            return request.charge
        assert request.payment_intent_id and request.stripe_account
        charge = self.gateway.charge_details(request.payment_intent_id, request.stripe_account)
        change = StatusChange(
            None, Cause(actor="system", subject="receipt", detail="charge details"), charge=charge
        )

        def load() -> PaymentRequest:
            latest = self.store.get(request.id)
            assert latest is not None  # payment requests are never deleted
            return latest

        optimistic_update(
            load=load,
            decide=lambda current: transition(current, change, self.clock()),
            save=self.store.save,
            first=request,
        )
        return charge

    def receipt_of(
        self, request: PaymentRequest, clinic: Clinic | None, job: ReceiptJob | None = None
    ) -> Receipt:
        """The payment receipt, or with a refund job, that refund's receipt."""
        if request.status not in PAID or request.paid_at is None:
            raise Conflict("not_paid", "There is no receipt before the payment is made.")
        charge = self.charge_of(request)
        refund = job if job is not None and job.kind == "refund" else None
        issued_at = (refund.refunded_at if refund else None) or request.paid_at
        number = receipt_number(
            request.id, f"{issued_at:%Y%m%d}", refund.refund_id if refund else None
        )
        return Receipt(
            receipt_number=number,
            kind="refund" if refund else "payment",
            refunded_amount=refund.refunded_total if refund else None,
            issued_at=issued_at,
            payment_request_id=request.id,
            amount=request.amount_captured or request.amount,
            currency=request.currency,
            line_items=tuple(ReceiptLine(**item.model_dump()) for item in request.line_items),
            description=request.description,
            clinic=clinic_details(clinic),
            card_brand=charge.card_brand,
            card_last4=charge.card_last4,
            charge_reference=charge.charge_id,
        )

    def rendered(
        self,
        request: PaymentRequest,
        job: ReceiptJob | None = None,
        *,
        choice: str | None = None,
        accepted: Sequence[str] = (),
    ) -> RenderedReceipt:
        """The receipt in the patient's language: the one they chose (`choice`, the page's
        ?locale=, then their locale at checkout), else their browser's (`accepted`, from
        Accept-Language), else the clinic's default, else English."""
        clinic = self.store.get_clinic(request.clinic_id)
        preferences = [choice, request.locale, *accepted, clinic.default_locale if clinic else None]
        return self.render(self.receipt_of(request, clinic, job), self.negotiate(preferences))


@dataclass
class ReceiptMailing:
    """Emails each receipt once, however often its job is delivered."""

    book: ReceiptBook
    ledger: ReceiptLedger
    mailer: ReceiptMailer
    clock: Callable[[], datetime]

    def send(self, job: ReceiptJob) -> Sent:
        request = self.book.store.get(job.payment_request_id)
        if request is None or request.status not in PAID:
            return Sent.NOT_PAID
        if not request.receipt_email:
            return Sent.NO_ADDRESS
        claim = self.ledger.claim(job.key, self.clock())
        if claim is Claim.SENT:
            return Sent.ALREADY_SENT
        if claim is Claim.BUSY:
            raise ReceiptInFlight(job.key)
        try:
            email = self.book.rendered(request, job)
            message_id = self.mailer.send(
                request.receipt_email, email.subject, email.html, email.text
            )
        except Exception:
            # Nothing was sent (or SES refused): give the claim back so the retry can send.
            self.ledger.release(job.key)
            raise
        self.ledger.mark_sent(job.key, message_id, self.clock())
        logger.info("receipt sent", extra={"payment_request_id": request.id, "kind": job.kind})
        return Sent.SENT
