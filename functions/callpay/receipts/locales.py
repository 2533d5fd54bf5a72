"""Which of the receipt languages a patient gets: their locale, else the clinic's, else English."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

# Babel identifiers; each has a catalog in translations/.
SUPPORTED_LOCALES: tuple[str, ...] = (
    "en",
    "fr",
    "de",
    "es",
    "it",
    "nl",
    "zh_Hans",
    "ja",
    "ar",
    "vi",
)
DEFAULT_LOCALE = "en"

# BCP 47 extensions and private use ("en-US-u-ca-gregory", "de-x-foo") do not choose a language.
_SINGLETON = re.compile(r"[-_][0-9A-Za-z](?:[-_]|$)")
# A header longer than this is not a browser's; stop before it costs anything.
_MAX_ACCEPT_LANGUAGE = 30


def supported_locale(tag: str | None) -> str | None:
    """The supported locale a language tag asks for ("fr-FR" -> "fr", "zh-CN" -> "zh_Hans")."""
    if not tag or len(tag) > 64:
        return None
    from babel.core import get_global, parse_locale  # noqa: PLC0415

    tag = tag.strip()
    singleton = _SINGLETON.search(tag)
    if singleton:
        tag = tag[: singleton.start()]
    try:
        # Only the syntax: Locale.parse would reject "fr-US" for want of CLDR data,
        # and drops a script it has no data for ("zh-Hant-CN" becomes zh_Hans_CN).
        language, territory, script, *_ = parse_locale(tag.replace("-", "_"))
    except ValueError:
        return None
    if language == "zh":
        if script is None:
            # "zh-TW" means Traditional Chinese: ask CLDR's likely subtags, not a list of ours.
            likely: Mapping[str, str] = get_global("likely_subtags")
            expanded = likely.get(f"zh_{territory}" if territory else "zh", "zh_Hans")
            script = parse_locale(expanded)[2]
        # Traditional Chinese has no catalog: fall through rather than guess at Simplified.
        return "zh_Hans" if script == "Hans" else None
    return language if language in SUPPORTED_LOCALES else None


def from_accept_language(header: str | None) -> str | None:
    """The supported locale an `Accept-Language` header prefers most, by q-value, if any."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, entry in enumerate(header.split(",")[:_MAX_ACCEPT_LANGUAGE]):
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
    for _, _, tag in sorted(ranked):
        locale = supported_locale(tag)
        if locale is not None:
            return locale
    return None


def resolve_locale(patient_locale: str | None, clinic_default: str | None) -> str:
    """The receipt language: the patient's if supported, else the clinic's, else English."""
    return supported_locale(patient_locale) or supported_locale(clinic_default) or DEFAULT_LOCALE


def text_direction(locale: str) -> Literal["ltr", "rtl"]:
    from babel import Locale  # noqa: PLC0415

    return "rtl" if Locale.parse(locale).text_direction == "rtl" else "ltr"


def language_tag(locale: str) -> str:
    """The BCP 47 form for HTML's lang attribute: "zh_Hans" -> "zh-Hans"."""
    return locale.replace("_", "-")
