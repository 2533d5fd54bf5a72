from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from callpay.receipts import (
    SUPPORTED_LOCALES,
    ClinicDetails,
    Receipt,
    ReceiptLine,
    accept_language,
    match,
    negotiate,
    render,
)
from callpay.receipts.formats import format_amount, format_issued_at
from callpay.receipts.locales import fallbacks
from tests.support.receipt_text import plain, visible

# 23:30 UTC on 1 March 2025 is 10:30 on 2 March in Sydney (AEDT, UTC+11).
PAID_AT = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
AEDT = timezone(timedelta(hours=11))

FULL_CLINIC = ClinicDetails(
    legal_name="Harbour Health Pty Ltd",
    address="Level 2, 1 Example Street\nSydney NSW 2000\nAustralia",
    tax_id="12 345 678 901",
    tax_id_label="ABN",
    provider_name="Dr Jane Citizen",
    provider_number="2123456A",
    tax_statement="GST-free health service",
    time_zone="Australia/Sydney",
)


def receipt(**changes: object) -> Receipt:
    fields: dict[str, object] = {
        "receipt_number": "1042-7781",
        "kind": "payment",
        "issued_at": PAID_AT,
        "payment_request_id": "pr_123",
        "amount": 8000,
        "currency": "aud",
        "description": "Telehealth consultation",
        "clinic": FULL_CLINIC,
        "card_brand": "visa",
        "card_last4": "4242",
        "charge_reference": "ch_3PqRsT",
        "receipt_url": "https://pay.example.test/receipts/pr_123",
    }
    fields.update(changes)
    return Receipt.model_validate(fields)


# --- the first ten languages keep their wording (every locale: test_translations.py) -------

PER_LANGUAGE = [
    # locale, amount, currency, translated title, the amount as the locale writes it
    ("en", 8000, "aud", "Payment receipt", "A$80.00"),
    ("fr", 123450, "eur", "Reçu de paiement", "1 234,50 €"),
    ("de", 123450, "eur", "Zahlungsbeleg", "1.234,50 €"),
    ("es", 123450, "eur", "Recibo de pago", "1.234,50 €"),
    ("it", 123450, "eur", "Ricevuta di pagamento", "1.234,50 €"),
    ("nl", 123450, "eur", "Betalingsbewijs", "€ 1.234,50"),
    ("zh_Hans", 12800, "cny", "付款收据", "¥128.00"),
    # Babel (CLDR) writes the yen full-width in Japanese: U+FFE5, not U+00A5.
    ("ja", 8000, "jpy", "領収書", "￥8,000"),
    ("ar", 25000, "aed", "إيصال الدفع", "250.00 د.إ."),
    ("vi", 1500000, "vnd", "Biên lai thanh toán", "1.500.000 ₫"),
]


@pytest.mark.parametrize(("locale", "amount", "currency", "title", "formatted"), PER_LANGUAGE)
def test_receipt_is_rendered_in_the_language_with_its_money_format(
    locale: str, amount: int, currency: str, title: str, formatted: str
) -> None:
    rendered = render(receipt(amount=amount, currency=currency), locale)

    assert rendered.locale == locale
    assert f"<title>{title}</title>" in rendered.html
    assert rendered.text.startswith(title + "\n")
    assert formatted in visible(rendered.html)
    assert formatted in plain(rendered.text)
    assert "1042-7781" in rendered.subject
    assert "Harbour Health Pty Ltd" in rendered.subject


