"""The receipt catalogs as translators see them: read the .po sources, count what is done.

`make translations` runs `python -m devtools.translations` after `pybabel compile` to print,
per locale, the messages translated and how many of those a machine wrote and no person has
reviewed yet (the translator comment MACHINE_MADE; docs/translations.md). The tests read
the catalogs through the same functions.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from callpay.receipts.catalog import DOMAIN, TRANSLATIONS
from callpay.receipts.locales import DEFAULT_LOCALE, SUPPORTED_LOCALES

TEMPLATE = TRANSLATIONS / f"{DOMAIN}.pot"
# A translator comment ("# machine-translated" above the entry): it survives pybabel update,
# msgmerge and editors such as Poedit, and pybabel compile ships the translation anyway. A
# `#,` flag would not do: GNU gettext's tools drop flags they do not know, and `fuzzy`
# entries are never compiled. A reviewer deletes the comment.
MACHINE_MADE = "machine-translated"
TRANSLATED_LOCALES = tuple(locale for locale in SUPPORTED_LOCALES if locale != DEFAULT_LOCALE)


def source_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=locale, domain=DOMAIN)


def messages(catalog: Catalog) -> Iterator[Message]:
    """The catalog's messages, less its header."""
    return (message for message in catalog if message.id)


def is_translated(message: Message) -> bool:
    """What pybabel compile ships: every form filled in, and not fuzzy."""
    forms = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return not message.fuzzy and all(forms)


def is_machine_made(message: Message) -> bool:
    return any(comment.strip() == MACHINE_MADE for comment in message.user_comments)


@dataclass(frozen=True)
class Counts:
    locale: str
    messages: int
    translated: int
    machine_made: int


def counts(locale: str) -> Counts:
    catalog = read(source_path(locale), locale)
    found = list(messages(catalog))
    return Counts(
        locale=locale,
        messages=len(found),
        translated=sum(is_translated(message) for message in found),
        machine_made=sum(is_translated(m) and is_machine_made(m) for m in found),
    )


def report() -> str:
    rows = [counts(locale) for locale in TRANSLATED_LOCALES]
    template = len(list(messages(read(TEMPLATE))))
    lines = [f"{'locale':<11} {'translated':>10} {'machine-made':>13}"]
    lines += [
        f"{r.locale:<11} {r.translated:>6}/{r.messages:<3} {r.machine_made:>13}" for r in rows
    ]
    lines.append(
        f"{len(SUPPORTED_LOCALES)} locales (English is the source, {len(rows)} catalogs), "
        f"{template} messages each; {sum(r.translated for r in rows)} translations, "
        f"{sum(r.machine_made for r in rows)} of them machine-made and not yet reviewed"
    )
    return "\n".join(lines)


def main() -> int:
    print(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
