"""A request to send one receipt: what the receipt queue carries from the webhook to the mailer."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

ReceiptKind = Literal["payment", "refund"]


class ReceiptJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    payment_request_id: str
    kind: ReceiptKind = "payment"

    @property
    def key(self) -> str:
        """One email per payment request and receipt kind, however often the job arrives."""
        return f"{self.payment_request_id}#{self.kind}"


def receipt_number(payment_request_id: str, kind: ReceiptKind, paid_on: str) -> str:
    """Stable, so a resend or the downloadable copy shows the same number.

    `paid_on` is the payment date as YYYYMMDD; the suffix is the request id's first
    eight hex digits, unique per clinic in practice and traceable to the request.
    """
    prefix = "RF" if kind == "refund" else "R"
    return f"{prefix}-{paid_on}-{payment_request_id.removeprefix('pr_')[:8].upper()}"


class Claim(StrEnum):
    """The answer to "may I send this receipt now?"."""

    CLAIMED = "claimed"  # this worker sends it
    SENT = "sent"  # sent before: nothing to do
    BUSY = "busy"  # another worker holds the lease: try again later
