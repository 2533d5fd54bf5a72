"""The receipts' words: gettext catalogs compiled by Babel (`make translations`), read on first use.

translations/<locale>/LC_MESSAGES/receipts.po is what translators edit; the .mo beside it is
what ships (committed, and checked against the .po by the tests). English is the source
language: its words are the msgids, so a string no catalog has shows in English, never as
a key.
"""

from __future__ import annotations

import functools
import gettext
import itertools
from pathlib import Path

from callpay.receipts.locales import DEFAULT_LOCALE, SUPPORTED_LOCALES, fallbacks

TRANSLATIONS = Path(__file__).with_name("translations")
DOMAIN = "receipts"


def compiled_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"


@functools.cache
def translations(locale: str) -> gettext.NullTranslations:
    """A supported locale's messages; what it lacks comes from its fallbacks (Montenegrin
    from Serbian Latin, Finland Swedish from Swedish...), then from English."""
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"{locale!r} is not a supported locale")
    # A fresh object per chain: add_fallback links the objects themselves.
    chain = [_compiled(name) for name in (locale, *fallbacks(locale))]
    for translation, fallback in itertools.pairwise(chain):
        translation.add_fallback(fallback)
    return chain[0]


def _compiled(locale: str) -> gettext.NullTranslations:
    """One locale's catalog alone; English has none (its words are the msgids)."""
    if locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    with compiled_path(locale).open("rb") as file:
        return _Catalog(file)


class _Catalog(gettext.GNUTranslations):
    """A compiled catalog whose untranslated plural messages go to its fallback.

    pybabel compile leaves untranslated singular messages out of the .mo but writes an
    untranslated plural one with the English msgids as its forms (python-babel/babel#697),
    which would make Belgian Dutch say in English what Dutch translates. So an English
    answer to ngettext means "not translated here".
    """

    _next: gettext.NullTranslations | None = None

    def add_fallback(self, fallback: gettext.NullTranslations) -> None:
        super().add_fallback(fallback)
        # The first one is this catalog's own fallback; later ones were passed down to it.
        self._next = self._next or fallback

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        found = super().ngettext(msgid1, msgid2, n)
        if found in (msgid1, msgid2) and self._next is not None:
            return self._next.ngettext(msgid1, msgid2, n)
        return found

    def npgettext(self, context: str, msgid1: str, msgid2: str, n: int) -> str:
        found = super().npgettext(context, msgid1, msgid2, n)
        if found in (msgid1, msgid2) and self._next is not None:
            return self._next.npgettext(context, msgid1, msgid2, n)
        return found
