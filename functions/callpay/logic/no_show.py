"""No-show fees on a saved card: the patient agreed to keep their card with the clinic for
its no-show fee; the clinician charges it without them (off-session).

The request is stored with its PaymentIntent before the card is charged, so a charge is
never made for a request we do not know. A bank that wants the card holder to confirm
(`authentication_required`) makes the request `failed` with that code, e-mails the patient
a pay-later link for it, and shows the clinician both on the call's feed: never a silent
failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from callpay.api_models import NoShowFeeIn
from callpay.domain.access import Principal, check_clinic, require_clinician
from callpay.domain.clinic import org_of
from callpay.domain.errors import Conflict, PaymentDeclined
from callpay.domain.money import Money, check_chargeable
from callpay.domain.payment_request import Cause, Failure, PaymentRequest, PolicyShown, Status
from callpay.domain.policy import policy_of
from callpay.domain.receipt_job import ReceiptJob
from callpay.domain.transitions import StatusChange, transition
from callpay.logic.payment_requests import PaymentRequests, cause_of

# What the clinician sees when they typed nothing (the receipt says "No-show fee" in the
# patient's language whatever this is).
DEFAULT_DESCRIPTION = "No-show fee"

INTENT_OUTCOMES = {"succeeded": Status.SUCCEEDED, "processing": Status.PROCESSING}


@dataclass
class NoShowFees:
    requests: PaymentRequests

    def charge(
        self, principal: Principal, call_id: str, body: NoShowFeeIn, idempotency_key: str | None
    ) -> tuple[PaymentRequest, bool]:
        """The no-show fee's request and True, or the one this Idempotency-Key made and False."""
        clinician = require_clinician(principal)
        store = self.requests.store
        clinic = store.get_clinic(body.clinic_id)
        check_clinic(clinician, body.clinic_id, org_of(clinic))
        clinic, bound = self.requests.open_clinic(clinician, call_id, body.clinic_id, clinic)
        stripe_account = clinic.check_can_take_payments()
        if policy_of(clinic) is None:
            raise Conflict("no_show_fee_not_set", "This clinic has no no-show fee.")
        card = store.saved_card(clinic.clinic_id, body.patient_ref)
        if card is None:
            raise Conflict(
                "no_saved_card", "This patient has not agreed to keep a card with the clinic."
            )
        consent = card.consent
        # The fee the patient agreed to, in the currency of that policy.
        money = Money(consent.fee, consent.currency)
        check_chargeable(money)
        if not bound:
            self.requests.bind(clinician, call_id, clinic)
        claimed = self.requests.claimed_id(clinician, idempotency_key, call_id, body)
        request_id, existing, resumed = claimed
        if existing is not None:
            return existing, False
        now = self.requests.clock()
        request = PaymentRequest(
            id=request_id, call_id=call_id, clinic_id=clinic.clinic_id,
            amount=money.amount, currency=money.currency,
            description=body.description or DEFAULT_DESCRIPTION,
            charge_reason="no_show", off_session=True,
            patient_ref=card.patient_ref, customer_id=card.customer_id,
            receipt_email=card.receipt_email, locale=card.locale,
            no_show_policy=PolicyShown(
                version=consent.policy_version, sha256=consent.policy_sha256, fee=consent.fee
            ),
            created_at=now, updated_at=now, requested_by=clinician.sub,
            stripe_account=stripe_account,
        )  # fmt: skip
        request, is_new = self.requests.opened(
            request, clinic, clinician, saved_card=card, resumed=resumed
        )
        if not is_new:
            return request, False
        return self._charged(request, cause_of(clinician)), True

    def _charged(self, request: PaymentRequest, cause: Cause) -> PaymentRequest:
        """Charge the saved card; the request as the outcome leaves it."""
        assert request.payment_intent_id and request.stripe_account
        requests = self.requests
        try:
            intent = requests.gateway.confirm_off_session(
                request.payment_intent_id, request.stripe_account, f"{request.id}:confirm"
            )
        except PaymentDeclined as decline:
            failed = self._apply(
                request,
                StatusChange(Status.FAILED, cause, failure=Failure(code=decline.code,
                                                                   message=decline.message)),
            )  # fmt: skip
            wanted = decline.code == "authentication_required" and failed.receipt_email
            if wanted and requests.patient_page_url:
                # The patient confirms with their bank on the pay page, from the e-mail.
                clinic = requests.store.get_clinic(request.clinic_id)
                system = Cause(actor="system", subject="no_show", detail="authentication_required")
                return requests.pay_link_for(failed, clinic, None, failed.locale, system)
            return failed
        status = INTENT_OUTCOMES.get(intent.status)
        if status is None:
            return request  # Stripe's events say what comes next
        captured = request.amount if status is Status.SUCCEEDED else None
        change = StatusChange(status, cause, amount_captured=captured, charge_reason="no_show")
        paid = self._apply(request, change)
        if paid.status is Status.SUCCEEDED:
            requests.receipts.enqueue(ReceiptJob(payment_request_id=request.id))
        return paid

    def _apply(self, request: PaymentRequest, change: StatusChange) -> PaymentRequest:
        requests = self.requests
        updated = requests.update(
            request.id, lambda current: transition(current, change, requests.clock())
        )
        requests.notifier.payment_request_updated(updated)
        return updated
