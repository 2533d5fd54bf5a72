"""Renders a receipt as an email (subject, HTML and plain text) in one of the receipt languages."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from callpay.domain.money import minor_unit_exponent
from callpay.receipts.catalog import translate
from callpay.receipts.locales import language_tag, resolve_locale, text_direction
from callpay.receipts.receipt import Receipt, ReceiptLine

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).with_name("templates")

# Stripe's `card.brand` values; brands are proper names and stay untranslated.
CARD_BRANDS = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos",
    "interac": "Interac",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}

_WHITESPACE = re.compile(r"\s+")


class RenderedReceipt(BaseModel):
    """A receipt ready to send or serve: the HTML page is also the GET /receipt response."""

    model_config = ConfigDict(frozen=True)

    subject: str
    html: str
    text: str
    locale: str
    direction: Literal["ltr", "rtl"]


@dataclass(frozen=True, slots=True)
class _Field:
    label: str
    value: str
    # The plain-text form in the locale's punctuation: "Total : 80,00 €" in French.
    line: str
    strong: bool = False


@dataclass(frozen=True, slots=True)
class _Clinic:
    heading: str
    name: str | None
    address_lines: tuple[str, ...]
    fields: tuple[_Field, ...]


@dataclass(frozen=True, slots=True)
class _Link:
    text: str
    url: str
    line: str


def render(receipt: Receipt, locale: str) -> RenderedReceipt:
    """The receipt in `locale` (any tag resolve_locale accepts; unsupported ones get English)."""
    locale = resolve_locale(locale, None)
    html_environment, text_environment = environments()
    context = _Page(receipt, locale).context()
    return RenderedReceipt(
        subject=_subject(receipt, locale),
        html=html_environment.get_template("receipt.html.j2").render(context),
        text=text_environment.get_template("receipt.txt.j2").render(context),
        locale=locale,
        direction=text_direction(locale),
    )


def format_amount(amount: int, currency: str, locale: str) -> str:
    """Minor units as the locale writes money: 123450 EUR in fr is '1 234,50 €'."""
    from babel.numbers import format_currency  # noqa: PLC0415

    # Decimal, never float: 0.1 + 0.2 must not appear on a receipt.
    value = Decimal(amount).scaleb(-minor_unit_exponent(currency))
    # CLDR gives a few currencies fewer digits than Stripe (ISK, LBP...): show, never round.
    return format_currency(value, currency.upper(), locale=locale, decimal_quantization=False)


def format_issued_at(issued_at: datetime, time_zone: str, locale: str) -> str:
    """The instant as a date and time in the clinic's zone, named so a traveller is not misled."""
    from babel.dates import (  # noqa: PLC0415
        format_date,
        format_time,
        get_datetime_format,
        get_timezone_name,
    )

    local = issued_at.astimezone(ZoneInfo(time_zone))
    # CLDR's own joining order ("{1}, {0}"; Vietnamese puts the time first), as
    # babel.dates.format_datetime does, but a long date with a short time.
    joined = (
        str(get_datetime_format("long", locale=locale))
        .replace("'", "")
        .replace("{0}", format_time(local, "short", locale=locale))
        .replace("{1}", format_date(local, "long", locale=locale))
    )
    zone = get_timezone_name(local, "long", locale=locale)
    return translate(locale, "date_with_zone", datetime=joined, zone=zone)


