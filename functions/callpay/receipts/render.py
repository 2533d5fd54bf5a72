"""Renders a receipt as an email (subject, HTML and plain text) in one of the receipt languages."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from callpay.receipts.catalog import translations
from callpay.receipts.formats import format_amount, format_count, format_issued_at
from callpay.receipts.locales import language_tag, negotiate, text_direction
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
# How long a refund takes to reach the card, in business days (Stripe: 5 to 10).
REFUND_DAYS = (5, 10)


def line_label(line: ReceiptLine) -> str:
    """A line as the receipt names it: an invoice's lines carry the invoice's number (a
    proper name, not translated)."""
    return f"{line.invoice_id} · {line.description}" if line.invoice_id else line.description


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


def render(receipt: Receipt, locale: str) -> RenderedReceipt:
    """The receipt in `locale`: a supported locale, or a tag `negotiate` matches; else English."""
    locale = negotiate([locale])
    html_environment, text_environment = environments(locale)
    page = _Page(receipt, locale)
    context = page.context()
    return RenderedReceipt(
        subject=page.subject(),
        html=html_environment.get_template("receipt.html.j2").render(context),
        text=text_environment.get_template("receipt.txt.j2").render(context),
        locale=locale,
        direction=text_direction(locale),
    )


def one_line(text: str) -> str:
    """An email header is one line, whatever the clinic typed into its legal name."""
    return _WHITESPACE.sub(" ", text).strip()


@functools.cache
def environments(locale: str) -> tuple[Environment, Environment]:
    """The locale's HTML (autoescaped) and plain-text environments, built on first render
    and kept: each has the locale's catalog installed for the templates' {% trans %}."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined  # noqa: PLC0415

    loader = FileSystemLoader(TEMPLATES)

    def environment(*, autoescape: bool) -> Environment:
        made = Environment(
            loader=loader,
            autoescape=autoescape,  # noqa: S701 - on for HTML, off for the text part
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            # Templates never change while a Lambda runs: no stat per render.
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        # newstyle: _("%(name)s", name=...) formats, and escapes the values in HTML.
        made.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
        return made

    # Plain text must show "<script>" and "&" as typed: escaping would leave "&amp;" behind.
    return environment(autoescape=True), environment(autoescape=False)


class _Page:
    """The receipt as labelled, formatted values: the templates lay them out and add the
    page's fixed words (column headings, the link's text, the closing sentence)."""

    def __init__(self, receipt: Receipt, locale: str) -> None:
        self.receipt = receipt
        self.locale = locale
        catalog = translations(locale)
        self._ = catalog.gettext
        self.pgettext = catalog.pgettext

    def subject(self) -> str:
        _, receipt = self._, self.receipt
        values = {"number": receipt.receipt_number, "clinic": receipt.clinic.legal_name}
        refund = receipt.kind == "refund"
        if receipt.clinic.legal_name and refund:
            # TRANSLATORS: email subject; %(clinic)s is the clinic's legal name as the clinic
            # typed it, %(number)s the receipt number (RF-20250302-1a2b3c4d-5e6f).
            subject = _("Your refund receipt from %(clinic)s #%(number)s") % values
        elif receipt.clinic.legal_name:
            # TRANSLATORS: email subject; %(clinic)s is the clinic's legal name as the clinic
            # typed it, %(number)s the receipt number (R-20250302-1a2b3c4d).
            subject = _("Your receipt from %(clinic)s #%(number)s") % values
        elif refund:
            # TRANSLATORS: email subject; %(number)s is the receipt number.
            subject = _("Your refund receipt #%(number)s") % values
        else:
            # TRANSLATORS: email subject; %(number)s is the receipt number.
            subject = _("Your receipt #%(number)s") % values
        return one_line(subject)

    def field(self, label: str, value: str, *, strong: bool = False) -> _Field:
        # TRANSLATORS: one line of the plain-text receipt: a label, then its value
        # ("Total: A$80.00"). Use your language's punctuation (French: "%(label)s : %(value)s").
        line = self._("%(label)s: %(value)s") % {"label": label, "value": value}
        return _Field(label, value, line, strong)

    def money(self, amount: int) -> str:
        return format_amount(amount, self.receipt.currency, self.locale)

    def context(self) -> dict[str, object]:
        _, receipt = self._, self.receipt
        direction = text_direction(self.locale)
        return {
            "lang": language_tag(self.locale),
            "dir": direction,
            # Email clients ignore logical CSS (text-align: start), so name the side.
            "start": "right" if direction == "rtl" else "left",
            "end": "left" if direction == "rtl" else "right",
            "kind": receipt.kind,
            # TRANSLATORS: the heading of a receipt (and the page's title).
            "title": _("Refund receipt") if receipt.kind == "refund" else _("Payment receipt"),
            "details": self.details(),
            "lines": tuple(
                self.field(line_label(line), self.money(line.amount)) for line in self.lines()
            ),
            "totals": self.totals(),
            "notes": self.notes(),
            "tax_statement": receipt.clinic.tax_statement,
            "clinic": self.clinic(),
            "receipt_url": receipt.receipt_url,
            # What the refund note says, in the locale's digits; the template chooses the
            # plural form by the larger number.
            "refund_days": {
                "low": format_count(REFUND_DAYS[0], self.locale),
                "high": format_count(REFUND_DAYS[1], self.locale),
                "count": REFUND_DAYS[1],
            },
        }

    def lines(self) -> tuple[ReceiptLine, ...]:
        """What was paid for; a no-show fee is one line, in the patient's language."""
        receipt = self.receipt
        if receipt.no_show_policy_version is not None and receipt.kind == "payment":
            # TRANSLATORS: the one line of a receipt for a missed appointment: the fee the
            # clinic charges when a patient does not come (its no-show policy).
            return (ReceiptLine(description=self._("No-show fee"), amount=receipt.amount),)
        return receipt.lines

    def notes(self) -> tuple[str, ...]:
        """What the patient should know about how this money was taken."""
        _, receipt = self._, self.receipt
        notes = []
        if receipt.held_amount is not None and receipt.held_amount > receipt.amount:
            # TRANSLATORS: below the total of a card hold charged in part: the amount
            # authorised on the card was more than the amount charged.
            notes.append(_("The rest of the hold was released and never charged."))
        if receipt.no_show_policy_version is not None:
            # TRANSLATORS: below a no-show fee; %(version)s is the number of the clinic's
            # no-show policy (1, 2...) the patient was shown when paying.
            charged = _(
                "Charged under the clinic's no-show policy shown to you when you paid "
                "(version %(version)s)."
            )
            notes.append(
                charged % {"version": format_count(receipt.no_show_policy_version, self.locale)}
            )
        if receipt.card_kept_policy_version is not None and receipt.card_kept_at is not None:
            when = format_issued_at(receipt.card_kept_at, receipt.clinic.time_zone, self.locale)
            # TRANSLATORS: the patient agreed to let the clinic keep their card (with
            # Stripe) to charge its no-show fee later; %(version)s is the number of the
            # policy they were shown, %(date)s when they agreed (date, time, time zone).
            agreed = _(
                "You agreed to keep this card with the clinic for its future charges "
                "under its no-show policy (version %(version)s) on %(date)s."
            )
            notes.append(
                agreed
                % {
                    "version": format_count(receipt.card_kept_policy_version, self.locale),
                    "date": when,
                }
            )
        return tuple(notes)

    def details(self) -> tuple[_Field, ...]:
        _, receipt = self._, self.receipt
        fields = [
            # TRANSLATORS: the receipt's own number (R-20250302-1a2b3c4d).
            self.field(_("Receipt number"), receipt.receipt_number),
            self.field(
                # TRANSLATORS: when the payment or refund was made: a date, time and time zone.
                _("Date"),
                format_issued_at(receipt.issued_at, receipt.clinic.time_zone, self.locale),
            ),
        ]
        card = self.card()
        if card:
            # TRANSLATORS: followed by the card, e.g. "Visa •••• 4242".
            label = _("Refunded to") if receipt.kind == "refund" else _("Paid with")
            fields.append(self.field(label, card))
        if receipt.charge_reference:
            # TRANSLATORS: Stripe's charge id (ch_...), which a clinic or bank can trace.
            fields.append(self.field(_("Reference"), receipt.charge_reference))
        if receipt.held_amount is not None:
            # TRANSLATORS: followed by an amount: what was authorised (held) on the card
            # before the clinic charged the final amount.
            fields.append(self.field(_("Held on card"), self.money(receipt.held_amount)))
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
            # TRANSLATORS: a payment card whose brand Stripe did not name, before its last
            # four digits ("Card •••• 0005").
            name = self.pgettext("payment method", "Card")
        return f"{name} •••• {last4}" if last4 else name

    def totals(self) -> tuple[_Field, ...]:
        _, receipt = self._, self.receipt
        if receipt.refunded_amount is None:
            # TRANSLATORS: what the patient paid in all, below the lines paid for.
            return (self.field(_("Total"), self.money(receipt.amount), strong=True),)
        totals = [
            # TRANSLATORS: on a refund receipt: what the patient had paid before any refund.
            self.field(_("Amount paid"), self.money(receipt.amount)),
            # TRANSLATORS: on a refund receipt: everything given back so far, this refund included.
            self.field(_("Total refunded"), self.money(receipt.refunded_amount), strong=True),
        ]
        if receipt.refunded_amount < receipt.amount:
            remaining = receipt.amount - receipt.refunded_amount
            # TRANSLATORS: on a refund receipt: what the patient has paid once refunds are deducted.
            totals.append(self.field(_("Amount paid after refund"), self.money(remaining)))
        return tuple(totals)

    def clinic(self) -> _Clinic | None:
        _, clinic = self._, self.receipt.clinic
        fields = []
        if clinic.tax_id:
            # TRANSLATORS: a generic name for the clinic's tax or business registration
            # number, shown when the clinic did not give its local name (ABN, SIRET...).
            fields.append(self.field(clinic.tax_id_label or _("Tax ID"), clinic.tax_id))
        if clinic.provider_name:
            # TRANSLATORS: the health professional who provided the care.
            fields.append(self.field(_("Provider"), clinic.provider_name))
        if clinic.provider_number:
            # TRANSLATORS: the professional's registration number with the health insurer.
            fields.append(self.field(_("Provider number"), clinic.provider_number))
        if not (clinic.legal_name or clinic.address_lines or fields):
            return None
        # TRANSLATORS: heading above the clinic's name, address and numbers.
        return _Clinic(_("Paid to"), clinic.legal_name, clinic.address_lines, tuple(fields))
