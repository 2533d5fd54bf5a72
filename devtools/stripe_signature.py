"""The Stripe-Signature header, computed as Stripe documents it, for every local signer.

The onboarding page, `devtools/invoke.py --sign` and the tests sign deliveries with it.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """`t=<timestamp>,v1=<HMAC-SHA256 of "<timestamp>.<payload>">`; the timestamp is now
    unless given (Stripe's tolerance, and callpay's, is five minutes)."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"
