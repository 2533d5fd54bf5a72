"""The server's WebSocket messages (DESIGN.md, "Realtime"), shaped for who receives them."""

from __future__ import annotations

import json
from typing import Any

from callpay.api_models import PaymentRequestOut
from callpay.domain.connection import Audience
from callpay.domain.payment_request import PaymentRequest

# API Gateway's WebSocket frame limit is 128 KiB; a snapshot stays well below it.
SNAPSHOT_LIMIT = 100


def view(request: PaymentRequest, audience: Audience) -> dict[str, Any]:
    """What this audience may see. No secret (client_secret, email) is ever pushed;
    the patient sees the same public fields as the clinician."""
    del audience  # one view today; the parameter keeps every caller explicit about it
    return PaymentRequestOut.of(request).model_dump(mode="json")


def updated(request: PaymentRequest, audience: Audience) -> bytes:
    return _frame({"type": "payment_request.updated", "payment_request": view(request, audience)})


def snapshot(call_id: str, requests: list[PaymentRequest], audience: Audience) -> bytes:
    shown = [view(r, audience) for r in requests[:SNAPSHOT_LIMIT]]
    return _frame({"type": "call.snapshot", "call_id": call_id, "payment_requests": shown})


def pong() -> bytes:
    return _frame({"type": "pong"})


def error(code: str, message: str, **extra: str) -> bytes:
    return _frame({"type": "error", "error": {"code": code, "message": message, **extra}})


def _frame(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()
