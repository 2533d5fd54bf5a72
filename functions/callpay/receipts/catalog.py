"""The receipt's words: one reviewable JSON catalog per locale, read on first use."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from callpay.receipts.locales import DEFAULT_LOCALE

TRANSLATIONS = Path(__file__).with_name("translations")


@functools.cache
def read_catalog(locale: str) -> Mapping[str, str]:
    """The catalog exactly as translated, without fallback (tests compare it with English)."""
    path = TRANSLATIONS / f"{locale}.json"
    messages: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return MappingProxyType(messages)


@functools.cache
def messages(locale: str) -> Mapping[str, str]:
    """The locale's messages, with English for any a translation has not caught up with yet."""
    if locale == DEFAULT_LOCALE:
        return read_catalog(locale)
    return MappingProxyType({**read_catalog(DEFAULT_LOCALE), **read_catalog(locale)})


def translate(locale: str, message_id: str, **values: str) -> str:
    """A message in the locale, with `{name}` placeholders filled in."""
    return messages(locale)[message_id].format(**values)
