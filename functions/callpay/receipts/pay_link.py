"""The pay-later link e-mail: what it says, rendered in the patient's language with the
receipts' catalogs, templates and formats (render.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from callpay.receipts.catalog import translate
from callpay.receipts.locales import language_tag, resolve_locale, text_direction
from callpay.receipts.receipt import ClinicDetails
from callpay.receipts.render import (
    RenderedReceipt,
    environments,
    format_amount,
    format_issued_at,
    one_line,
)

# Why the patient is asked: a payment, a hold, a hold asked for again, or their bank
# wanting them to confirm a charge the clinic tried without them.
LinkReason = Literal["payment", "hold", "hold_again", "authentication"]


class PayLinkNotice(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: LinkReason
    amount: int
    currency: str
    description: str
    clinic: ClinicDetails = ClinicDetails()
    url: str
    expires_at: datetime

    @field_validator("url")
    @classmethod
    def _web_link(cls, value: str) -> str:
        # Autoescaping does not stop a javascript: URL in an href; only web links go in.
        if not value.lower().startswith(("https://", "http://")):
            raise ValueError("url must be an http(s) URL")
        return value


def render_pay_link(notice: PayLinkNotice, locale: str) -> RenderedReceipt:
    """The link e-mail in `locale` (any tag resolve_locale accepts; others get English)."""
    locale = resolve_locale(locale, None)

    def t(message_id: str, **values: str) -> str:
        return translate(locale, message_id, **values)

    clinic = notice.clinic.legal_name or t("pay_link_your_clinic")
    direction = text_direction(locale)
    context = {
        "lang": language_tag(locale),
        "dir": direction,
        "start": "right" if direction == "rtl" else "left",
        "title": t("pay_link_title"),
        "clinic_name": notice.clinic.legal_name,
        "intro": t(
            f"pay_link_intro_{notice.reason}",
            clinic=clinic,
            amount=format_amount(notice.amount, notice.currency, locale),
            description=notice.description,
        ),
        "action": t("pay_link_action"),
        "url": notice.url,
        # The plain-text form in the locale's punctuation ("... : https://..." in French).
        "link_line": t("label_value", label=t("pay_link_action"), value=notice.url),
        "expires": t(
            "pay_link_expires",
            date=format_issued_at(notice.expires_at, notice.clinic.time_zone, locale),
        ),
        "closing": t("pay_link_ignore"),
    }
    html, text = environments()
    subject = t("pay_link_subject", clinic=clinic)
    return RenderedReceipt(
        subject=one_line(subject),
        html=html.get_template("pay_link.html.j2").render(context),
        text=text.get_template("pay_link.txt.j2").render(context),
        locale=locale,
        direction=direction,
    )
