"""The panels' and pay page's words: gettext catalogs in, JSON for the browser out.

`python -m devtools.frontend_text extract` collects every `_("...")` of frontend/*.js into
frontend/locales/frontend.pot; `update` merges it into each locale's .po (new strings
arrive untranslated, gone ones are dropped); `compile` writes frontend/i18n/<locale>.json
and frontend/i18n/index.json (each locale's `lang` and `dir`), which the module loads.
`make frontend-text` runs all three. The .po files are the sources translators and their
tools (Poedit, Weblate, pybabel) work on; the JSON is committed like shipped .mo files,
and tests/unit/test_frontend_text.py fails when it drifts from them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from callpay.receipts.locales import (
    ALIASES,
    DEFAULT_LOCALE,
    SUPPORTED_LOCALES,
    fallbacks,
    language_tag,
    match,
)
from devtools.paths import REPO_ROOT
from devtools.translations import MACHINE_MADE, is_machine_made

FRONTEND = REPO_ROOT / "frontend"
LOCALES_DIR = FRONTEND / "locales"
TEMPLATE = LOCALES_DIR / "frontend.pot"
COMPILED_DIR = FRONTEND / "i18n"
DOMAIN = "frontend"
# `text._("...")` in the module and the page; translator notes start with TRANSLATORS:.
KEYWORDS = {"_": None}
COMMENT_TAGS = ("TRANSLATORS:",)
# A translation that no person has reviewed carries the translator comment MACHINE_MADE,
# as the receipts' catalogs do (docs/translations.md).
HEADER = (
    "# {name} ({locale}) translations of callpay's pay page and panels.\n"
    '# Entries under the translator comment "{mark}" were written by a machine\n'
    "# and no native speaker has reviewed them yet: review one, then delete that comment line\n"
    "# (docs/translations.md). An empty msgstr shows the fallback's words ({fallbacks})."
)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Fixed, so the files change only when their messages do.
CREATION_DATE = datetime(2026, 12, 1, tzinfo=UTC)


def sources() -> list[Path]:
    """The scripts whose words are shipped: the module and the pay page's script."""
    return sorted(FRONTEND.glob("*.js")) + sorted(FRONTEND.glob("pay/*.js"))


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def extracted() -> Catalog:
    """Every message of the sources, as a template."""
    template = Catalog(
        project="callpay frontend", domain=DOMAIN, creation_date=CREATION_DATE, fuzzy=False
    )
    for path in sources():
        for lineno, message, comments, context in extract_from_file(
            "javascript", str(path), keywords=KEYWORDS, comment_tags=COMMENT_TAGS,
            strip_comment_tags=True,
        ):  # fmt: skip
            location = (path.relative_to(REPO_ROOT).as_posix(), lineno)
            template.add(message, locations=[location], auto_comments=comments, context=context)
    return template


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=locale, domain=DOMAIN)


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        # No line numbers: they would change the files with every edit of the source.
        write_po(file, catalog, width=100, include_lineno=False, sort_output=True)


def extract() -> Catalog:
    template = extracted()
    write(template, TEMPLATE)
    return template


def update(template: Catalog) -> None:
    for locale in SUPPORTED_LOCALES:
        path = po_path(locale)
        if path.exists():
            catalog = read(path, locale)
        else:
            name = "Montenegrin" if locale == "cnr" else Locale.parse(locale).english_name
            chain = ", ".join((*fallbacks(locale), DEFAULT_LOCALE))
            catalog = Catalog(
                locale=locale, domain=DOMAIN, project="callpay frontend",
                creation_date=CREATION_DATE, fuzzy=False,
                header_comment=HEADER.format(
                    name=name, locale=locale, mark=MACHINE_MADE, fallbacks=chain
                ),
            )  # fmt: skip
        # No fuzzy matching: a guessed translation of a changed sentence would ship.
        catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
        catalog.obsolete.clear()
        catalog.revision_date = CREATION_DATE
        write(catalog, path)


def translations(catalog: Catalog) -> dict[str, str]:
    """msgid -> msgstr for every translated, non-fuzzy message; the rest falls back to
    the English msgid in the browser."""
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and message.string and not message.fuzzy
    }


def compiled(locale: str) -> dict[str, Any]:
    """The locale's messages with what it lacks from its fallbacks (Belgian Dutch from
    Dutch, Montenegrin from Serbian Latin...); English, the msgids, comes last in the browser."""
    messages: dict[str, str] = {}
    for name in reversed((locale, *fallbacks(locale))):
        messages.update(translations(read(po_path(name), name)))
    return {"locale": locale, "messages": messages}


