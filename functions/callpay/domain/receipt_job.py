"""A request to send one e-mail to a patient: what the receipt queue carries to the mailer.

Payment and refund receipts, and pay-later links (the link's token is minted by the mailer,
never carried or stored).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

MailKind = Literal["payment", "refund", "pay_link"]


class ReceiptJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    payment_request_id: str
    kind: MailKind = "payment"
    # Refund receipts: which refund, and the total refunded once it went through.
    refund_id: str | None = None
    refunded_total: int | None = None
    refunded_at: datetime | None = None
    # Pay-later links: which link of the request (its PayLink id).
    link_id: str | None = None

    @property
    def key(self) -> str:
        """One email per payment, per refund and per link, however often the job arrives."""
        if self.kind == "refund":
            return f"{self.payment_request_id}#refund#{self.refund_id}"
        if self.kind == "pay_link":
            return f"{self.payment_request_id}#pay_link#{self.link_id}"
        return f"{self.payment_request_id}#payment"


def receipt_number(payment_request_id: str, on_date: str, refund_id: str | None = None) -> str:
    """Stable, so a resend or the downloadable copy shows the same number.

    `on_date` is the payment (or refund) date as YYYYMMDD; then the request id's first
    eight hex digits, unique per clinic in practice and traceable to the request; a
    refund receipt adds the end of the refund id, as one payment may be refunded twice.
    """
    number = f"{on_date}-{payment_request_id.removeprefix('pr_')[:8].upper()}"
    if refund_id:
        return f"RF-{number}-{refund_id[-6:].upper()}"
    return f"R-{number}"


class Claim(StrEnum):
    """The answer to "may I send this receipt now?"."""

    CLAIMED = "claimed"  # this worker sends it
    SENT = "sent"  # sent before: nothing to do
    BUSY = "busy"  # another worker holds the lease: try again later
