"""A payment request: what a clinician asked a patient to pay in one call, and where it stands."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

CaptureMethod = Literal["automatic", "manual"]


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
    model_config = ConfigDict(frozen=True)

    description: str
    amount: int


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
    version: int = 1


class Cause(BaseModel):
    """Who or what caused a change: a person (by subject id) or a Stripe event."""

    model_config = ConfigDict(frozen=True)

    actor: Literal["clinician", "patient", "stripe", "system"]
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
