"""The WebSocket feed's messages (DESIGN.md, "Realtime") as models: what the server sends,
shaped for who receives it, and the actions a client sends. docs/asyncapi.yaml is generated
from these same models (devtools/asyncapi.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from callpay.api_models import PaymentRequestOut
from callpay.domain.connection import Audience
from callpay.domain.payment_request import PaymentRequest

# API Gateway's WebSocket frame limit is 128 KiB; a snapshot stays well below it.
SNAPSHOT_LIMIT = 100
FrameErrorCode = Literal["invalid_frame", "unknown_action", "not_connected"]


class Message(BaseModel):
    # Defaults (`type`) are always sent: the schema says so.
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


class Sync(Message):
    """After every (re)connect: ask for the call's payment requests."""

    action: Literal["sync"]


class Ping(Message):
    """Keep the socket open (API Gateway closes it after 10 minutes without traffic)."""

    action: Literal["ping"]


class CallSnapshot(Message):
    """The call's newest payment requests, newest first: replace what you show with it."""

    type: Literal["call.snapshot"] = "call.snapshot"
    call_id: str
    payment_requests: list[PaymentRequestOut] = Field(max_length=SNAPSHOT_LIMIT)


class PaymentRequestUpdated(Message):
    """A payment request of the call changed (created, failed, paid, canceled...)."""

    type: Literal["payment_request.updated"] = "payment_request.updated"
    payment_request: PaymentRequestOut


class Pong(Message):
    type: Literal["pong"] = "pong"


class FrameErrorDetail(Message):
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )

    code: FrameErrorCode
    message: str


class InternalFrameErrorDetail(Message):
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )

    code: Literal["internal_error"]
    message: str
    error_id: str = Field(description="Quote it to support: it names our log line.")


class FrameError(Message):
    """The answer to a frame we could not act on; the socket stays open."""

    type: Literal["error"] = "error"
    error: FrameErrorDetail | InternalFrameErrorDetail


ServerMessage = CallSnapshot | PaymentRequestUpdated | Pong | FrameError


def view(request: PaymentRequest, audience: Audience) -> PaymentRequestOut:
    """What this audience may see. No secret (client_secret, email) is ever pushed;
    the patient sees the same public fields as the clinician."""
    del audience  # one view today; the parameter keeps every caller explicit about it
    return PaymentRequestOut.of(request)


def updated(request: PaymentRequest, audience: Audience) -> bytes:
    return _frame(PaymentRequestUpdated(payment_request=view(request, audience)))


def snapshot(call_id: str, requests: list[PaymentRequest], audience: Audience) -> bytes:
    shown = [view(r, audience) for r in requests[:SNAPSHOT_LIMIT]]
    return _frame(CallSnapshot(call_id=call_id, payment_requests=shown))


def pong() -> bytes:
    return _frame(Pong())


def error(code: FrameErrorCode, message: str) -> bytes:
    return _frame(FrameError(error=FrameErrorDetail(code=code, message=message)))


def internal_error(message: str, error_id: str) -> bytes:
    detail = InternalFrameErrorDetail(code="internal_error", message=message, error_id=error_id)
    return _frame(FrameError(error=detail))


def _frame(message: ServerMessage) -> bytes:
    return message.model_dump_json().encode()