def test_french_amount_uses_babels_no_break_spaces() -> None:
    amount = format_amount(123450, "eur", "fr")

    assert plain(amount) == "1 234,50 €"
    assert " " not in amount  # no breakable space: the amount never wraps across lines


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "formatted"),
    [
        (1, "usd", "en", "$0.01"),
        (8000, "jpy", "en", "¥8,000"),
        (8000, "jpy", "ja", "￥8,000"),
        (1230, "kwd", "en", "KWD1.230"),
        # CLDR gives ISK no decimals; Stripe counts two: 12300 is 123 krónur.
        (12300, "isk", "en", "ISK123"),
        (1500000, "vnd", "vi", "1.500.000 ₫"),
    ],
)
def test_amounts_are_minor_units_in_the_stripe_exponent(
    amount: int, currency: str, locale: str, formatted: str
) -> None:
    assert plain(format_amount(amount, currency, locale)) == formatted


def test_arabic_receipt_is_right_to_left() -> None:
    rendered = render(receipt(), "ar")

    assert rendered.direction == "rtl"
    assert '<html lang="ar" dir="rtl">' in rendered.html
    assert "text-align:right" in rendered.html
    assert rendered.subject == "إيصالك من Harbour Health Pty Ltd رقم 1042-7781"


def test_left_to_right_languages_say_so() -> None:
    rendered = render(receipt(), "fr")

    assert rendered.direction == "ltr"
    assert '<html lang="fr" dir="ltr">' in rendered.html


def test_chinese_receipt_is_simplified_chinese_with_a_bcp47_lang() -> None:
    rendered = render(receipt(amount=12800, currency="cny"), "zh-CN")

    assert rendered.locale == "zh_Hans"
    assert '<html lang="zh-Hans" dir="ltr">' in rendered.html
    assert rendered.subject == "您在Harbour Health Pty Ltd的付款收据 #1042-7781"
    assert "合计：¥128.00" in rendered.text  # noqa: RUF001 - Chinese colon
    assert "收据编号：1042-7781" in rendered.text  # noqa: RUF001 - Chinese colon


def test_vietnamese_receipt_formats_dong_without_decimals() -> None:
    rendered = render(receipt(amount=1500000, currency="vnd"), "vi-VN")

    assert rendered.locale == "vi"
    assert "Tổng cộng: 1.500.000 ₫" in plain(rendered.text)


def test_unsupported_render_locale_falls_back_to_english() -> None:
    # Kurmanji (Latin script) is not Sorani: no catalog, so English.
    rendered = render(receipt(), "ku-TR")

    assert rendered.locale == "en"
    assert rendered.subject == "Your receipt from Harbour Health Pty Ltd #1042-7781"


# --- what the receipt says ------------------------------------------------------------------


def test_english_receipt_shows_every_detail_a_clinic_set() -> None:
    text = plain(render(receipt(), "en").text)

    assert text.splitlines() == [
        "Payment receipt",
        "Harbour Health Pty Ltd",
        "",
        "Receipt number: 1042-7781",
        "Date: March 2, 2025, 10:30 AM (Australian Eastern Daylight Time)",
        "Paid with: Visa •••• 4242",
        "Reference: ch_3PqRsT",
        "",
        "Description",
        "- Telehealth consultation: A$80.00",
        "",
        "Total: A$80.00",
        "GST-free health service",
        "",
        "Paid to",
        "Harbour Health Pty Ltd",
        "Level 2, 1 Example Street",
        "Sydney NSW 2000",
        "Australia",
        "ABN: 12 345 678 901",
        "Provider: Dr Jane Citizen",
        "Provider number: 2123456A",
        "",
        "View or download this receipt: https://pay.example.test/receipts/pr_123",
        "",
        "Thank you for your payment.",
    ]


def test_html_receipt_shows_the_same_details() -> None:
    html = visible(render(receipt(), "en").html)

    for expected in [
        "Receipt number 1042-7781",
        "Date March 2, 2025, 10:30 AM (Australian Eastern Daylight Time)",
        "Paid with Visa •••• 4242",
        "Reference ch_3PqRsT",
        "Telehealth consultation A$80.00",
        "Total A$80.00",
        "GST-free health service",
        "Level 2, 1 Example Street Sydney NSW 2000 Australia",
        "ABN 12 345 678 901",
        "Provider Dr Jane Citizen",
        "Provider number 2123456A",
        "Thank you for your payment.",
    ]:
        assert expected in html
    assert '<a href="https://pay.example.test/receipts/pr_123"' in render(receipt(), "en").html


