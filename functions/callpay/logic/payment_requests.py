"""Payment request use cases: patient access, create, list, view, checkout (with a card kept
on consent), cancel, capture (a final amount, or a no-show fee), a fresh hold, pay-later
links and refunds."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from callpay.api_models import (
    CaptureIn,
    CheckoutIn,
    CheckoutOut,
    NoShowPolicyOut,
    PatientAccessOut,
    PayLinkIn,
    PaymentRequestIn,
    PaymentRequestOut,
    RefundIn,
)
from callpay.domain.access import (
    PAY_LINKS_WRITE,
    Clinician,
    Patient,
    PlatformBackend,
    Principal,
    check_backend_clinic,
    check_call,
    check_clinic,
    require_admin,
    require_clinician,
    require_patient,
)
from callpay.domain.clinic import Clinic, org_of
from callpay.domain.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from callpay.domain.invoice import Invoice, InvoiceStatus, billed_lines
from callpay.domain.money import Money, check_chargeable, check_whole_units
from callpay.domain.payment_request import (
    AuditEntry,
    CancellationReason,
    CardConsent,
    Cause,
    LineItem,
    PayLink,
    PaymentRequest,
    Refund,
    Status,
)
from callpay.domain.policy import NoShowPolicy, policy_of
from callpay.domain.receipt_job import ReceiptJob
from callpay.domain.saved_card import SavedCard
from callpay.domain.transitions import (
    CANCELABLE,
    PAYABLE,
    REFUNDABLE,
    StatusChange,
    Transition,
    can_reauthorize,
    created,
    transition,
)
from callpay.logic.optimistic import optimistic_update
from callpay.pay_page import pay_page_url
from callpay.ports import (
    IdempotencyClaim,
    InvoiceTaken,
    Notifier,
    PatientTokens,
    PaymentGateway,
    PaymentStore,
    ReceiptQueue,
    RefundAnswer,
)

logger = Logger(child=True)

INTENT_NOT_PAYABLE = {
    "processing": Status.PROCESSING,
    "requires_capture": Status.AUTHORIZED,
    "succeeded": Status.SUCCEEDED,
    "canceled": Status.CANCELED,
}

NOT_PAYABLE = {
    Status.PROCESSING: ("payment_in_progress", "This payment is already being processed."),
    Status.AUTHORIZED: ("already_paid", "This payment is already authorised."),
    Status.SUCCEEDED: ("already_paid", "This payment has already been made."),
    Status.PARTIALLY_REFUNDED: ("already_paid", "This payment has already been made."),
    Status.REFUNDED: ("already_paid", "This payment has already been made."),
    Status.DISPUTED: ("already_paid", "This payment has already been made."),
    Status.CANCELED: ("payment_canceled", "This payment request was canceled."),
}


def cause_of(principal: Principal | PlatformBackend) -> Cause:
    if isinstance(principal, Patient):
        return Cause(actor="patient", subject=principal.sub)
    if isinstance(principal, PlatformBackend):
        return Cause(actor="platform", subject=principal.sub)
    return Cause(actor="clinician", subject=principal.sub)


def fingerprint(call_id: str, body: BaseModel) -> str:
    """A digest of what was asked, so a reused Idempotency-Key with another body is refused."""
    return hashlib.sha256(f"{call_id}\n{body.model_dump_json()}".encode()).hexdigest()


@dataclass
class PaymentRequests:
    store: PaymentStore
    gateway: PaymentGateway
    tokens: PatientTokens
    notifier: Notifier
    receipts: ReceiptQueue
    publishable_key: Callable[[], str]
    clock: Callable[[], datetime]
    new_id: Callable[[], str] = lambda: f"pr_{uuid.uuid4().hex}"
    # The hosted pay page (PATIENT_PAGE_URL), if this deployment has one.
    patient_page_url: str | None = None
    # How long a pay-later link works (PAY_LINK_HOURS).
    pay_link_lifetime: timedelta = timedelta(hours=72)

    # -- who may touch what --------------------------------------------------------------

    def _bind(
        self, clinician: Clinician, call_id: str, clinic: Clinic | None, clinic_id: str
    ) -> None:
        check_clinic(clinician, clinic_id, org_of(clinic))
        if clinic is None:
            # Only a clinic that exists here can own a call: a made-up clinic id must not
            # let anyone claim somebody else's call.
            raise Conflict("payments_not_enabled", "Payments are not enabled for this clinic.")
        if self.store.bind_call(call_id, clinic_id) != clinic_id:
            raise Forbidden("call_of_another_clinic", "This call belongs to another clinic.")

    def visible(
        self, principal: Principal, request: PaymentRequest | None
    ) -> tuple[PaymentRequest, Clinic | None]:
        """The request and its clinic if `principal` may see it; patients of other calls
        (or with a link to another request) learn nothing."""
        if request is None:
            raise NotFound("payment_request_not_found", "No such payment request.")
        if isinstance(principal, Patient) and not principal.may_see(request.call_id, request.id):
            raise NotFound("payment_request_not_found", "No such payment request.")
        clinic = self.store.get_clinic(request.clinic_id)
        check_call(principal, request.call_id, request.clinic_id, org_of(clinic))
        return request, clinic

    # -- use cases -----------------------------------------------------------------------

    def grant_patient_access(
        self, principal: Principal, call_id: str, clinic_id: str, patient_ref: str | None = None
    ) -> PatientAccessOut:
        clinician = require_clinician(principal)
        self._bind(clinician, call_id, self.store.get_clinic(clinic_id), clinic_id)
        token, expires_at = self.tokens.mint(
            call_id, clinic_id, self.clock(), patient_ref=patient_ref
        )
        return PatientAccessOut(
            token=token, expires_at=expires_at, patient_url=self.patient_url(call_id, token)
        )

    def patient_url(self, call_id: str, token: str) -> str | None:
        """The pay page for the call, the token in the fragment (callpay.pay_page)."""
        if not self.patient_page_url:
            return None
        return pay_page_url(self.patient_page_url, call_id, token)

    def create(
        self,
        principal: Principal,
        call_id: str,
        body: PaymentRequestIn,
        idempotency_key: str | None,
    ) -> tuple[PaymentRequest, bool]:
        """The new request and True, or the one this Idempotency-Key already made and False."""
        clinician = require_clinician(principal)
        clinic = self.store.get_clinic(body.clinic_id)
        check_clinic(clinician, body.clinic_id, org_of(clinic))
        if body.invoice_ids and idempotency_key and clinic is not None:
            # A retry of a request that billed invoices finds them pending (for it): the
            # key's request is answered before the invoices are checked.
            _, replayed, _ = self.claimed_id(clinician, idempotency_key, call_id, body)
            if replayed is not None:
                return replayed, False
        billed = self._billed_invoices(body) if clinic is not None else []
        if billed:
            money = Money.of(sum(invoice.total for invoice in billed), body.currency)
            line_items = billed_lines(billed)
        else:
            assert body.amount is not None  # PaymentRequestIn: an amount or invoices
            money = Money.of(body.amount, body.currency)
            line_items = tuple(LineItem(**item.model_dump()) for item in body.line_items)
        if line_items and sum(item.amount for item in line_items) != money.amount:
            raise InvalidInput("line_items_mismatch", "Line items must add up to the amount.")
        clinic, bound = self.open_clinic(clinician, call_id, body.clinic_id, clinic)
        if money.currency != clinic.default_currency:
            # The clinic's limits are in its currency; another one would slip past them.
            currency = clinic.default_currency.upper()
            raise InvalidInput("currency_not_accepted", f"This clinic charges in {currency}.")
        check_chargeable(money, clinic.maximum_amount, clinic.minimum_amount)
        stripe_account = clinic.check_can_take_payments()
        if not bound:
            self._bind(clinician, call_id, clinic, body.clinic_id)
        request_id, existing, resumed = self.claimed_id(clinician, idempotency_key, call_id, body)
        if existing is not None:
            return existing, False
        now = self.clock()
        request = PaymentRequest(
            id=request_id,
            call_id=call_id,
            clinic_id=body.clinic_id,
            amount=money.amount,
            currency=money.currency,
            description=body.description,
            capture_method=body.capture_method,
            line_items=line_items,
            created_at=now,
            updated_at=now,
            requested_by=clinician.sub,
            stripe_account=stripe_account,
        )
        return self.opened(request, clinic, clinician, resumed=resumed, billed=billed)

    def open_clinic(
        self, clinician: Clinician, call_id: str, clinic_id: str, clinic: Clinic | None
    ) -> tuple[Clinic, bool]:
        """The clinic a new request of this call is made for, or why there is none; and
        whether the call is bound to it already (then it needs no second claim)."""
        bound = self.store.call_clinic(call_id)
        if bound is not None and bound != clinic_id:
            # Before the clinic's own state: nobody outside the call's clinic learns anything.
            raise Forbidden("call_of_another_clinic", "This call belongs to another clinic.")
        if clinic is None:
            raise Conflict("payments_not_enabled", "Payments are not enabled for this clinic.")
        return clinic, bound is not None

    def bind(self, clinician: Clinician, call_id: str, clinic: Clinic) -> None:
        self._bind(clinician, call_id, clinic, clinic.clinic_id)

    def claimed_id(
        self, clinician: Clinician, idempotency_key: str | None, call_id: str, body: BaseModel
    ) -> tuple[str, PaymentRequest | None, bool]:
        """A new request id; or, with an Idempotency-Key used before for the same body, the
        request it made (a 422 if it was used for another body), or the id an earlier
        attempt claimed and stored nothing under (True: it may have made the intent)."""
        request_id = self.new_id()
        if not idempotency_key:
            return request_id, None, False
        digest = fingerprint(call_id, body)
        claim = self.store.claim_idempotency_key(
            f"{clinician.sub}\n{idempotency_key}", IdempotencyClaim(request_id, digest)
        )
        if claim.fingerprint != digest:
            raise InvalidInput(
                "idempotency_key_reused", "This Idempotency-Key was used for another request."
            )
        claimed = claim.payment_request_id
        return claimed, self.store.get(claimed), claimed != request_id

    def opened(
        self,
        request: PaymentRequest,
        clinic: Clinic,
        clinician: Clinician,
        *,
        saved_card: SavedCard | None = None,
        resumed: bool = False,
        billed: Sequence[Invoice] = (),
    ) -> tuple[PaymentRequest, bool]:
        """Its PaymentIntent made and the request stored (with the invoices it bills): the
        request and True, or the one a concurrent retry with the same key stored first and
        False."""
        assert request.stripe_account
        # Stripe's idempotency key is our request id: a retry after a crash reuses the intent.
        # A key claimed by an earlier attempt that stored nothing: that attempt may have made
        # the intent before failing, so the gateway looks for it first.
        intent = self.gateway.create_intent(
            request,
            request.stripe_account,
            clinic.share_description_with_stripe,
            saved_card,
            resumed=resumed,
        )
        request = request.model_copy(update={"payment_intent_id": intent.id})
        try:
            stored_now = self.store.create(request, created(request, cause_of(clinician)), billed)
        except InvoiceTaken as taken:
            # Another request billed it first (or the platform changed it) since it was
            # read: this request's PaymentIntent will never be paid; cancel it on Stripe.
            self._cancel_unused(request)
            raise Conflict(
                "invoice_not_payable",
                f"Invoice {taken.invoice_id} is already being paid, or has changed.",
            ) from None
        if not stored_now:
            stored = self.store.get(request.id)
            assert stored is not None  # created by a concurrent retry with the same key
            return stored, False
        self.notifier.payment_request_updated(request)
        return request, True

    def _billed_invoices(self, body: PaymentRequestIn) -> list[Invoice]:
        """The invoices to bill, each unpaid, of one patient, in the request's currency."""
        invoices = []
        for invoice_id in body.invoice_ids:
            invoice = self.store.get_invoice(body.clinic_id, invoice_id)
            if invoice is None:
                raise NotFound("invoice_not_found", f"No invoice {invoice_id} for this clinic.")
            if invoice.status is not InvoiceStatus.UNPAID:
                raise Conflict(
                    "invoice_not_payable", f"Invoice {invoice_id} is {invoice.status.value}."
                )
            if invoice.currency != body.currency.lower():
                raise InvalidInput(
                    "invoice_currency_mismatch", f"Invoice {invoice_id} is in another currency."
                )
            invoices.append(invoice)
        if len({invoice.patient for invoice in invoices}) > 1:
            raise InvalidInput("invoices_of_several_patients", "Bill one patient's invoices.")
        return invoices

    def _cancel_unused(self, request: PaymentRequest) -> None:
        assert request.payment_intent_id and request.stripe_account
        try:
            self.gateway.cancel_intent(
                request.payment_intent_id, request.stripe_account, f"{request.id}:unused"
            )
        except DomainError:
            # Stripe busy: the intent stays unpaid (nobody has its secret) and lapses.
            logger.warning("could not cancel an unused PaymentIntent", extra={"id": request.id})

    def list_for_call(self, principal: Principal, call_id: str) -> list[PaymentRequest]:
        if isinstance(principal, Patient) and principal.call_id != call_id:
            raise Forbidden("not_your_call", "This access token is for another call.")
        clinic_id = self.store.call_clinic(call_id)
        if clinic_id is None:
            require_clinician(principal)
            return []
        check_call(principal, call_id, clinic_id, org_of(self.store.get_clinic(clinic_id)))
        requests = self.store.by_call(call_id)
        if isinstance(principal, Patient):
            requests = [r for r in requests if principal.may_see(call_id, r.id)]
        return requests

    def get(self, principal: Principal, payment_request_id: str) -> PaymentRequest:
        return self.visible(principal, self.store.get(payment_request_id))[0]

    def checkout(
        self, principal: Principal, payment_request_id: str, body: CheckoutIn
    ) -> CheckoutOut:
        """The patient's "Pay now": remember where to send the receipt, hand over the secret."""
        patient = require_patient(principal)
        request, clinic = self.visible(patient, self.store.get(payment_request_id))
        if request.status not in PAYABLE:
            raise Conflict(*NOT_PAYABLE[request.status])
        if clinic is None or clinic.stripe_account_id != request.stripe_account:
            raise Conflict(
                "stripe_account_removed",
                "The clinic's Stripe account was removed: this request can no longer be paid.",
            )
        assert request.payment_intent_id and request.stripe_account
        intent = self.gateway.retrieve_intent(request.payment_intent_id, request.stripe_account)
        # Stripe may be ahead of our record (a webhook still on its way).
        if intent.status in INTENT_NOT_PAYABLE:
            raise Conflict(*NOT_PAYABLE[INTENT_NOT_PAYABLE[intent.status]])
        if intent.client_secret is None:
            raise Conflict("not_payable", "This payment can no longer be paid.")
        policy = policy_of(clinic)
        can_save = bool(policy and patient.patient_ref and not request.off_session)
        kept: dict[str, object] = {}
        if body.save_card is not None and (body.save_card or request.card_consent):
            kept = self._keep_card(patient, request, policy if can_save else None, body)
        checked_out = self.update(
            request.id,
            lambda current: _with_checkout(
                current, patient, self.clock(),
                {"receipt_email": str(body.email), "locale": body.locale,
                 "patient_ref": patient.patient_ref or current.patient_ref,
                 # What the patient has in view while paying: no-show fees follow it.
                 "no_show_policy": policy.shown() if policy else None, **kept},
            ),
            first=request,
        )  # fmt: skip
        return CheckoutOut(
            client_secret=intent.client_secret,
            publishable_key=self.publishable_key(),
            stripe_account=request.stripe_account,
            clinic_name=clinic.legal_name,
            no_show_policy=NoShowPolicyOut.of(policy),
            can_save_card=can_save,
            save_card=checked_out.card_consent is not None,
        )

    def _keep_card(
        self,
        patient: Patient,
        request: PaymentRequest,
        policy: NoShowPolicy | None,
        body: CheckoutIn,
    ) -> dict[str, object]:
        """Ask Stripe to keep (or no longer keep) the card the patient is about to pay
        with, for a Customer standing for this patient on the clinic's account; what the
        record then says of it."""
        assert request.payment_intent_id and request.stripe_account
        if not body.save_card:
            self.gateway.keep_card(
                request.payment_intent_id, request.stripe_account, None,
                f"{request.id}:keep-card:v{request.version}:off",
            )  # fmt: skip
            return {"card_consent": None}
        if policy is None or patient.patient_ref is None:
            raise Conflict(
                "card_cannot_be_kept",
                "This clinic cannot keep a card from this payment page.",
            )
        if body.policy_version != policy.version:
            raise Conflict(
                "policy_changed", "The clinic's policy has changed: read it again before agreeing."
            )
        customer = self._customer_for(request, patient.patient_ref)
        self.gateway.keep_card(
            request.payment_intent_id, request.stripe_account, customer,
            f"{request.id}:keep-card:v{request.version}:{customer}",
        )  # fmt: skip
        consent = CardConsent(
            policy_version=policy.version, policy_sha256=policy.sha256, fee=policy.fee,
            currency=policy.currency, agreed_at=self.clock(), payment_request_id=request.id,
        )  # fmt: skip
        return {"card_consent": consent, "customer_id": customer}

    def _customer_for(self, request: PaymentRequest, patient_ref: str) -> str:
        """The patient's Customer on the clinic's account, made once (by the platform's
        reference of the patient, never by e-mail)."""
        known = self.store.customer_of(request.clinic_id, patient_ref)
        if known:
            return known
        assert request.stripe_account
        # Opaque to Stripe: the platform's reference stays ours.
        key = hashlib.sha256(f"{request.clinic_id}\n{patient_ref}".encode()).hexdigest()[:32]
        made = self.gateway.create_customer(
            request.stripe_account, key, f"customer:{request.clinic_id}:{key}"
        )
        return self.store.claim_customer(request.clinic_id, patient_ref, made)

    def cancel(
        self,
        principal: Principal,
        payment_request_id: str,
        reason: CancellationReason = "canceled",
    ) -> PaymentRequest:
        clinician = require_clinician(principal)
        request, _ = self.visible(clinician, self.store.get(payment_request_id))
        if request.status not in CANCELABLE:
            raise Conflict(
                "not_cancelable", f"A {request.status.value} payment cannot be canceled."
            )
        assert request.payment_intent_id and request.stripe_account
        # Keyed on the record's version: Stripe replays a key's first answer for 24 hours,
        # errors included, so a cancel refused once must not be refused again for a day
        # once the request has moved on.
        self.gateway.cancel_intent(
            request.payment_intent_id,
            request.stripe_account,
            f"{request.id}:cancel:v{request.version}",
        )
        change = StatusChange(
            status=Status.CANCELED, cause=cause_of(clinician), cancellation_reason=reason,
            intent_id=request.payment_intent_id,
        )  # fmt: skip
        canceled = self.update(
            request.id, lambda current: transition(current, change, self.clock())
        )
        self.notifier.payment_request_updated(canceled)
        return canceled

    def capture(
        self, principal: Principal, payment_request_id: str, body: CaptureIn
    ) -> PaymentRequest:
        """Charge the final amount of a hold (at most what was authorised); 0 releases it."""
        clinician = require_clinician(principal)
        request, _ = self.visible(clinician, self.store.get(payment_request_id))
        if request.status is not Status.AUTHORIZED:
            raise Conflict(
                "not_a_hold", f"A {request.status.value} payment has no hold to capture."
            )
        no_show = body.reason == "no_show"
        if no_show:
            shown = request.no_show_policy
            if shown is None:
                raise Conflict(
                    "no_show_policy_not_shown",
                    "The patient was shown no no-show policy when authorising this hold.",
                )
            # The fee the patient was shown, at most what is held.
            amount = min(shown.fee, request.amount_capturable)
        else:
            amount = request.amount_capturable if body.amount is None else body.amount
        if amount > request.amount_capturable:
            held = Money(request.amount_capturable, request.currency).display()
            raise InvalidInput("capture_too_large", f"At most {held} is held.")
        if amount == 0:
            return self.cancel(clinician, payment_request_id, reason="released")
        if request.line_items and amount != request.amount_capturable and not no_show:
            # The receipt lists the lines: they must add up to what is charged.
            raise InvalidInput(
                "capture_with_line_items", "A hold billed by line items is captured whole."
            )
        check_chargeable(Money(amount, request.currency))
        assert request.payment_intent_id and request.stripe_account
        # The record's version and the amount: a retry of this capture reuses the key, a
        # capture of another amount is another request to Stripe, never an idempotency error.
        self.gateway.capture_intent(
            request.payment_intent_id,
            request.stripe_account,
            amount,
            f"{request.id}:capture:v{request.version}:{amount}",
        )
        change = StatusChange(
            status=Status.SUCCEEDED, cause=cause_of(clinician), amount_captured=amount,
            intent_id=request.payment_intent_id, charge_reason="no_show" if no_show else None,
        )  # fmt: skip
        captured = self.update(
            request.id, lambda current: transition(current, change, self.clock())
        )
        self.receipts.enqueue(ReceiptJob(payment_request_id=request.id))
        self.notifier.payment_request_updated(captured)
        return captured

    def reauthorize(self, principal: Principal, payment_request_id: str) -> PaymentRequest:
        """Ask the patient for a fresh hold on the same request: the hold still held is let
        go, and the request waits for the patient again on a new PaymentIntent (its next
        attempt); one request, one history."""
        clinician = require_clinician(principal)
        request, clinic = self.visible(clinician, self.store.get(payment_request_id))
        if not can_reauthorize(request):
            raise Conflict(
                "not_reauthorizable",
                "Only a hold that is held, or that lapsed, can be asked for again.",
            )
        if clinic is None or clinic.stripe_account_id != request.stripe_account:
            raise Conflict(
                "stripe_account_removed",
                "The clinic's Stripe account was removed: this request can no longer be paid.",
            )
        assert request.payment_intent_id and request.stripe_account
        if request.status is Status.AUTHORIZED:
            # Never two holds on the patient's card for one consultation.
            self._release(request)
        following = request.model_copy(update={"hold_attempt": request.hold_attempt + 1})
        # Keyed by the attempt: a concurrent or repeated ask makes the same intent.
        intent = self.gateway.create_intent(
            following, request.stripe_account, clinic.share_description_with_stripe
        )
        change = StatusChange(
            status=Status.REQUESTED, cause=cause_of(clinician),
            intent_id=request.payment_intent_id, reauthorized_with=intent.id,
        )  # fmt: skip
        renewed = self.update(request.id, lambda current: transition(current, change, self.clock()))
        if renewed.payment_intent_id != intent.id:
            raise Conflict("concurrent_update", "This hold changed meanwhile; look again.")
        self.notifier.payment_request_updated(renewed)
        return renewed

    def _release(self, request: PaymentRequest) -> None:
        """Let a hold go on Stripe; one that Stripe already let go (it lapsed) is fine."""
        assert request.payment_intent_id and request.stripe_account
        try:
            self.gateway.cancel_intent(
                request.payment_intent_id, request.stripe_account,
                f"{request.id}:cancel:v{request.version}",
            )  # fmt: skip
        except Conflict:
            held = self.gateway.retrieve_intent(request.payment_intent_id, request.stripe_account)
            if held.status != "canceled":
                raise

    def send_pay_link(
        self, principal: Principal | PlatformBackend, payment_request_id: str, body: PayLinkIn
    ) -> PaymentRequest:
        """E-mail the patient a link to the hosted pay page for this request alone: asked
        by a clinician of the call, or by the platform's backend for its organisation's
        clinics (when the patient left the call; scope callpay/pay-links.write)."""
        if isinstance(principal, PlatformBackend):
            request = self.store.get(payment_request_id)
            if request is None:
                raise NotFound("payment_request_not_found", "No such payment request.")
            clinic = self.store.get_clinic(request.clinic_id)
            check_backend_clinic(principal, org_of(clinic), PAY_LINKS_WRITE)
        else:
            request, clinic = self.visible(
                require_clinician(principal), self.store.get(payment_request_id)
            )
        email = str(body.email) if body.email else None
        return self.pay_link_for(request, clinic, email, body.locale, cause_of(principal))

    def pay_link_for(
        self,
        request: PaymentRequest,
        clinic: Clinic | None,
        email: str | None,
        locale: str | None,
        cause: Cause,
    ) -> PaymentRequest:
        """Record a new link on the request and queue its e-mail (the mailer mints the
        link's token from the record: it is never stored or queued)."""
        if request.status not in PAYABLE:
            raise Conflict("not_payable", f"A {request.status.value} payment cannot be paid.")
        address = email or request.receipt_email
        if not address:
            raise InvalidInput(
                "email_required", "Send the patient's e-mail address: none is known."
            )
        if not self.patient_page_url:
            raise Conflict("no_pay_page", "This deployment has no hosted pay page to link to.")
        now = self.clock()
        link = PayLink(
            id=uuid.uuid4().hex, email=address,
            locale=locale or request.locale or (clinic.default_locale if clinic else None),
            sent_at=now, expires_at=now + self.pay_link_lifetime, sent_by=cause.subject,
        )  # fmt: skip
        change = StatusChange(None, cause, pay_link=link)

        def decide(current: PaymentRequest) -> Transition | None:
            if current.status not in PAYABLE:
                raise Conflict("not_payable", f"A {current.status.value} payment cannot be paid.")
            return transition(current, change, now)

        sent = self.update(request.id, decide)
        self.receipts.enqueue(
            ReceiptJob(payment_request_id=request.id, kind="pay_link", link_id=link.id)
        )
        self.notifier.payment_request_updated(sent)
        return sent

    def refund(
        self, principal: Principal, payment_request_id: str, body: RefundIn, key: str | None
    ) -> tuple[RefundAnswer, bool]:
        """Refund all or part of a payment; the patient gets a refund receipt.

        The answer and True, or the first answer given for this Idempotency-Key and False:
        callpay keeps its own record of the key, so the promise holds whatever Stripe does
        with its own idempotency keys (localstripe ignores them).
        """
        admin = require_admin(principal)
        request, _ = self.visible(admin, self.store.get(payment_request_id))
        if not key:
            # Without the client's key, a retry after a lost answer would refund again.
            raise BadRequest(
                "idempotency_key_required", "Send an Idempotency-Key header with every refund."
            )
        scope = hashlib.sha256(f"{request.id}\n{admin.sub}\n{key}".encode()).hexdigest()
        digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        claim = self.store.claim_refund_key(scope, digest, self.clock())
        if claim.fingerprint != digest:
            raise InvalidInput(
                "idempotency_key_reused", "This Idempotency-Key was used for another refund."
            )
        if claim.answer is not None:
            # The receipt job goes again: if the first one was lost, this one makes up for
            # it; the receipt worker sends each receipt once.
            self.receipts.enqueue(claim.answer.receipt)
            return claim.answer, False
        if not claim.ours:
            raise Conflict(
                "refund_in_progress", "A refund with this Idempotency-Key is being made; retry."
            )
        try:
            refund = claim.refund or self._refund_on_stripe(admin, request, body, scope)
            refunded = self.update(
                request.id,
                lambda current: transition(
                    current,
                    StatusChange(
                        status=None,
                        cause=Cause(
                            actor="clinician", subject=admin.sub,
                            detail=f"{refund.id} {body.reason}",
                        ),
                        refund=refund,
                    ),
                    self.clock(),
                ),
            )  # fmt: skip
        except Exception:
            self.store.release_refund_key(scope)
            raise
        job = ReceiptJob(
            payment_request_id=request.id,
            kind="refund",
            refund_id=refund.id,
            refunded_total=refunded.amount_refunded,
            refunded_at=self.clock(),
        )
        self.receipts.enqueue(job)
        answer = RefundAnswer(200, PaymentRequestOut.of(refunded).model_dump_json(), job)
        self.store.answer_refund_key(scope, answer)
        self.notifier.payment_request_updated(refunded)
        return answer, True

    def _refund_on_stripe(
        self, admin: Clinician, request: PaymentRequest, body: RefundIn, scope: str
    ) -> Refund:
        """Check the refund against what was paid, make it, and note it under the key."""
        refundable = request.status in REFUNDABLE or (
            request.dispute is not None and request.dispute.is_charge_refundable
        )
        if not refundable:
            raise Conflict(
                "not_refundable", f"A {request.status.value} payment cannot be refunded."
            )
        remaining = request.amount_captured - request.amount_refunded
        amount = body.amount or remaining
        if amount > remaining or amount <= 0:
            left = Money(remaining, request.currency).display()
            raise InvalidInput("refund_too_large", f"At most {left} is left to refund.")
        check_whole_units(Money(amount, request.currency))
        refund = self.gateway.refund(request, amount, f"{request.id}:refund:{scope[:40]}")
        self.store.note_refund_key(scope, refund)
        return refund

    def update(
        self,
        payment_request_id: str,
        change_of: Callable[[PaymentRequest], Transition | None],
        first: PaymentRequest | None = None,
    ) -> PaymentRequest:
        """Apply a change to the latest stored version, retrying when another writer won;
        `first`: the version just read, tried before reading again (the write is
        conditional on its version, so a stale one only costs the retry)."""
        updated = optimistic_update(
            load=lambda: self._stored(payment_request_id),
            decide=change_of,
            save=self.store.save,
            first=first,
        )
        return updated.change.after if updated.change else updated.state

    def _stored(self, payment_request_id: str) -> PaymentRequest:
        request = self.store.get(payment_request_id)
        if request is None:
            raise NotFound("payment_request_not_found", "No such payment request.")
        return request


def _with_checkout(
    current: PaymentRequest, patient: Patient, now: datetime, details: dict[str, object]
) -> Transition | None:
    """Where the receipt goes, in which language, what the patient was shown and agreed to."""
    if current.status not in PAYABLE:
        raise Conflict(*NOT_PAYABLE[current.status])
    after = current.model_copy(update=details | {"updated_at": now, "version": current.version + 1})
    consented = after.card_consent is not None and current.card_consent is None
    audit = AuditEntry(
        payment_request_id=current.id,
        version=after.version,
        at=now,
        action="checkout.card_consent" if consented else "checkout",
        from_status=current.status,
        to_status=current.status,
        cause=cause_of(patient),
    )
    return Transition(before=current, after=after, audit=audit)
