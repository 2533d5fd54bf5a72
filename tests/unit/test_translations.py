"""Every locale's receipts, and the catalogs behind them (gettext .po sources, shipped .mo).

For every supported locale a payment and a refund receipt are rendered and read as a
patient would: the words are the catalog's (or its fallback's, never a key, never English
where a translation exists), amounts and dates are Babel's for that locale in its own
digits, and the page says its language and direction. Then the catalogs themselves: the
.pot holds what the code says, each .po follows it, each shipped .mo is exactly what
pybabel compile makes of its .po, and the machine-made mark is counted and survives
Babel's tools.
"""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.numbers import format_currency

from callpay.receipts import SUPPORTED_LOCALES, ClinicDetails, Receipt, render
from callpay.receipts.catalog import compiled_path, translations
from callpay.receipts.formats import NATIVE_ZERO, native_digits
from callpay.receipts.locales import DEFAULT_LOCALE, cldr_locale, fallbacks
from devtools.paths import REPO_ROOT
from devtools.translations import (
    MACHINE_MADE,
    TEMPLATE,
    TRANSLATED_LOCALES,
    counts,
    is_machine_made,
    is_translated,
    messages,
    read,
    report,
    source_path,
)
from tests.support.receipt_text import plain, visible

# The issue's right-to-left languages, independent of what Babel says.
RIGHT_TO_LEFT = {"ar", "fa_AF", "he", "ur", "ckb"}
# Locales whose CLDR default numbering system is not Latin digits.
NATIVE_DIGITS = {"fa_AF": "arabext", "ckb": "arab", "my": "mymr", "bn": "beng"}
# 23:30 UTC on 1 March 2025 is 10:30 on 2 March in Sydney.
ISSUED_AT = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
ZONE = "Australia/Sydney"


def receipt(kind: str) -> Receipt:
    return Receipt.model_validate(
        {
            "receipt_number": "R-20250302-1a2b3c4d",
            "kind": kind,
            "issued_at": ISSUED_AT,
            "payment_request_id": "pr_1",
            "amount": 123456,
            "currency": "eur",
            "description": "Telehealth consultation",
            "clinic": ClinicDetails(
                legal_name="Harbour Health",
                tax_id="12 345 678",
                provider_name="Dr Lee",
                provider_number="2123456A",
                time_zone=ZONE,
            ),
            "card_brand": None,
            "card_last4": "4242",
            "charge_reference": "ch_3PqRsT",
            "receipt_url": "https://pay.example.test/receipts/pr_1",
            "refunded_amount": 30000 if kind == "refund" else None,
        }
    )


def expected_amount(amount: int, locale: str) -> str:
    """Babel's own formatting of the amount in the locale, in its default digits."""
    cldr = Locale.parse(locale)
    formatted = format_currency(
        amount / 100, "EUR", locale=cldr, numbering_system="default", decimal_quantization=False
    )
    return plain(native_digits(formatted, locale))


Key = str | tuple[str, str]


def key_of(message: Message) -> Key:
    """A message as SHOWN names it: its msgid (the singular one), with its context if any."""
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return (message.context, msgid) if message.context else msgid


def translation_of(key: Key, locale: str) -> str | tuple[str, ...] | None:
    """What the .po of the locale or of its fallbacks says for a message; None: English."""
    if locale == DEFAULT_LOCALE:
        return None
    for name in (locale, *fallbacks(locale)):
        for message in messages(catalog(name)):
            if key_of(message) == key and is_translated(message):
                string = message.string
                return tuple(string) if isinstance(string, (list, tuple)) else str(string)
    return None


_CATALOGS: dict[str, Catalog] = {}


def catalog(locale: str) -> Catalog:
    if locale not in _CATALOGS:
        _CATALOGS[locale] = read(source_path(locale), locale)
    return _CATALOGS[locale]


# The words each receipt below shows, as msgids (with their context where they have one).
BOTH: list[Key] = [
    "Receipt number",
    "Date",
    ("payment method", "Card"),
    "Reference",
    "Description",
    "Amount",
    "Paid to",
    "Tax ID",
    "Provider",
    "Provider number",
    "View or download this receipt",
]
# The plain-text part has no table, so no amount column heading.
HTML_ONLY: set[Key] = {"Amount"}
SHOWN: dict[str, list[Key]] = {
    "payment": ["Payment receipt", *BOTH, "Paid with", "Total", "Thank you for your payment."],
    "refund": [
        "Refund receipt",
        *BOTH,
        "Refunded to",
        "Amount paid",
        "Total refunded",
        "Amount paid after refund",
    ],
}


