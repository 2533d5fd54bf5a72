"""A payment request: what a clinician asked a patient to pay in one call, and where it stands."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

CaptureMethod = Literal["automatic", "manual"]
# Why a request ended without a charge: canceled (by the clinic, or on Stripe), a hold
# released on purpose (a capture of 0), or a hold that lapsed before it was captured.
CancellationReason = Literal["canceled", "released", "expired"]
# What money taken is for, when it is not the consultation itself.
ChargeReason = Literal["no_show"]

# Stripe's window for capturing an online card authorisation when the charge does not say
# (`payment_method_details.card.capture_before` does; some merchant-initiated holds are shorter).
DEFAULT_HOLD_WINDOW = timedelta(days=7)


class Status(StrEnum):
    REQUESTED = "requested"
    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    FAILED = "failed"
    AUTHORIZED = "authorized"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


class LineItem(BaseModel):
    """One line of what is billed; the amount is in the request's currency, minor units."""

    model_config = ConfigDict(frozen=True)

    description: str
    # Negative lines are allowed: an invoice may carry a discount or a credit.
    amount: int
    # The platform's invoice this line comes from, when the request bills invoices.
    invoice_id: str | None = None


class Failure(BaseModel):
    """Why the last attempt failed: Stripe's decline code (or error code) and a safe message."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str


class ChargeDetails(BaseModel):
    """How it was paid, for the receipt: kept on the record once known, so showing a
    receipt never asks Stripe again."""

    model_config = ConfigDict(frozen=True)

    charge_id: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None

    @property
    def complete(self) -> bool:
        return bool(self.charge_id and self.card_brand and self.card_last4)


class Refund(BaseModel):
    """One refund, by Stripe's own refund object: money on its way back to the patient."""

    model_config = ConfigDict(frozen=True)

    id: str
    amount: int
    status: str = "succeeded"  # Stripe's: pending, succeeded, failed, canceled...

    @property
    def counts(self) -> bool:
        return self.status not in {"failed", "canceled"}


class Dispute(BaseModel):
    """The patient's bank disputes the charge (a chargeback, or an inquiry before one)."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: str  # Stripe's: warning_needs_response ... needs_response, under_review, won, lost
    reason: str
    amount: int
    # An inquiry (warning_*) can still be refunded; a chargeback cannot.
    is_charge_refundable: bool = False
    # Stripe's `created` of the event that last set the status, and of the funds events.
    status_event_at: int = 0
    funds_withdrawn_at: int | None = None
    funds_reinstated_at: int | None = None


class PolicyShown(BaseModel):
    """The clinic's no-show policy as the patient had it in view when paying (domain/policy.py)."""

    model_config = ConfigDict(frozen=True)

    version: int
    sha256: str
    fee: int  # in the request's currency, minor units


class CardConsent(BaseModel):
    """The patient agreed to keep the card for this clinic's future charges, under this
    policy, at this time, while paying this request (shown on its receipt)."""

    model_config = ConfigDict(frozen=True)

    policy_version: int
    policy_sha256: str
    # The no-show fee that policy named: the most a saved card is ever charged for one.
    fee: int
    currency: str
    agreed_at: datetime
    payment_request_id: str


class PayLink(BaseModel):
    """The last pay-later link sent for this request: where, in which language, until when.
    The link's token is never stored; the mailer mints it from these (adapters/patient_tokens)."""

    model_config = ConfigDict(frozen=True)

    id: str
    email: str
    locale: str | None = None
    sent_at: datetime
    expires_at: datetime
    sent_by: str


class PaymentRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    call_id: str
    clinic_id: str
    amount: int
    currency: str
    description: str
    status: Status = Status.REQUESTED
    capture_method: CaptureMethod = "automatic"
    amount_captured: int = 0
    amount_capturable: int = 0
    # Money returned to the patient (never a released authorisation): the larger of the
    # refunds we know by their own objects and what Stripe's charge reported, corrected
    # for its API version (domain/refunds.py). Never decreases; at most amount_captured.
    amount_refunded: int = 0
    refunds: tuple[Refund, ...] = ()  # the refunds made through callpay
    dispute: Dispute | None = None
    charge: ChargeDetails | None = None
    line_items: tuple[LineItem, ...] = ()
    failure: Failure | None = None
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None = None
    requested_by: str
    payment_intent_id: str | None = None
    stripe_account: str | None = None
    receipt_email: str | None = None
    locale: str | None = None
    # Stripe's `created` (epoch seconds) of the newest event applied: orders in-flight events.
    last_event_at: int = 0
    # Holds: Stripe's deadline for capturing (from the charge), when the card was
    # authorised, which hold this is (a re-authorisation starts the next one on a new
    # PaymentIntent), and when the clinic was warned that it is about to lapse.
    capture_before: datetime | None = None
    authorized_at: datetime | None = None
    hold_attempt: int = 1
    expiry_warned_at: datetime | None = None
    cancellation_reason: CancellationReason | None = None
    charge_reason: ChargeReason | None = None
    # The platform's reference of the patient who paid (from their access token), and the
    # Stripe Customer on the clinic's account when the card is kept or charged off-session.
    patient_ref: str | None = None
    customer_id: str | None = None
    no_show_policy: PolicyShown | None = None
    card_consent: CardConsent | None = None
    # The card Stripe kept for the patient (only recorded when the patient consented).
    saved_payment_method: str | None = None
    # Charged with a saved card while the patient was not there (a no-show fee).
    off_session: bool = False
    pay_link: PayLink | None = None
    version: int = 1

    @property
    def hold_deadline(self) -> datetime | None:
        """When an authorised hold lapses: Stripe's `capture_before`, else Stripe's default
        window from when it was authorised."""
        if self.status is not Status.AUTHORIZED:
            return None
        if self.capture_before is not None:
            return self.capture_before
        if self.authorized_at is not None:
            return self.authorized_at + DEFAULT_HOLD_WINDOW
        return None


class Cause(BaseModel):
    """Who or what caused a change: a person (by subject id), a Stripe event (by its id),
    the platform's backend (by client), or a scheduled job."""

    model_config = ConfigDict(frozen=True)

    actor: Literal["clinician", "patient", "stripe", "platform", "scheduler", "system"]
    subject: str
    detail: str = ""


class AuditEntry(BaseModel):
    """One line of a payment request's audit trail."""

    model_config = ConfigDict(frozen=True)

    payment_request_id: str
    version: int
    at: datetime
    action: str
    from_status: Status | None = None
    to_status: Status
    cause: Cause
