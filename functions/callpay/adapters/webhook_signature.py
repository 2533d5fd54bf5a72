"""Stripe-Signature verification with Stripe's SDK, against several secrets at once.

Several secrets are accepted because the account endpoint and the Connect endpoint
sign with their own, and because a secret being rotated stays valid for a while.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

# Stripe's default: events older than five minutes are refused (replay protection).
TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """The delivery is not provably from Stripe."""


def verify(payload: bytes, signature_header: str | None, secrets: Sequence[str]) -> None:
    import stripe  # noqa: PLC0415 - heavy import, only in the webhook function

    if not signature_header:
        raise SignatureError("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("body is not UTF-8") from None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                text, signature_header, secret, tolerance=TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError:
            continue
        _check_not_from_the_future(signature_header)
        return
    raise SignatureError("no secret matches, or the timestamp is outside the tolerance")


def _check_not_from_the_future(signature_header: str) -> None:
    """Stripe's SDK only bounds the past; the tolerance applies both ways here."""
    stamps = [p.strip()[2:] for p in signature_header.split(",") if p.strip().startswith("t=")]
    if int(stamps[0]) > time.time() + TOLERANCE_SECONDS:
        raise SignatureError("timestamp is in the future")
