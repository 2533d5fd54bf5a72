"""Stripe-Signature verification: one strict parser, HMAC-SHA256, several secrets at once.

Stripe documents the header as comma-separated `name=value` items: the timestamp `t`
once, one or more `v1` signatures (HMAC-SHA256 of "<t>.<raw body>", hex), and possibly
signatures of other schemes (`v0` in test mode), which are ignored. Anything else is
refused, and the five-minute tolerance (both ways) is checked on the very `t` that was
signed. Several secrets are accepted: the account and Connect endpoints sign with their
own, and a secret being rotated stays valid for a while.

Plain hmac/hashlib: importing Stripe's SDK for one HMAC would cost the cold start.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

# Stripe's default: events older than five minutes are refused (replay protection); we
# refuse those from more than five minutes ahead as well.
TOLERANCE_SECONDS = 300
# Far above a real header (a timestamp and a few 64-hex signatures), far below a DoS.
MAX_HEADER_LENGTH = 2048

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_V1 = re.compile(r"[0-9a-f]{64}")
_OTHER_SCHEME = re.compile(r"v[0-9]{1,3}")
_OTHER_VALUE = re.compile(r"[0-9A-Za-z]{1,256}")


class SignatureError(Exception):
    """The delivery is not provably from Stripe."""


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    timestamp: int
    signatures: tuple[str, ...]  # the v1 signatures, lowercase hex


def parse(header: str) -> SignatureHeader:
    """The header's timestamp and v1 signatures, or SignatureError for any other shape."""
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("header too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, equals, value = item.partition("=")
        if not equals:
            raise SignatureError("an item is not name=value")
        if name == "t":
            if timestamp is not None:
                raise SignatureError("more than one timestamp")
            if not _TIMESTAMP.fullmatch(value):
                raise SignatureError("timestamp is not a number of seconds")
            timestamp = int(value)
        elif name == "v1":
            if not _V1.fullmatch(value):
                raise SignatureError("a v1 signature is not 64 hex digits")
            signatures.append(value)
        elif not (_OTHER_SCHEME.fullmatch(name) and _OTHER_VALUE.fullmatch(value)):
            raise SignatureError("an item is neither t nor a signature scheme")
    if timestamp is None:
        raise SignatureError("no timestamp")
    if not signatures:
        raise SignatureError("no v1 signature")
    return SignatureHeader(timestamp, tuple(signatures))


def verify(
    payload: bytes,
    signature_header: str | None,
    secrets: Sequence[str],
    now: float | None = None,
) -> None:
    """Return if one of `secrets` signed `payload` within the tolerance; else SignatureError."""
    if not signature_header:
        raise SignatureError("missing Stripe-Signature header")
    header = parse(signature_header)
    if abs((time.time() if now is None else now) - header.timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("timestamp outside the tolerance")
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("body is not UTF-8") from None
    signed = f"{header.timestamp}.".encode() + payload
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, given) for given in header.signatures):
            return
    raise SignatureError("no secret matches")
