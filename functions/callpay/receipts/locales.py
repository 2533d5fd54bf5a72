"""Which language a patient reads: the supported locales and the choice among them.

A patient's preferences (their own choice, then their browser's `Accept-Language`, then
the clinic's default) are tried in order; the first that one of our catalogs can serve
wins, else English. Each preference is matched by walking CLDR's chain of more general
locales (Babel's data: aliases, likely subtags, parent locales), so "zh-MO" finds
Traditional Chinese (Hong Kong), "pt-AO" European Portuguese and "nn" Norwegian, and a
tag in a script we have no catalog for ("uz-Cyrl") falls through instead of getting
another script. docs/translations.md lists the locales and why each was chosen.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from babel import Locale

# The languages of the help centre callpay is modelled on, as CLDR identifiers (Babel
# formats with them). English is the source language: its words are the msgids.
SUPPORTED_LOCALES: tuple[str, ...] = (
    "en",
    "fr",
    "de",
    "es",
    "it",
    "nl",
    "nl_BE",
    "pl",
    "ja",
    "pt_BR",
    "pt_PT",
    "ru",
    "sv",
    "sv_FI",
    "zh_Hans",
    "zh_Hant",
    "zh_Hant_HK",
    "he",
    "fi",
    "ms",
    "tr",
    "ko",
    "fa_AF",
    "so",
    "ti",
    "ar",
    "vi",
    "cs",
    "lv",
    "nb",
    "sk",
    "hu",
    "uk",
    "ro",
    "id",
    "da",
    "th",
    "kk",
    "lt",
    "el",
    "bg",
    "be",
    "ka",
    "mn",
    "bs",
    "hr",
    "lo",
    "km",
    "sr_Cyrl",
    "sr_Latn",
    "my",
    "bn",
    "ur",
    "et",
    "ca",
    "hi",
    "ckb",
    "az",
    "uz",
    "is",
    "sw",
    "am",
    "cnr",
)
DEFAULT_LOCALE = "en"

# Our choices where CLDR has no chain to follow (lower case, like the lookup).
ALIASES = {
    # Norwegian: the catalog is written in Bokmål, which Nynorsk readers read too.
    "no": "nb",
    "nn": "nb",
    # Persian as written in Iran: Dari is the same written language, closer than English.
    "fa": "fa_AF",
    # CLDR's "pt" is Brazilian Portuguese (pt_PT's parent), so European Portuguese's own
    # missing strings come from Brazilian before English.
    "pt": "pt_BR",
}

# BCP 47 extensions and private use ("en-US-u-ca-gregory", "de-x-foo") do not choose a language.
_SINGLETON = re.compile(r"(?:^|[-_])[0-9A-Za-z](?:[-_]|$)")
# Nothing longer is a language tag, nor an Accept-Language header with more entries a browser's.
_MAX_TAG = 64
_MAX_ACCEPT_LANGUAGE = 30


def negotiate(preferences: Iterable[str | None]) -> str:
    """The first preference (a BCP 47 tag or CLDR identifier) a catalog serves, else English."""
    for preference in preferences:
        found = match(preference)
        if found is not None:
            return found
    return DEFAULT_LOCALE


def match(tag: str | None) -> str | None:
    """The supported locale that serves a tag ("fr-FR" -> "fr", "zh-TW" -> "zh_Hant"), if any."""
    if not tag:
        return None
    for identifier in lookups(tag):
        key = identifier.lower()
        found = _supported_by_key().get(ALIASES.get(key, key).lower())
        if found is not None:
            return found
    return None


def accept_language(header: str | None) -> list[str]:
    """The language tags of an `Accept-Language` header, most wanted first (RFC 9110 §12.5.4).

    Only the header's syntax is read here; what each tag means is `match`'s (CLDR's) job.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, entry in enumerate((header or "").split(",")[:_MAX_ACCEPT_LANGUAGE]):
        tag, *params = (part.strip() for part in entry.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        # q=0 means "not this one"; NaN and out-of-range weights are malformed.
        if tag and tag != "*" and 0.0 < weight <= 1.0:
            ranked.append((-weight, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


def lookups(tag: str) -> list[str]:
    """CLDR identifiers that could serve `tag`, most specific first: "zh-MO" ->
    zh_Hant_MO, zh_Hant_HK, zh_Hant. Our catalogs' identifiers are compared in the same form
    (a language's usual script left out: "nl_BE", "sr" for Serbian in Cyrillic)."""
    from babel.core import get_global, parse_locale  # noqa: PLC0415

    tag = tag.strip()
    if len(tag) > _MAX_TAG:
        return []
    singleton = _SINGLETON.search(tag)
    if singleton:
        tag = tag[: singleton.start()]
    try:
        language, territory, script, *_ = parse_locale(tag.replace("-", "_"))
    except ValueError:
        return []
    found: list[str] = []
    alias = get_global("language_aliases").get(language)
    if alias:
        # A retired or macrolanguage code (cnr, iw, sh, prs): a catalog may keep the code
        # the patient sent (Montenegrin's is "cnr"), so try it before CLDR's replacement.
        found += _chain(language, script, territory)
        language, alias_territory, alias_script, *_ = parse_locale(alias)
        script, territory = script or alias_script, territory or alias_territory
    # CLDR's likely subtags fill in what the tag leaves out: "zh-TW" is written in Hant.
    likely_subtags = get_global("likely_subtags")
    keys = (
        f"{language}_{territory}" if territory else None,
        f"{language}_{script}" if script else None,
        language,
    )
    for key in keys:
        if key is not None and key in likely_subtags:
            _, likely_territory, likely_script, *_ = parse_locale(likely_subtags[key])
            script, territory = script or likely_script, territory or likely_territory
            break
    found += _chain(language, script, territory)
    return list(dict.fromkeys(found))


@functools.cache
def fallbacks(locale: str) -> tuple[str, ...]:
    """The catalogs a locale's missing strings come from, before English's msgids:
    Montenegrin -> Serbian (Latin), Finland Swedish -> Swedish, Belgian Dutch -> Dutch."""
    chain = (match(identifier) for identifier in lookups(locale))
    found = (other for other in chain if other is not None and other != locale)
    return tuple(other for other in dict.fromkeys(found) if other != DEFAULT_LOCALE)


@functools.cache
def cldr_locale(locale: str) -> Locale:
    """The locale Babel formats in; Babel itself maps Montenegrin to sr_Latn_ME."""
    from babel import Locale  # noqa: PLC0415

    return Locale.parse(locale)


def text_direction(locale: str) -> Literal["ltr", "rtl"]:
    return "rtl" if cldr_locale(locale).text_direction == "rtl" else "ltr"


def language_tag(locale: str) -> str:
    """The BCP 47 form for HTML's lang attribute: "zh_Hant_HK" -> "zh-Hant-HK"."""
    return locale.replace("_", "-")


def _chain(language: str, script: str | None, territory: str | None) -> list[str]:
    """The identifier and its CLDR parents, in our comparison form (usual script left out)."""
    usual = _usual_script(language)
    identifier: str | None = "_".join(
        part for part in (language, None if script == usual else script, territory) if part
    )
    chain: list[str] = []
    while identifier and identifier not in chain:
        chain.append(identifier)
        identifier = _parent(identifier)
    return chain


def _parent(identifier: str) -> str | None:
    """CLDR's parent locale: its exception list (en_GB -> en_001, zh_Hant_MO -> zh_Hant_HK,
    pt_AO -> pt_PT), else the identifier less its territory. A script other than the
    language's usual one has no parent but root: Serbian in Latin never falls back to
    Cyrillic. Nor does a parent in another language (Haitian Creole's is French in CLDR's
    data): a missing translation never switches language."""
    from babel.core import get_global, parse_locale  # noqa: PLC0415

    language, territory, script, *_ = parse_locale(identifier)
    parent: str | None = get_global("parent_exceptions").get(identifier)
    if parent is not None:
        return parent if parse_locale(parent)[0] == language else None
    if territory:
        return f"{language}_{script}" if script else language
    return None


def _usual_script(language: str) -> str | None:
    from babel.core import get_global, parse_locale  # noqa: PLC0415

    likely = get_global("likely_subtags").get(language)
    return parse_locale(likely)[2] if likely else None


@functools.cache
def _supported_by_key() -> dict[str, str]:
    """Our catalogs in the form `lookups` writes: zh_Hans -> zh, sr_Cyrl -> sr, nl_BE."""
    from babel.core import parse_locale  # noqa: PLC0415

    by_key = {}
    for locale in SUPPORTED_LOCALES:
        language, territory, script, *_ = parse_locale(locale)
        by_key[_chain(language, script, territory)[0].lower()] = locale
    return by_key
