"""Amounts, counts, dates and times as each receipt locale writes them (Babel, CLDR).

Numbers are written in the locale's default numbering system, as CLDR (and so ICU and
browsers) does: Dari and Kurdish (Sorani) with Arabic-Indic digits, Burmese and Bengali
with their own. Babel knows each locale's numbering system and its separators but not its
digits, so those come from NATIVE_ZERO.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from callpay.domain.money import minor_unit_exponent
from callpay.receipts.catalog import translations
from callpay.receipts.locales import cldr_locale

# The zero of each non-Latin numbering system a supported locale uses by default
# (CLDR numberingSystems.xml); Unicode keeps each system's ten digits consecutive.
NATIVE_ZERO = {
    "arab": "\u0660",  # Arabic-Indic
    "arabext": "\u06f0",  # Extended Arabic-Indic (Persian, Dari)
    "beng": "\u09e6",  # Bengali
    "mymr": "\u1040",  # Myanmar
}


def native_digits(text: str, locale: str) -> str:
    """`text` with ASCII digits in the locale's default numbering system."""
    system = cldr_locale(locale).default_numbering_system
    if system == "latn":
        return text
    zero = ord(NATIVE_ZERO[system])
    return text.translate({ord("0") + digit: zero + digit for digit in range(10)})


def format_amount(amount: int, currency: str, locale: str) -> str:
    """Minor units as the locale writes money: 123450 EUR in fr is '1 234,50 €'."""
    from babel.numbers import format_currency  # noqa: PLC0415

    # Decimal, never float: 0.1 + 0.2 must not appear on a receipt.
    value = Decimal(amount).scaleb(-minor_unit_exponent(currency))
    formatted = format_currency(
        value,
        currency.upper(),
        locale=cldr_locale(locale),
        # CLDR gives a few currencies fewer digits than Stripe (ISK, LBP...): show, never round.
        decimal_quantization=False,
        numbering_system="default",
    )
    return native_digits(formatted, locale)


def format_count(count: int, locale: str) -> str:
    """A whole number in the locale's digits and grouping."""
    from babel.numbers import format_decimal  # noqa: PLC0415

    formatted = format_decimal(count, locale=cldr_locale(locale), numbering_system="default")
    return native_digits(formatted, locale)


def format_issued_at(issued_at: datetime, time_zone: str, locale: str) -> str:
    """The instant as a date and time in the clinic's zone, named so a traveller is not misled."""
    from babel.dates import (  # noqa: PLC0415
        format_date,
        format_time,
        get_datetime_format,
        get_timezone_name,
    )

    cldr = cldr_locale(locale)
    local = issued_at.astimezone(ZoneInfo(time_zone))
    # CLDR's own joining order ("{1}, {0}"; Vietnamese puts the time first), as
    # babel.dates.format_datetime does, but a long date with a short time.
    joined = (
        str(get_datetime_format("long", locale=cldr))
        .replace("'", "")
        .replace("{0}", format_time(local, "short", locale=cldr))
        .replace("{1}", format_date(local, "long", locale=cldr))
    )
    zone = get_timezone_name(local, "long", locale=cldr)
    _ = translations(locale).gettext
    # TRANSLATORS: a date and time, then the name of the time zone they are in, e.g.
    # "March 2, 2025, 10:30 AM (Australian Eastern Daylight Time)".
    shown = _("%(datetime)s (%(zone)s)") % {"datetime": joined, "zone": zone}
    return native_digits(shown, locale)
