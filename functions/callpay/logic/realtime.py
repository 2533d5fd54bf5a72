"""Realtime use cases: who may open a call's feed, and what a socket asks for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from callpay import realtime_messages
from callpay.domain.access import Patient, Principal, check_call, check_clinic
from callpay.domain.clinic import Clinic, org_of
from callpay.domain.connection import Connection
from callpay.domain.errors import Conflict, Forbidden
from callpay.ports import ConnectionStore, PaymentStore
from callpay.realtime_messages import FrameErrorCode

MAX_FRAME_BYTES = 4096
INVALID_FRAME: tuple[FrameErrorCode, str] = ("invalid_frame", "Send a JSON object with an action.")
# pydantic's parser refused the text itself: not JSON, too deep, a number too long, not UTF-8.
UNREADABLE = frozenset({"json_invalid", "string_unicode"})


class ClientFrame(BaseModel):
    """What a client sends: `{"action": ...}`; other fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    action: str


@dataclass
class Realtime:
    store: PaymentStore
    connections: ConnectionStore
    clock: Callable[[], datetime]

    def connect(
        self, principal: Principal, call_id: str, clinic_id: str | None, connection_id: str
    ) -> Connection:
        """Admit a socket to the call's feed, or raise Forbidden."""
        bound = self.store.call_clinic(call_id)
        clinic: Clinic | None = None
        if isinstance(principal, Patient):
            if principal.call_id != call_id:
                raise Forbidden("not_your_call", "This access token is for another call.")
        elif bound is None:
            # A clinician may open the feed before anything was requested in the call:
            # the clinic they name then owns the call, as with patient access.
            if not clinic_id:
                raise Forbidden("clinic_required", "Name the call's clinic with clinic_id.")
            clinic = self.store.get_clinic(clinic_id)
            check_clinic(principal, clinic_id, org_of(clinic))
            if clinic is None:
                raise Conflict("payments_not_enabled", "Payments are not enabled for this clinic.")
            bound = self.store.bind_call(call_id, clinic_id)
        if bound is not None:
            if clinic is None or clinic.clinic_id != bound:
                clinic = self.store.get_clinic(bound)
            check_call(principal, call_id, bound, org_of(clinic))
        connection = Connection(
            connection_id=connection_id,
            call_id=call_id,
            audience="patient" if isinstance(principal, Patient) else "clinician",
            subject=principal.sub,
            connected_at=self.clock(),
            payment_request_id=(
                principal.payment_request_id if isinstance(principal, Patient) else None
            ),
        )
        self.connections.add(connection)
        return connection

    def disconnect(self, connection_id: str) -> None:
        self.connections.remove(connection_id)

    def reply_to(self, connection_id: str, frame: str | None) -> bytes:
        """The answer to a client's frame, whatever its shape: a snapshot, a pong, or an
        error frame. Parsed by pydantic's JSON parser, which bounds nesting and numbers."""
        if (
            not isinstance(frame, str)
            or not frame
            or len(frame) > MAX_FRAME_BYTES  # before encoding a huge one
            or len(frame.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES
        ):
            return realtime_messages.error(*INVALID_FRAME)
        try:
            action: str | None = ClientFrame.model_validate_json(frame).action
        except ValidationError as error:
            if any(e["type"] in UNREADABLE for e in error.errors()):
                return realtime_messages.error(*INVALID_FRAME)
            action = None  # JSON, but no string `action`
        if action == "ping":
            return realtime_messages.pong()
        if action != "sync":
            return realtime_messages.error("unknown_action", "Known actions: sync, ping.")
        connection = self.connections.get(connection_id)
        if connection is None:
            return realtime_messages.error("not_connected", "Reconnect to this call's feed.")
        requests = [r for r in self.store.by_call(connection.call_id) if connection.hears_of(r.id)]
        return realtime_messages.snapshot(connection.call_id, requests, connection.audience)
