"""The platform's invoices, billed in a call and settled with the payment request.

An invoice is `unpaid` (or `void`) until a payment request bills it; it is then `pending`
for that request alone, `paid` when the request is, released back to `unpaid` when the
request ends unpaid (canceled by the clinician, by Stripe, or a hold released or lapsed),
and `partially_refunded` / `refunded` as the payment's refunds reach it. Every move is
written in the same transaction as the request's change (the store's `save`), on the
condition that the invoice is still the request's: an invoice can never be in two open
requests, nor paid twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from callpay.domain.payment_request import LineItem, PaymentRequest, Status
from callpay.domain.receipt_job import receipt_number
from callpay.domain.transitions import PAID


class InvoiceStatus(StrEnum):
    UNPAID = "unpaid"
    PENDING = "pending"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOID = "void"


# The platform may still change these; any other is the payment's.
EDITABLE = frozenset({InvoiceStatus.UNPAID, InvoiceStatus.VOID})


class Invoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    clinic_id: str
    id: str
    # The platform's own reference for the patient (never an e-mail or a name).
    patient: str
    issued_on: date
    currency: str
    lines: tuple[LineItem, ...]
    total: int
    status: InvoiceStatus = InvoiceStatus.UNPAID
    payment_request_id: str | None = None  # the request billing it (pending) or that paid it
    paid_at: datetime | None = None
    receipt_number: str | None = None
    amount_refunded: int = 0
    created_at: datetime
    updated_at: datetime
    version: int = 1

    def same_content(self, other: Invoice) -> bool:
        fields = ("patient", "issued_on", "currency", "lines", "total")
        return all(getattr(self, f) == getattr(other, f) for f in fields)


def billed_lines(invoices: list[Invoice]) -> tuple[LineItem, ...]:
    """The request's line items: every invoice's lines, tagged with the invoice."""
    return tuple(
        line.model_copy(update={"invoice_id": invoice.id})
        for invoice in invoices
        for line in invoice.lines
    )


def invoice_totals(request: PaymentRequest) -> dict[str, int]:
    """Each invoice the request bills and its total, in the request's order."""
    totals: dict[str, int] = {}
    for line in request.line_items:
        if line.invoice_id:
            totals[line.invoice_id] = totals.get(line.invoice_id, 0) + line.amount
    return totals


InvoiceEvent = Literal["invoice.paid", "invoice.released", "invoice.refunded"]


@dataclass(frozen=True, slots=True)
class InvoiceMove:
    """What a change of the request does to one of its invoices."""

    invoice_id: str
    total: int
    to: InvoiceStatus
    expected: tuple[InvoiceStatus, ...]  # the invoice must be in one of these (and the request's)
    event: InvoiceEvent
    amount_refunded: int = 0
    receipt_number: str | None = None
    paid_at: datetime | None = None


def refund_shares(totals: dict[str, int], refunded: int) -> dict[str, int]:
    """The refunded amount allocated to the invoices in the order they were billed."""
    shares, left = {}, refunded
    for invoice_id, total in totals.items():
        shares[invoice_id] = min(total, max(left, 0))
        left -= shares[invoice_id]
    return shares


def invoice_moves(before: PaymentRequest, after: PaymentRequest) -> list[InvoiceMove]:
    """The invoices' moves that go with a change of the request that bills them."""
    totals = invoice_totals(after)
    if not totals:
        return []
    if before.status not in PAID and after.status in PAID:
        assert after.paid_at is not None
        number = receipt_number(after.id, f"{after.paid_at:%Y%m%d}")
        return [
            InvoiceMove(invoice_id, total, InvoiceStatus.PAID, (InvoiceStatus.PENDING,),
                        "invoice.paid", receipt_number=number, paid_at=after.paid_at)
            for invoice_id, total in totals.items()
        ]  # fmt: skip
    if after.status is Status.CANCELED and before.status is not Status.CANCELED:
        return [
            InvoiceMove(invoice_id, total, InvoiceStatus.UNPAID, (InvoiceStatus.PENDING,),
                        "invoice.released")
            for invoice_id, total in totals.items()
        ]  # fmt: skip
    if after.status in PAID and after.amount_refunded != before.amount_refunded:
        old = refund_shares(totals, before.amount_refunded)
        new = refund_shares(totals, after.amount_refunded)
        settled = (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_REFUNDED, InvoiceStatus.REFUNDED)
        return [
            InvoiceMove(invoice_id, total, refunded_status(new[invoice_id], total), settled,
                        "invoice.refunded", amount_refunded=new[invoice_id])
            for invoice_id, total in totals.items()
            if new[invoice_id] != old[invoice_id]
        ]  # fmt: skip
    return []


def refunded_status(refunded: int, total: int) -> InvoiceStatus:
    if refunded >= total:
        return InvoiceStatus.REFUNDED
    return InvoiceStatus.PARTIALLY_REFUNDED if refunded else InvoiceStatus.PAID