@pytest.mark.parametrize("kind", ["payment", "refund"])
@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_receipt_in_every_locale(locale: str, kind: str) -> None:
    rendered = render(receipt(kind), locale)
    html, text = visible(rendered.html), plain(rendered.text)
    direction = "rtl" if locale in RIGHT_TO_LEFT else "ltr"

    assert rendered.locale == locale
    assert rendered.direction == direction == cldr_locale(locale).text_direction
    assert f'<html lang="{locale.replace("_", "-")}" dir="{direction}">' in rendered.html

    # Amounts and the date as Babel writes them in this locale, in its own digits.
    for amount in (123456, 30000, 93456) if kind == "refund" else (123456,):
        assert expected_amount(amount, locale) in html
        assert expected_amount(amount, locale) in text
    local = ISSUED_AT.astimezone(ZoneInfo(ZONE))
    date = plain(native_digits(format_date(local, "long", locale=cldr_locale(locale)), locale))
    time = plain(native_digits(format_time(local, "short", locale=cldr_locale(locale)), locale))
    (date_line,) = [line for line in text.splitlines() if date in line]
    assert time in date_line
    if locale in NATIVE_DIGITS:
        assert not re.search(r"[0-9]", date_line), date_line

    # The catalog's words (or its fallback's), never a key, never English where translated.
    for key in SHOWN[kind]:
        english = key[1] if isinstance(key, tuple) else key
        translated = translation_of(key, locale)
        words = plain(translated) if isinstance(translated, str) else english
        assert words in html, (key, words)
        assert words in text or key in HTML_ONLY, (key, words)
        if locale != DEFAULT_LOCALE:
            assert translated is not None, f"{locale}: {english!r} is not translated"
            if words != english and len(english) > 6:
                assert english not in html and english not in text, english
    assert "%(" not in rendered.html + rendered.text + rendered.subject
    assert "{{" not in rendered.html + rendered.text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_subject_and_refund_note_come_from_the_catalog(locale: str) -> None:
    catalog_words = translations(locale)
    refund = render(receipt("refund"), locale)
    values = {"clinic": "Harbour Health", "number": "R-20250302-1a2b3c4d"}

    assert (
        refund.subject
        == catalog_words.gettext("Your refund receipt from %(clinic)s #%(number)s") % values
    )
    note = catalog_words.ngettext(
        "Refunds usually reach your card within %(low)s to %(high)s business day.",
        "Refunds usually reach your card within %(low)s to %(high)s business days.",
        10,
    )
    five, ten = native_digits("5", locale), native_digits("10", locale)
    assert plain(note % {"low": five, "high": ten}) in plain(refund.text)
    if locale != DEFAULT_LOCALE:
        assert "business days" not in refund.text


def test_rtl_receipts_align_to_the_right_and_isolate_amounts() -> None:
    rendered = render(receipt("payment"), "ckb")

    assert "text-align:right" in rendered.html
    assert "<bdi>" in rendered.html


def test_partial_catalogs_take_what_they_lack_from_their_fallback_not_english() -> None:
    belgian = plain(render(receipt("payment"), "nl_BE").text)
    assert "Betaald met: Bankkaart •••• 4242" in belgian  # Belgian Dutch's own word
    assert "RIZIV-nummer: 2123456A" in belgian
    assert "Bedankt voor uw betaling." in belgian  # from Dutch

    montenegrin = render(receipt("refund"), "cnr")
    assert montenegrin.subject.startswith("Vaša potvrda o povratu novca od Harbour Health")
    assert "u roku od 5 do 10 radnih dana" in montenegrin.text  # a plural, from sr_Latn
    assert 'lang="cnr"' in montenegrin.html

    hong_kong = plain(render(receipt("payment"), "zh_Hant_HK").text)
    assert "商業登記號碼：12 345 678" in hong_kong  # noqa: RUF001 - full-width colon
    assert "收據編號：R-20250302-1a2b3c4d" in hong_kong  # noqa: RUF001 - from zh_Hant


# --- digits ---------------------------------------------------------------------------------


def test_every_locale_uses_latin_digits_or_a_system_we_have_digits_for() -> None:
    systems = {locale: cldr_locale(locale).default_numbering_system for locale in SUPPORTED_LOCALES}

    assert {locale: system for locale, system in systems.items() if system != "latn"} == (
        NATIVE_DIGITS
    )
    assert set(NATIVE_DIGITS.values()) <= set(NATIVE_ZERO)


