"""Receipts: build one from a paid request, email it exactly once, show it as a page; and
the pay-later link e-mails, sent the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from aws_lambda_powertools import Logger

from callpay.config import ConfigurationError
from callpay.domain.clinic import Clinic
from callpay.domain.errors import Conflict
from callpay.domain.payment_request import Cause, ChargeDetails, PayLink, PaymentRequest
from callpay.domain.receipt_job import Claim, ReceiptJob, receipt_number
from callpay.domain.transitions import PAID, PAYABLE, StatusChange, transition
from callpay.logic.optimistic import optimistic_update
from callpay.pay_page import pay_page_url
from callpay.ports import PatientTokens, PaymentGateway, PaymentStore, ReceiptLedger, ReceiptMailer
from callpay.receipts.pay_link import LinkReason, PayLinkNotice
from callpay.receipts.receipt import ClinicDetails, Receipt
from callpay.receipts.render import RenderedReceipt

logger = Logger(child=True)


class Sent(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    NO_ADDRESS = "no_address"  # paid without our checkout: nowhere to send it
    NOT_PAID = "not_paid"
    NOT_PAYABLE = "not_payable"  # a pay-later link for a request paid or canceled meanwhile
    SUPERSEDED = "superseded"  # a pay-later link replaced by a newer one before it went


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
        consent = request.card_consent
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
            line_items=request.line_items,
            description=request.description,
            clinic=clinic_details(clinic),
            card_brand=charge.card_brand,
            card_last4=charge.card_last4,
            charge_reference=charge.charge_id,
            held_amount=request.amount if request.capture_method == "manual" else None,
            no_show_policy_version=(
                request.no_show_policy.version
                if request.charge_reason == "no_show" and request.no_show_policy
                else None
            ),
            card_kept_policy_version=consent.policy_version if consent else None,
            card_kept_at=consent.agreed_at if consent else None,
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


def link_reason(request: PaymentRequest) -> LinkReason:
    if request.failure is not None and request.failure.code == "authentication_required":
        return "authentication"
    if request.capture_method == "manual":
        return "hold_again" if request.hold_attempt > 1 else "hold"
    return "payment"


@dataclass
class PayLinkMail:
    """Pay-later link e-mails: the link's token minted again from the request's record (the
    same claims give the same token), so it is never stored or queued."""

    tokens: PatientTokens
    page_url: str
    render: Callable[[PayLinkNotice, str], RenderedReceipt]
    negotiate: Callable[[Iterable[str | None]], str]

    def url(self, request: PaymentRequest, link: PayLink) -> str:
        token, _ = self.tokens.mint(
            request.call_id, request.clinic_id, link.sent_at,
            patient_ref=request.patient_ref, payment_request_id=request.id,
            token_id=link.id, expires_at=link.expires_at,
        )  # fmt: skip
        return pay_page_url(self.page_url, request.call_id, token, request.id)

    def rendered(
        self, request: PaymentRequest, link: PayLink, clinic: Clinic | None
    ) -> RenderedReceipt:
        notice = PayLinkNotice(
            reason=link_reason(request),
            amount=request.amount,
            currency=request.currency,
            description=request.description,
            clinic=clinic_details(clinic),
            url=self.url(request, link),
            expires_at=link.expires_at,
        )
        # The language the link was asked in (the patient's at checkout by default), else
        # the clinic's default, else English.
        locale = self.negotiate([link.locale, clinic.default_locale if clinic else None])
        return self.render(notice, locale)


@dataclass
class ReceiptMailing:
    """Emails each receipt once, however often its job is delivered."""

    book: ReceiptBook
    ledger: ReceiptLedger
    mailer: ReceiptMailer
    clock: Callable[[], datetime]
    links: PayLinkMail | None = None

    def send(self, job: ReceiptJob) -> Sent:
        if job.kind == "pay_link":
            return self._send_pay_link(job)
        request = self.book.store.get(job.payment_request_id)
        if request is None or request.status not in PAID:
            return Sent.NOT_PAID
        if not request.receipt_email:
            return Sent.NO_ADDRESS
        return self._send_once(job, request.receipt_email, lambda: self.book.rendered(request, job))

    def _send_pay_link(self, job: ReceiptJob) -> Sent:
        request = self.book.store.get(job.payment_request_id)
        if request is None or request.status not in PAYABLE:
            return Sent.NOT_PAYABLE
        link = request.pay_link
        if link is None or link.id != job.link_id:
            return Sent.SUPERSEDED
        links = self.links
        if links is None:
            raise ConfigurationError("PATIENT_PAGE_URL is not set: pay-later links cannot be sent.")
        clinic = self.book.store.get_clinic(request.clinic_id)
        return self._send_once(job, link.email, lambda: links.rendered(request, link, clinic))

    def _send_once(self, job: ReceiptJob, to: str, render: Callable[[], RenderedReceipt]) -> Sent:
        """Claim the e-mail in the ledger, send it, mark it sent: once per job key."""
        claim = self.ledger.claim(job.key, self.clock())
        if claim is Claim.SENT:
            return Sent.ALREADY_SENT
        if claim is Claim.BUSY:
            raise ReceiptInFlight(job.key)
        try:
            email = render()
            message_id = self.mailer.send(to, email.subject, email.html, email.text)
        except Exception:
            # Nothing was sent (or SES refused): give the claim back so the retry can send.
            self.ledger.release(job.key)
            raise
        self.ledger.mark_sent(job.key, message_id, self.clock())
        sent = {"payment_request_id": job.payment_request_id, "kind": job.kind}
        logger.info("patient e-mail sent", extra=sent)
        return Sent.SENT
