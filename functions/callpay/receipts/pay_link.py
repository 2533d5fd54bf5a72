"""The pay-later link e-mail: what it says, rendered in the patient's language with the
receipts' catalog, templates and formats (render.py, formats.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from callpay.receipts.catalog import translations
from callpay.receipts.formats import format_amount, format_issued_at
from callpay.receipts.locales import language_tag, negotiate, text_direction
from callpay.receipts.receipt import ClinicDetails
from callpay.receipts.render import RenderedReceipt, environments, one_line

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
    """The link e-mail in `locale`: a supported locale, or a tag `negotiate` matches; else
    English."""
    locale = negotiate([locale])
    _ = translations(locale).gettext
    values = {
        # TRANSLATORS: stands for the clinic's name in a pay-later link e-mail when the
        # clinic has not given its legal name.
        "clinic": notice.clinic.legal_name or _("Your clinic"),
        "amount": format_amount(notice.amount, notice.currency, locale),
        "description": notice.description,
    }
    intros = {
        # TRANSLATORS: a pay-later link e-mail; %(clinic)s is the clinic's name, %(amount)s
        # an amount with its currency, %(description)s what the clinician typed.
        "payment": _("%(clinic)s asks you to pay %(amount)s for %(description)s."),
        # TRANSLATORS: as above, for a card hold: the amount is authorised (reserved) on the
        # card now and the final amount charged later.
        "hold": _(
            "%(clinic)s asks you to authorise a hold of %(amount)s on your card for "
            "%(description)s. The final amount is charged after your consultation."
        ),
        # TRANSLATORS: as above, when the previous hold on the card ended (it lapsed or the
        # clinic asked for a new one).
        "hold_again": _(
            "%(clinic)s asks you to authorise your card again for %(description)s: the "
            "previous hold of %(amount)s has ended."
        ),
        # TRANSLATORS: as above, when the clinic charged a card the patient had agreed to
        # keep, and the patient's bank wants the patient to confirm it (3-D Secure).
        "authentication": _(
            "Your bank asks you to confirm a payment of %(amount)s to %(clinic)s for "
            "%(description)s."
        ),
    }
    direction = text_direction(locale)
    # TRANSLATORS: the link's text in a pay-later link e-mail.
    action = _("Open the payment page")
    # TRANSLATORS: the heading and subject of a pay-later link e-mail.
    title = _("Your payment link")
    context = {
        "lang": language_tag(locale),
        "dir": direction,
        "start": "right" if direction == "rtl" else "left",
        "title": title,
        "clinic_name": notice.clinic.legal_name,
        "intro": intros[notice.reason] % values,
        "action": action,
        "url": notice.url,
        # The plain-text form in the locale's punctuation ("... : https://..." in French).
        "link_line": _("%(label)s: %(value)s") % {"label": action, "value": notice.url},
        # TRANSLATORS: %(date)s is when the link stops working: a date, time and time zone.
        "expires": _("This link works until %(date)s.")
        % {"date": format_issued_at(notice.expires_at, notice.clinic.time_zone, locale)},
        # TRANSLATORS: the last sentence of a pay-later link e-mail.
        "closing": _(
            "If you did not expect this email, you can ignore it. Nothing is charged unless "
            "you pay on the page."
        ),
    }
    html, text = environments(locale)
    return RenderedReceipt(
        subject=one_line(
            title if not notice.clinic.legal_name else f"{title} · {values['clinic']}"
        ),
        html=html.get_template("pay_link.html.j2").render(context),
        text=text.get_template("pay_link.txt.j2").render(context),
        locale=locale,
        direction=direction,
    )
