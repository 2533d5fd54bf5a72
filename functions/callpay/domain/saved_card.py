"""A card a patient agreed to keep for one clinic's future charges (a no-show fee), on the
Stripe Customer that stands for that patient on the clinic's account."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from callpay.domain.payment_request import CardConsent, PaymentRequest


class SavedCard(BaseModel):
    model_config = ConfigDict(frozen=True)

    clinic_id: str
    # The platform's reference of the patient: a Customer is never found by e-mail.
    patient_ref: str
    customer_id: str
    payment_method_id: str
    consent: CardConsent
    # Where the patient wanted receipts when they agreed, and in which language.
    receipt_email: str | None = None
    locale: str | None = None
    saved_at: datetime


def saved_card_of(request: PaymentRequest, now: datetime) -> SavedCard | None:
    """The card this request kept, once Stripe kept it and the patient had agreed."""
    if not (
        request.saved_payment_method
        and request.card_consent
        and request.patient_ref
        and request.customer_id
    ):
        return None
    return SavedCard(
        clinic_id=request.clinic_id,
        patient_ref=request.patient_ref,
        customer_id=request.customer_id,
        payment_method_id=request.saved_payment_method,
        consent=request.card_consent,
        receipt_email=request.receipt_email,
        locale=request.locale,
        saved_at=now,
    )
