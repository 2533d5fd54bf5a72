"""What a receipt shows, independent of where the payment request and clinic settings live."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callpay.domain.money import SUPPORTED
from callpay.domain.payment_request import LineItem
from callpay.domain.receipt_details import RECEIPT_DETAILS, ReceiptDetails

ReceiptKind = Literal["payment", "refund"]

_LAST4 = re.compile(r"\d{4}")


# One line of what was paid for: the payment request's own line model (invoice lines too).
ReceiptLine = LineItem


class ClinicDetails(ReceiptDetails):
    """The clinic's receipt details from its settings; anything unset is left off the receipt."""

    time_zone: str = "UTC"

    @field_validator(*RECEIPT_DETAILS)
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        # A settings form saves cleared fields as "": they must not leave an empty label.
        return value or None

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA time zone {value!r}") from error
        return value

    @property
    def address_lines(self) -> tuple[str, ...]:
        if self.address is None:
            return ()
        return tuple(line.strip() for line in self.address.splitlines() if line.strip())


class Receipt(BaseModel):
    """A payment or refund receipt: amounts in the currency's minor unit, times in UTC."""

    model_config = ConfigDict(frozen=True)

    receipt_number: str = Field(min_length=1)
    kind: ReceiptKind
    issued_at: datetime
    payment_request_id: str
    # What the patient paid (for a refund receipt: the original payment).
    amount: int = Field(ge=0)
    currency: str
    # Empty: the receipt shows `description` as its single line.
    line_items: tuple[ReceiptLine, ...] = ()
    description: str
    clinic: ClinicDetails = ClinicDetails()
    card_brand: str | None = None
    card_last4: str | None = None
    # Stripe's charge id (ch_...), the reference a clinic or bank can trace.
    charge_reference: str | None = None
    receipt_url: str | None = None
    # Refund receipts only: everything refunded so far, like Stripe's `amount_refunded`.
    refunded_amount: int | None = Field(default=None, gt=0)
    # A hold: what was held on the card (what it charged is `amount`).
    held_amount: int | None = Field(default=None, ge=0)
    # A no-show fee, charged under this version of the clinic's no-show policy.
    no_show_policy_version: int | None = None
    # The patient agreed to keep the card with the clinic: under which policy version, when.
    card_kept_policy_version: int | None = None
    card_kept_at: datetime | None = None

    @field_validator("issued_at", "card_kept_at")
    @classmethod
    def _aware_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("issued_at must be timezone-aware")
        return value.astimezone(UTC)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        code = value.strip().lower()
        if code not in SUPPORTED:
            raise ValueError(f"unsupported currency {value!r}")
        return code

    @field_validator("card_last4")
    @classmethod
    def _four_digits(cls, value: str | None) -> str | None:
        if value is not None and not _LAST4.fullmatch(value):
            raise ValueError("card_last4 must be four digits")
        return value

    @field_validator("receipt_url")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        # Autoescaping does not stop a javascript: URL in an href; only web links go in.
        if value is not None and not value.lower().startswith(("https://", "http://")):
            raise ValueError("receipt_url must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _refund_has_refunded_amount(self) -> Receipt:
        if self.kind == "refund":
            if self.refunded_amount is None:
                raise ValueError("a refund receipt needs refunded_amount")
            if self.refunded_amount > self.amount:
                raise ValueError("refunded_amount cannot exceed the amount paid")
        elif self.refunded_amount is not None:
            raise ValueError("refunded_amount belongs on refund receipts only")
        return self

    @property
    def lines(self) -> tuple[ReceiptLine, ...]:
        """What was paid for: the invoice lines, or the request's description as one line."""
        return self.line_items or (ReceiptLine(description=self.description, amount=self.amount),)