def test_time_is_shown_in_the_clinics_time_zone() -> None:
    # Same instant, two clinics: Sydney is already on 2 March, UTC still on 1 March.
    sydney = plain(format_issued_at(PAID_AT, "Australia/Sydney", "en"))
    utc = plain(format_issued_at(PAID_AT, "UTC", "en"))
    winter = plain(format_issued_at(PAID_AT + timedelta(days=120), "Australia/Sydney", "en"))

    assert sydney == "March 2, 2025, 10:30 AM (Australian Eastern Daylight Time)"
    assert utc == "March 1, 2025, 11:30 PM (Coordinated Universal Time)"
    assert winter == "June 30, 2025, 9:30 AM (Australian Eastern Standard Time)"


def test_time_zone_defaults_to_utc_and_any_aware_instant_is_accepted() -> None:
    paris = timezone(timedelta(hours=1))
    shown = render(
        receipt(issued_at=datetime(2025, 3, 2, 0, 30, tzinfo=paris), clinic=ClinicDetails()), "fr"
    )

    assert "Date : 1 mars 2025, 23:30 (temps universel coordonné)" in plain(shown.text)


def test_date_in_japanese_and_german() -> None:
    assert format_issued_at(PAID_AT, "Australia/Sydney", "ja") == (
        "2025年3月2日 10:30（オーストラリア東部夏時間）"  # noqa: RUF001 - full-width
    )
    assert format_issued_at(PAID_AT, "Europe/Berlin", "de") == (
        "2. März 2025, 00:30 (Mitteleuropäische Normalzeit)"
    )


def test_script_in_a_description_is_text_in_html_and_verbatim_in_plain_text() -> None:
    description = 'Consult & review <script>alert("x")</script>'
    rendered = render(receipt(description=description), "en")

    assert "<script" not in rendered.html
    assert "Consult &amp; review &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in rendered.html
    assert f"- {description}: A$80.00" in rendered.text
    assert "&amp;" not in rendered.text
    assert "&lt;" not in rendered.text


def test_clinic_details_with_markup_are_escaped_too() -> None:
    clinic = ClinicDetails(
        legal_name="Smith & Jones <b>Clinic</b>",
        address="<img src=x onerror=alert(1)>",
        provider_name="Dr <i>O'Brien</i>",
    )
    rendered = render(receipt(clinic=clinic), "en")

    assert "<b>" not in rendered.html
    assert "<img" not in rendered.html
    assert "<i>" not in rendered.html
    assert "Smith &amp; Jones &lt;b&gt;Clinic&lt;/b&gt;" in rendered.html
    # The subject is a plain header: the name as typed.
    assert rendered.subject == "Your receipt from Smith & Jones <b>Clinic</b> #1042-7781"
    assert "Provider: Dr <i>O'Brien</i>" in rendered.text


def test_optional_details_left_unset_leave_no_empty_labels() -> None:
    bare = receipt(
        clinic=ClinicDetails(),
        card_brand=None,
        card_last4=None,
        charge_reference=None,
        receipt_url=None,
    )
    rendered = render(bare, "en")

    assert rendered.subject == "Your receipt #1042-7781"
    for absent in [
        "Paid to",
        "Paid with",
        "Reference",
        "Tax ID",
        "ABN",
        "Provider",
        "View or download",
        "<a ",
        "GST",
        "None",
    ]:
        assert absent not in rendered.html
        assert absent not in rendered.text
    assert plain(rendered.text).splitlines() == [
        "Payment receipt",
        "",
        "Receipt number: 1042-7781",
        "Date: March 1, 2025, 11:30 PM (Coordinated Universal Time)",
        "",
        "Description",
        "- Telehealth consultation: A$80.00",
        "",
        "Total: A$80.00",
        "",
        "Thank you for your payment.",
    ]