@pytest.mark.parametrize("system", sorted(NATIVE_ZERO))
def test_native_digits_are_unicode_digits_of_their_system(system: str) -> None:
    zero = ord(NATIVE_ZERO[system])
    for digit in range(10):
        character = chr(zero + digit)
        assert unicodedata.digit(character) == digit
        assert "DIGIT" in unicodedata.name(character)


def test_dari_amount_and_date_in_extended_arabic_indic_digits() -> None:
    text = plain(render(receipt("payment"), "fa_AF").text)

    assert "€ \u06f1\u066c\u06f2\u06f3\u06f4\u066b\u06f5\u06f6" in text  # € 1,234.56
    assert "\u06f2 مارچ \u06f2\u06f0\u06f2\u06f5" in text  # 2 March 2025


# --- the catalogs ---------------------------------------------------------------------------


def extracted() -> set[tuple[str | None, str | tuple[str, ...]]]:
    """What `pybabel extract -F babel.cfg` finds in the code and templates today."""
    with (REPO_ROOT / "babel.cfg").open() as file:
        method_map, options_map = parse_mapping_cfg(file)
    found = extract_from_dir(str(REPO_ROOT / "functions/callpay/receipts"), method_map, options_map)
    return {(context, message) for _, _, message, _, context in found}


def keys(catalog: Catalog) -> set[tuple[str | None, str | tuple[str, ...]]]:
    return {
        (message.context, message.id if isinstance(message.id, str) else tuple(message.id))
        for message in messages(catalog)
    }


def test_the_template_holds_every_message_of_the_code_and_templates() -> None:
    assert keys(read(TEMPLATE)) == extracted(), "run make translations"


@pytest.mark.parametrize("locale", TRANSLATED_LOCALES)
def test_each_catalog_follows_the_template(locale: str) -> None:
    found = catalog(locale)

    assert keys(found) == keys(read(TEMPLATE)), "run make translations"
    assert str(found.locale_identifier) == locale
    assert not [message.id for message in messages(found) if message.fuzzy], "review fuzzy"
    assert not [error for _, errors in found.check() for error in errors]


@pytest.mark.parametrize("locale", TRANSLATED_LOCALES)
def test_the_shipped_mo_is_what_pybabel_compile_makes_of_the_po(locale: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, catalog(locale))

    assert compiled_path(locale).read_bytes() == compiled.getvalue(), "run make translations"


@pytest.mark.parametrize("locale", TRANSLATED_LOCALES)
def test_every_message_is_translated_in_the_locale_or_its_fallback(locale: str) -> None:
    template = messages(read(TEMPLATE))
    untranslated = [key_of(m) for m in template if translation_of(key_of(m), locale) is None]

    assert untranslated == []


def test_no_catalog_for_english_the_source_language() -> None:
    assert DEFAULT_LOCALE not in TRANSLATED_LOCALES
    assert not source_path(DEFAULT_LOCALE).exists()


# --- the machine-made mark ------------------------------------------------------------------


def marked(message: Message) -> Message:
    message.user_comments = [MACHINE_MADE]
    return message


def test_the_mark_is_counted_survives_pybabel_update_and_is_compiled() -> None:
    template = Catalog(domain="receipts")
    for text in ("Total", "Date", "Tax ID"):
        template.add(text)
    french = Catalog(locale="fr", domain="receipts")
    french["Total"] = marked(Message("Total", "Total"))
    french["Date"] = marked(Message("Date", "Date"))
    french["Tax ID"] = Message("Tax ID", "Identifiant fiscal")  # reviewed: no mark
    french.update(template)  # what pybabel update does

    assert [is_machine_made(message) for message in messages(french)] == [True, True, False]
    compiled = io.BytesIO()
    write_mo(compiled, french)  # what pybabel compile does: no translation is skipped
    assert compiled.getvalue().count(b"Identifiant fiscal") == 1
    assert compiled.getvalue().count(b"Total") == 2


def test_the_counts_add_up_to_the_report() -> None:
    rows = [counts(locale) for locale in TRANSLATED_LOCALES]
    total_messages = len(list(messages(read(TEMPLATE))))

    assert len(SUPPORTED_LOCALES) == 63
    assert all(row.messages == total_messages for row in rows)
    assert all(row.machine_made <= row.translated for row in rows)
    line = report().splitlines()[-1]
    assert f"{sum(row.translated for row in rows)} translations" in line
    assert f"{sum(row.machine_made for row in rows)} of them machine-made" in line