def aliases() -> dict[str, str]:
    """Tags the browser's own matching (Intl.Locale's likely subtags, then the language)
    would miss or get wrong, with the catalog CLDR's chains give them on the server:
    zh_Hant_MO -> zh_Hant_HK, pt_AO -> pt_PT, nn -> nb, prs -> fa_AF..."""
    from babel.core import get_global  # noqa: PLC0415

    tags = {*get_global("parent_exceptions"), *get_global("language_aliases"), *ALIASES}
    found = {}
    for tag in sorted(tags - set(SUPPORTED_LOCALES)):
        catalog = match(tag)
        language, _, rest = tag.partition("_")
        # A regional tag whose language alone finds the same catalog needs no entry.
        if catalog is not None and not (rest and catalog == match(language)):
            found[tag] = catalog
    return found


def index() -> dict[str, Any]:
    return {
        "default": DEFAULT_LOCALE,
        "locales": {
            locale: {
                "lang": language_tag(locale),
                "dir": Locale.parse(locale).text_direction,
            }
            for locale in SUPPORTED_LOCALES
        },
        "aliases": aliases(),
    }


def dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def compile_all() -> list[Path]:
    COMPILED_DIR.mkdir(parents=True, exist_ok=True)
    written = [COMPILED_DIR / "index.json"]
    written[0].write_text(dump(index()), encoding="utf-8")
    for locale in SUPPORTED_LOCALES:
        path = COMPILED_DIR / f"{locale}.json"
        path.write_text(dump(compiled(locale)), encoding="utf-8")
        written.append(path)
    return written


def problems(locale: str, template: Catalog) -> Iterable[str]:
    """What is wrong with a locale's catalog: untranslated or fuzzy messages, and
    translations whose {placeholders} differ from the English."""
    catalog = read(po_path(locale), locale)
    shipped = compiled(locale)["messages"]
    for message in template:
        if not message.id:
            continue
        found: Message | None = catalog.get(message.id)
        if found is None or not found.string:
            # A message the locale's fallback translates is not missing (Belgian Dutch).
            if locale != DEFAULT_LOCALE and message.id not in shipped:
                yield f"{locale}: untranslated: {message.id!r}"
            continue
        if found.fuzzy:
            yield f"{locale}: fuzzy: {message.id!r}"
        wanted = sorted(PLACEHOLDER.findall(str(message.id)))
        if sorted(PLACEHOLDER.findall(str(found.string))) != wanted:
            yield f"{locale}: placeholders differ from {wanted}: {found.string!r}"


def statistics(template: Catalog) -> str:
    total = sum(1 for message in template if message.id)
    lines = [f"{total} messages in {TEMPLATE.relative_to(REPO_ROOT)}"]
    for locale in SUPPORTED_LOCALES:
        catalog = read(po_path(locale), locale)
        done = len(translations(catalog))
        machine = sum(1 for m in catalog if m.id and m.string and is_machine_made(m))
        lines.append(f"  {locale:8} {done:4} translated, {machine:4} machine-made (unreviewed)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.frontend_text")
    parser.add_argument("steps", nargs="+", choices=["extract", "update", "compile", "check"])
    args = parser.parse_args(argv)
    template = read(TEMPLATE) if TEMPLATE.exists() else extracted()
    status = 0
    for step in args.steps:
        if step == "extract":
            template = extract()
            print(f"extracted {sum(1 for m in template if m.id)} messages into {TEMPLATE}")
        elif step == "update":
            update(template)
            print(f"updated {len(SUPPORTED_LOCALES)} catalogs under {LOCALES_DIR}")
        elif step == "compile":
            print(f"compiled {len(compile_all())} files into {COMPILED_DIR}")
            print(statistics(template))
        else:
            found = [line for locale in SUPPORTED_LOCALES for line in problems(locale, template)]
            # Untranslated messages show in English: worth knowing, not an error.
            errors = [line for line in found if ": untranslated: " not in line]
            print("\n".join(errors) or "no fuzzy message, every placeholder kept")
            print(f"{len(found) - len(errors)} untranslated messages (shown in English)")
            status = 1 if errors else 0
    return status


if __name__ == "__main__":
    sys.exit(main())