def test_blank_clinic_settings_count_as_unset() -> None:
    clinic = ClinicDetails(legal_name="  ", address="\n \n", tax_id="", provider_number=" ")

    assert clinic == ClinicDetails()
    assert render(receipt(clinic=clinic), "en").subject == "Your receipt #1042-7781"


def test_tax_id_without_a_local_name_gets_the_translated_generic_label() -> None:
    clinic = ClinicDetails(legal_name="Clinique du Parc", tax_id="FR40303265045")

    assert "Identifiant fiscal : FR40303265045" in plain(render(receipt(clinic=clinic), "fr").text)
    assert "Tax ID: FR40303265045" in render(receipt(clinic=clinic), "en").text


def test_some_clinic_details_without_a_legal_name() -> None:
    text = render(receipt(clinic=ClinicDetails(provider_name="Dr Lee")), "en").text

    assert "Paid to\nProvider: Dr Lee\n" in text


def test_card_without_a_known_brand() -> None:
    assert (
        "Paid with: Card •••• 0005"
        in render(receipt(card_brand="unknown", card_last4="0005"), "en").text
    )
    assert "Moyen de paiement : Carte •••• 0005" in plain(
        render(receipt(card_brand=None, card_last4="0005"), "fr").text
    )
    assert (
        "Paid with: American Express •••• 0005"
        in render(receipt(card_brand="amex", card_last4="0005"), "en").text
    )


def test_invoice_lines_are_listed_instead_of_the_description() -> None:
    lines = (
        ReceiptLine(description="Invoice 1001 - consultation", amount=6000),
        ReceiptLine(description="Invoice 1002 - pathology", amount=2500),
        ReceiptLine(description="Concession discount", amount=-500),
    )
    rendered = render(receipt(line_items=lines, description="Invoices"), "en")

    assert "- Invoice 1001 - consultation: A$60.00\n" in rendered.text
    assert "- Invoice 1002 - pathology: A$25.00\n" in rendered.text
    assert "- Concession discount: -A$5.00\n" in rendered.text
    assert "Invoices" not in rendered.text.replace("Invoice 100", "")
    assert "Total: A$80.00" in rendered.text
    assert rendered.html.count('white-space:pre-line;">') == 3


# --- refunds --------------------------------------------------------------------------------


def test_partial_refund_receipt() -> None:
    rendered = render(receipt(kind="refund", refunded_amount=3000), "en")

    assert rendered.subject == "Your refund receipt from Harbour Health Pty Ltd #1042-7781"
    assert "<title>Refund receipt</title>" in rendered.html
    assert rendered.text.startswith("Refund receipt\n")
    assert "Refunded to: Visa •••• 4242" in rendered.text
    assert "Amount paid: A$80.00\nTotal refunded: A$30.00\nAmount paid after refund: A$50.00\n" in (
        rendered.text
    )
    assert "Refunds usually reach your card within 5 to 10 business days." in rendered.text
    assert "Thank you for your payment." not in rendered.text
    assert "Paid with" not in rendered.html


def test_full_refund_receipt_in_german() -> None:
    rendered = render(receipt(kind="refund", refunded_amount=8000), "de-AT")

    assert rendered.subject == "Ihr Erstattungsbeleg von Harbour Health Pty Ltd Nr. 1042-7781"
    assert "Insgesamt erstattet: 80,00 AU$" in plain(rendered.text)
    assert "nach Erstattung" not in rendered.text