@functools.cache
def environments() -> tuple[Environment, Environment]:
    """The HTML (autoescaped) and plain-text environments, built on first render and kept."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined  # noqa: PLC0415

    loader = FileSystemLoader(TEMPLATES)

    def environment(*, autoescape: bool) -> Environment:
        return Environment(
            loader=loader,
            autoescape=autoescape,  # noqa: S701 - on for HTML, off for the text part
            undefined=StrictUndefined,
            # Templates never change while a Lambda runs: no stat per render.
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    # Plain text must show "<script>" and "&" as typed: escaping would leave "&amp;" behind.
    return environment(autoescape=True), environment(autoescape=False)


def _subject(receipt: Receipt, locale: str) -> str:
    number = receipt.receipt_number
    clinic = receipt.clinic.legal_name
    if clinic:
        subject = translate(locale, f"subject_{receipt.kind}_from", clinic=clinic, number=number)
    else:
        subject = translate(locale, f"subject_{receipt.kind}", number=number)
    return one_line(subject)


def one_line(subject: str) -> str:
    """An email header is one line, whatever the clinic typed into its legal name."""
    return _WHITESPACE.sub(" ", subject).strip()


class _Page:
    """The receipt as labelled, formatted values: the templates only lay them out."""

    def __init__(self, receipt: Receipt, locale: str) -> None:
        self.receipt = receipt
        self.locale = locale

    def t(self, message_id: str, **values: str) -> str:
        return translate(self.locale, message_id, **values)

    def field(self, message_id: str, value: str, *, strong: bool = False) -> _Field:
        label = self.t(message_id)
        return _Field(label, value, self.t("label_value", label=label, value=value), strong)

    def money(self, amount: int) -> str:
        return format_amount(amount, self.receipt.currency, self.locale)

    def context(self) -> dict[str, object]:
        receipt = self.receipt
        direction = text_direction(self.locale)
        return {
            "lang": language_tag(self.locale),
            "dir": direction,
            # Email clients ignore logical CSS (text-align: start), so name the side.
            "start": "right" if direction == "rtl" else "left",
            "end": "left" if direction == "rtl" else "right",
            "title": self.t(f"title_{receipt.kind}"),
            "details": self.details(),
            "column_description": self.t("description"),
            "column_amount": self.t("amount"),
            "lines": tuple(
                _Field(
                    line.description,
                    self.money(line.amount),
                    self.t("label_value", label=line.description, value=self.money(line.amount)),
                )
                for line in self.lines()
            ),
            "totals": self.totals(),
            "notes": self.notes(),
            "tax_statement": receipt.clinic.tax_statement,
            "clinic": self.clinic(),
            "link": self.link(),
            "closing": self.t("refund_note" if receipt.kind == "refund" else "thanks"),
        }

    def lines(self) -> tuple[ReceiptLine, ...]:
        """What was paid for; a no-show fee is one line, in the patient's language."""
        receipt = self.receipt
        if receipt.no_show_policy_version is not None and receipt.kind == "payment":
            return (ReceiptLine(description=self.t("no_show_fee"), amount=receipt.amount),)
        return receipt.lines

    def notes(self) -> tuple[str, ...]:
        """What the patient should know about how this money was taken."""
        receipt = self.receipt
        notes = []
        if receipt.held_amount is not None and receipt.held_amount > receipt.amount:
            notes.append(self.t("hold_released_note"))
        if receipt.no_show_policy_version is not None:
            notes.append(self.t("no_show_note", version=str(receipt.no_show_policy_version)))
        if receipt.card_kept_policy_version is not None and receipt.card_kept_at is not None:
            when = format_issued_at(receipt.card_kept_at, receipt.clinic.time_zone, self.locale)
            version = str(receipt.card_kept_policy_version)
            notes.append(self.t("card_kept_note", version=version, date=when))
        return tuple(notes)

    def details(self) -> tuple[_Field, ...]:
        receipt = self.receipt
        fields = [
            self.field("receipt_number", receipt.receipt_number),
            self.field(
                "date",
                format_issued_at(receipt.issued_at, receipt.clinic.time_zone, self.locale),
            ),
        ]
        card = self.card()
        if card:
            fields.append(
                self.field("refunded_to" if receipt.kind == "refund" else "paid_with", card)
            )
        if receipt.charge_reference:
            fields.append(self.field("reference", receipt.charge_reference))
        if receipt.held_amount is not None:
            fields.append(self.field("held_on_card", self.money(receipt.held_amount)))
        return tuple(fields)

    def card(self) -> str | None:
        brand, last4 = self.receipt.card_brand, self.receipt.card_last4
        if not brand and not last4:
            return None
        if brand and brand in CARD_BRANDS:
            name = CARD_BRANDS[brand]
        elif brand and brand != "unknown":
            name = brand.replace("_", " ").title()
        else:
            name = self.t("card")
        return f"{name} •••• {last4}" if last4 else name

    def totals(self) -> tuple[_Field, ...]:
        receipt = self.receipt
        if receipt.refunded_amount is None:
            return (self.field("total", self.money(receipt.amount), strong=True),)
        totals = [
            self.field("amount_paid", self.money(receipt.amount)),
            self.field("total_refunded", self.money(receipt.refunded_amount), strong=True),
        ]
        if receipt.refunded_amount < receipt.amount:
            remaining = receipt.amount - receipt.refunded_amount
            totals.append(self.field("net_paid", self.money(remaining)))
        return tuple(totals)

    def clinic(self) -> _Clinic | None:
        clinic = self.receipt.clinic
        fields = []
        if clinic.tax_id:
            label = clinic.tax_id_label or self.t("tax_id")
            line = self.t("label_value", label=label, value=clinic.tax_id)
            fields.append(_Field(label, clinic.tax_id, line))
        if clinic.provider_name:
            fields.append(self.field("provider", clinic.provider_name))
        if clinic.provider_number:
            fields.append(self.field("provider_number", clinic.provider_number))
        if not (clinic.legal_name or clinic.address_lines or fields):
            return None
        return _Clinic(self.t("paid_to"), clinic.legal_name, clinic.address_lines, tuple(fields))

    def link(self) -> _Link | None:
        url = self.receipt.receipt_url
        if url is None:
            return None
        text = self.t("view_receipt")
        return _Link(text, url, self.t("label_value", label=text, value=url))
