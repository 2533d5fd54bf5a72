"""A rendered receipt as a reader sees it, for assertions on its words."""

from __future__ import annotations

import re


def plain(text: str) -> str:
    """Babel separates groups and symbols with no-break spaces (U+00A0, U+202F) and marks
    bidirectional numbers with U+200E/U+200F/U+061C: fold those to what a reader sees."""
    text = re.sub(r"[\u200e\u200f\u061c]", "", text)
    return re.sub(r"[\u00a0\u202f]", " ", text)


def visible(html: str) -> str:
    """The HTML's text as a reader sees it: tags dropped, whitespace folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", plain(html)))