def test_refund_receipt_in_japanese_yen() -> None:
    rendered = render(
        receipt(kind="refund", amount=8000, refunded_amount=8000, currency="jpy"), "ja"
    )

    assert rendered.subject == "Harbour Health Pty Ltdからの返金明細書 #1042-7781"
    assert "返金合計：￥8,000" in rendered.text  # noqa: RUF001 - Japanese colon


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "refund"}, "needs refunded_amount"),
        ({"kind": "refund", "refunded_amount": 9000}, "cannot exceed"),
        ({"refunded_amount": 100}, "refund receipts only"),
        ({"issued_at": datetime(2025, 3, 1, 23, 30)}, "timezone-aware"),
        ({"currency": "xyz"}, "unsupported currency"),
        ({"card_last4": "42"}, "four digits"),
        ({"receipt_url": "javascript:alert(1)"}, "http(s) URL"),
        ({"amount": -1}, "greater than or equal to 0"),
        ({"clinic": {"time_zone": "Mars/Olympus_Mons"}}, "unknown IANA time zone"),
    ],
)
def test_receipt_refuses_what_it_could_not_show_truthfully(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        receipt(**changes)


def test_receipt_normalises_currency_and_instant() -> None:
    made = receipt(currency=" EUR ", issued_at=datetime(2025, 3, 2, 10, 30, tzinfo=AEDT))

    assert made.currency == "eur"
    assert made.issued_at == PAID_AT
    assert made.issued_at.tzinfo == UTC


# --- which language -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("fr", "fr"),
        ("fr-FR", "fr"),
        ("fr-US", "fr"),  # no CLDR locale, still French
        ("de_AT", "de"),
        ("de_DE.UTF-8", "de"),
        ("en-US-u-ca-gregory", "en"),  # an extension does not choose the language
        ("es-419", "es"),
        ("es-MX", "es"),  # CLDR: es_MX -> es_419 -> es
        ("en-GB", "en"),
        ("ar-EG", "ar"),
        ("NL-be", "nl_BE"),
        ("nl-SR", "nl"),
        ("sv-FI", "sv_FI"),
        ("sv-SE", "sv"),
        ("pt-BR", "pt_BR"),
        ("pt", "pt_BR"),  # CLDR's pt is Brazilian
        ("pt-PT", "pt_PT"),
        ("pt-AO", "pt_PT"),  # CLDR: pt_AO -> pt_PT
        ("zh", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh-Hans-HK", "zh_Hans"),  # the script the tag names wins over the territory's
        ("zh-TW", "zh_Hant"),
        ("zh-Hant", "zh_Hant"),
        ("zh-Hant-CN", "zh_Hant"),
        ("zh-HK", "zh_Hant_HK"),
        ("zh-MO", "zh_Hant_HK"),  # CLDR: zh_Hant_MO -> zh_Hant_HK
        ("sr", "sr_Cyrl"),
        ("sr-RS", "sr_Cyrl"),
        ("sr-Latn", "sr_Latn"),
        ("sr-ME", "sr_Latn"),  # Serbian in Montenegro is written in Latin
        ("sh", "sr_Latn"),
        ("cnr", "cnr"),
        ("cnr-ME", "cnr"),
        ("no", "nb"),
        ("nb-NO", "nb"),
        ("nn", "nb"),  # CLDR: nn -> no
        ("prs", "fa_AF"),  # ISO 639-3 Dari
        ("fa", "fa_AF"),
        ("fa-IR", "fa_AF"),
        ("ckb", "ckb"),
        ("ckb-IR", "ckb"),
        ("iw", "he"),  # retired codes
        ("in", "id"),
        ("my-MM", "my"),
        ("am-ET", "am"),
        ("ti-ER", "ti"),
        ("so-KE", "so"),
    ],
)
def test_a_tag_is_matched_through_cldr_chains(tag: str, expected: str) -> None:
    assert match(tag) == expected


