"""The panels' words: the catalogs match the code, the shipped JSON matches the catalogs,
and the module's currency rules match the API's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from callpay.domain.money import THREE_DECIMAL, ZERO_DECIMAL
from callpay.receipts.locales import SUPPORTED_LOCALES
from devtools import frontend_text
from devtools.frontend_text import COMPILED_DIR, TEMPLATE, compiled, extracted, index, read
from devtools.translations import is_machine_made

MODULE = frontend_text.FRONTEND / "callpay.js"


def msgids(catalog: object) -> set[str]:
    return {str(message.id) for message in catalog if message.id}  # type: ignore[attr-defined]


def test_the_template_holds_every_string_of_the_module_and_page() -> None:
    assert msgids(read(TEMPLATE)) == msgids(extracted()), "run `make frontend-text`"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_each_catalog_has_every_template_message(locale: str) -> None:
    assert msgids(read(frontend_text.po_path(locale), locale)) == msgids(read(TEMPLATE))


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_shipped_json_is_the_compiled_catalog(locale: str) -> None:
    shipped = json.loads((COMPILED_DIR / f"{locale}.json").read_text(encoding="utf-8"))
    assert shipped == compiled(locale), "run `make frontend-text`"


def test_the_shipped_index_names_each_locale_with_its_direction() -> None:
    shipped = json.loads((COMPILED_DIR / "index.json").read_text(encoding="utf-8"))
    assert shipped == index()
    assert shipped["locales"]["ar"]["dir"] == "rtl"
    assert shipped["locales"]["zh_Hans"]["lang"] == "zh-Hans"
    assert set(shipped["locales"]) == set(SUPPORTED_LOCALES)


def test_no_catalog_has_fuzzy_messages_or_broken_placeholders() -> None:
    template = read(TEMPLATE)
    found = [
        problem
        for locale in SUPPORTED_LOCALES
        for problem in frontend_text.problems(locale, template)
        if "untranslated" not in problem
    ]
    assert found == []


def test_a_translation_that_drops_a_placeholder_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = read(frontend_text.po_path("fr"), "fr")
    message = catalog.get("Pay {amount}")
    assert message is not None
    message.string = "Payer"
    monkeypatch.setattr(frontend_text, "po_path", lambda locale: tmp_path / f"{locale}.po")
    frontend_text.write(catalog, tmp_path / "fr.po")
    problems = list(frontend_text.problems("fr", read(TEMPLATE)))
    assert any("placeholders differ" in problem and "'Payer'" in problem for problem in problems)


def test_every_patient_word_on_the_pay_page_is_translated_in_every_locale() -> None:
    """What the patient reads (the pay page and the patient panel) in every receipt
    language; clinician-only words may still fall back to English."""
    source = MODULE.read_text(encoding="utf-8")
    patient_part = source[
        source.index("class PatientPanel") : source.index("function receiptContent")
    ]
    shared = ["Connecting…", "Updates live", "Connection lost. Reconnecting…",
              "This payment link has expired", "There is a problem", "Error:"]  # fmt: skip
    patient_words = set(re.findall(r'_\("((?:[^"\\]|\\.)*)"', patient_part)) | set(shared)
    for locale in SUPPORTED_LOCALES:
        if locale == "en":
            continue
        translated = compiled(locale)["messages"]
        missing = sorted(patient_words - set(translated))
        assert missing == [], f"{locale} lacks {missing}"


def js_set(name: str) -> set[str]:
    source = MODULE.read_text(encoding="utf-8")
    match = re.search(rf"const {name} = new Set\(\[([^\]]*)\]\)", source)
    assert match, name
    return set(re.findall(r'"([a-z]{3})"', match.group(1)))


def test_the_module_knows_stripes_zero_and_three_decimal_currencies_as_the_api_does() -> None:
    assert js_set("ZERO_DECIMAL") == set(ZERO_DECIMAL)
    assert js_set("THREE_DECIMAL") == set(THREE_DECIMAL)


def test_a_partial_catalog_ships_its_fallbacks_words() -> None:
    """Belgian Dutch and Montenegrin have no words of their own yet: the browser gets
    Dutch's and Serbian (Latin)'s, as the receipts do, never English."""
    assert compiled("nl_BE")["messages"] == compiled("nl")["messages"]
    assert compiled("cnr")["messages"] == compiled("sr_Latn")["messages"]
    assert compiled("cnr")["messages"]["Pay now"] == "Plati sada"


def test_the_index_tells_the_browser_the_tags_its_own_matching_would_miss() -> None:
    aliases = index()["aliases"]
    assert aliases["zh_Hant_MO"] == "zh_Hant_HK"
    assert aliases["pt_AO"] == "pt_PT"
    assert aliases["nn"] == aliases["no"] == "nb"
    assert aliases["prs"] == aliases["fa"] == "fa_AF"
    assert set(aliases.values()) <= set(SUPPORTED_LOCALES)
    assert "en_GB" not in aliases  # the browser finds en from en-GB by itself


def test_machine_made_words_are_marked_with_a_comment_not_a_flag() -> None:
    """GNU gettext's tools (msgmerge, msgcat, Poedit) drop `#,` flags they do not know;
    translator comments survive them all (docs/translations.md)."""
    for locale in SUPPORTED_LOCALES:
        for message in read(frontend_text.po_path(locale), locale):
            assert "machine-translated" not in message.flags, (locale, message.id)
            if is_machine_made(message):
                assert message.string, f"{locale}: a mark on nothing: {message.id!r}"
