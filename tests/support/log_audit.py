"""What must never be in a log line: patient e-mails, client secrets, tokens, keys.

The e2e suite's last test (tests/e2e/test_logs.py) runs this over every log file the
local stack wrote: its own output with every handler's log lines, and its servers' logs.
Publishable keys (`pk_...`) are not looked for: they are public, sent to every browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# What each kind of secret looks like, wherever it is (JSON, a URL, a repr...).
PATTERNS = {
    "e-mail address": re.compile(
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    ),
    "client secret": re.compile(r"\b(?:pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    "bearer token": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE),
    "Stripe secret key": re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9_]+"),
    "webhook secret": re.compile(r"\bwhsec_[A-Za-z0-9_]+"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}


@dataclass(frozen=True)
class Leak:
    path: Path
    line_number: int
    kind: str
    # Only the start of what was found: the report must not leak it again.
    found: str

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line_number}: {self.kind} {self.found[:12]}..."


def leaks_in_line(
    line: str, known_secrets: Iterable[str] = (), allowed_addresses: Iterable[str] = ()
) -> Iterator[tuple[str, str]]:
    """(kind, text) of everything secret in one line; `known_secrets` are literal values
    (a key without a recognisable shape), `allowed_addresses` e-mails that are no one's
    (the receipt sender)."""
    allowed = {address.lower() for address in allowed_addresses}
    for kind, pattern in PATTERNS.items():
        for match in pattern.finditer(line):
            if kind == "e-mail address" and match.group().lower() in allowed:
                continue
            yield kind, match.group()
    for secret in known_secrets:
        if secret and secret in line:
            yield "known secret", secret


def log_files(directory: Path) -> list[Path]:
    """Every log file under the local stack's state directory, however deep."""
    return sorted(path for path in directory.rglob("*.log") if path.is_file())


def leaks_in_logs(
    directory: Path, known_secrets: Iterable[str] = (), allowed_addresses: Iterable[str] = ()
) -> tuple[list[Leak], int]:
    """The leaks in every log file under `directory`, and how many lines were read."""
    known, allowed = list(known_secrets), list(allowed_addresses)
    found: list[Leak] = []
    lines = 0
    for path in log_files(directory):
        with path.open(errors="replace") as file:
            for number, line in enumerate(file, start=1):
                lines += 1
                for kind, text in leaks_in_line(line, known, allowed):
                    found.append(Leak(path, number, kind, text))
    return found, lines