@pytest.mark.parametrize(
    "tag",
    [
        "ku",  # Kurmanji, Latin script: the catalog is Sorani
        "ht",  # CLDR's data inherit Haitian Creole from French; a reader may not
        "hi-Latn",
        "uz-Cyrl",  # another script than the catalog's: never served the Latin one
        "uz-AF",  # Uzbek in Afghanistan is written in Arabic script
        "az-IR",
        "mn-Mong",
        "ms-Arab",
        "tlh",
        "x-klingon",
        "*",
        "",
        "123",
        "not a locale",
        "x" * 100,
    ],
)
def test_tags_no_catalog_serves_match_nothing(tag: str) -> None:
    assert match(tag) is None


@pytest.mark.parametrize(
    ("preferences", "expected"),
    [
        (["fr", "de"], "fr"),
        ([None, "it"], "it"),
        (["", "nl-NL"], "nl"),
        # An unsupported preference falls to the next one...
        (["ku", "uz-Cyrl", "de-AT"], "de"),
        # ...and then to English.
        (["tlh", "x" * 100], "en"),
        ([], "en"),
        ([None, None], "en"),
    ],
)
def test_negotiate_takes_the_first_preference_a_catalog_serves(
    preferences: list[str | None], expected: str
) -> None:
    assert negotiate(preferences) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", ["fr-CH", "fr", "en", "de"]),
        ("en;q=0.2, ja;q=0.9", ["ja", "en"]),
        ("es;q=0, it", ["it"]),
        ("de; q = 0.5, nl; q=0.6", ["nl", "de"]),
        ("de;q=0.5, fr;q=0.5, it", ["it", "de", "fr"]),  # equal weights keep their order
        ("en;q=abc, fr;q=0.1", ["fr"]),
        ("nl;q=2", []),
        ("nl;q=nan, de;q=1e-3", ["de"]),
        ("*", []),
        ("", []),
        (None, []),
        (",,;;", []),
    ],
)
def test_accept_language_lists_tags_by_q_value(header: str | None, expected: list[str]) -> None:
    assert accept_language(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pt-BR,pt;q=0.9,de;q=0.8,en;q=0.5", "pt_BR"),
        ("ko-KR, zh-CN;q=0.8, en;q=0.6", "ko"),
        ("zh-TW,zh;q=0.9,en-US;q=0.8", "zh_Hant"),
        ("ku, ar;q=0.5", "ar"),
        ("uz-Cyrl-UZ, ru;q=0.8", "ru"),
        ("tlh, x-pirate;q=0.5", "en"),
    ],
)
def test_the_browsers_languages_are_negotiated_in_order(header: str, expected: str) -> None:
    assert negotiate(accept_language(header)) == expected


def test_fallbacks_for_missing_strings_follow_cldr_and_end_in_english() -> None:
    assert fallbacks("cnr") == ("sr_Latn",)
    assert fallbacks("sv_FI") == ("sv",)
    assert fallbacks("nl_BE") == ("nl",)
    assert fallbacks("zh_Hant_HK") == ("zh_Hant",)
    assert fallbacks("pt_PT") == ("pt_BR",)
    # Scripts never fall back to one another.
    assert fallbacks("sr_Latn") == ()
    assert fallbacks("zh_Hant") == ()
    assert fallbacks("fr") == ()


# --- cold start -----------------------------------------------------------------------------


def test_importing_receipts_loads_neither_jinja_nor_babel() -> None:
    probe = (
        "import sys, callpay.receipts;"
        "print(sorted(m for m in ('jinja2', 'babel', 'markupsafe') if m in sys.modules))"
    )
    functions = Path(__file__).resolve().parents[2] / "functions"
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed probe
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=functions,
    )

    assert result.stdout.strip() == "[]"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80) | st.from_regex(r"[a-zA-Z]{1,8}([-_][a-zA-Z0-9]{1,8}){0,4}"))
def test_any_language_preference_is_matched_or_skipped_never_an_error(tag: str) -> None:
    found = match(tag)

    assert found is None or negotiate([tag]) == found
    assert negotiate(accept_language(tag)) in SUPPORTED_LOCALES
