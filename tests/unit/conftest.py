"""Unit tests run with the network off: the domain and logic need no AWS and no Stripe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import urllib3  # noqa: F401 - probes IPv6 with a socket at import; do it before the network is off
from pytest_socket import disable_socket, enable_socket

from callpay import runtime
from callpay.adapters.websocket_notifier import WebSocketNotifier
from callpay.domain.clinic import Clinic
from callpay.domain.errors import Unauthenticated
from callpay.logic.clinics import ClinicAdmin
from callpay.logic.connect_events import ConnectEvents
from callpay.logic.no_show import NoShowFees
from callpay.logic.payment_requests import PaymentRequests
from callpay.logic.realtime import Realtime
from callpay.logic.receipts import ReceiptBook, ReceiptMailing
from callpay.logic.stripe_events import StripeEvents
from callpay.receipts.locales import negotiate
from callpay.receipts.render import render
from realtime.handler import lambda_handler as realtime_handler
from tests.support.events import LambdaContext, clinician_claims
from tests.support.fakes import (
    Clock,
    FakeConnect,
    FakeGateway,
    FakeMailer,
    InMemoryConnections,
    InMemoryLedger,
    InMemoryStore,
    RecordingNotifier,
    RecordingQueue,
    tokens,
)


@pytest.fixture(autouse=True)
def _network_off() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@dataclass
class World:
    store: InMemoryStore
    gateway: FakeGateway
    clock: Clock
    service: PaymentRequests
    events: StripeEvents
    notifier: RecordingNotifier
    queue: RecordingQueue
    connect: FakeConnect
    clinics: ClinicAdmin
    mailer: FakeMailer


WEBHOOK_SECRET = "whsec_unit"

READY_CLINIC = Clinic(
    clinic_id="clinic-1",
    org_id="org-1",
    enabled=True,
    stripe_account_id="acct_clinic1",
    charges_enabled=True,
)


def build_world(monkeypatch: pytest.MonkeyPatch) -> World:
    """The logic over in-memory ports, also wired into the handlers' runtime."""
    store = InMemoryStore(clinics={"clinic-1": READY_CLINIC})
    store.clinics["clinic-2"] = READY_CLINIC.model_copy(
        update={"clinic_id": "clinic-2", "stripe_account_id": "acct_clinic2"}
    )
    store.clinics["clinic-x"] = READY_CLINIC.model_copy(
        update={"clinic_id": "clinic-x", "org_id": "org-2", "stripe_account_id": "acct_x"}
    )
    store.accounts = {c.stripe_account_id or "": c.clinic_id for c in store.clinics.values()}
    gateway, clock, notifier, queue = FakeGateway(), Clock(), RecordingNotifier(), RecordingQueue()
    service = PaymentRequests(
        store=store,
        gateway=gateway,
        tokens=tokens(),
        notifier=notifier,
        receipts=queue,
        publishable_key=lambda: "pk_test_unit",
        clock=clock,
    )
    events = StripeEvents(store=store, notifier=notifier, receipts=queue, clock=clock)
    connect, mailer = FakeConnect(), FakeMailer()
    clinics = ClinicAdmin(clinics=store, connect=connect, clock=clock)
    book = ReceiptBook(
        store=store, gateway=gateway, render=render, negotiate=negotiate, clock=clock
    )
    receipts = ReceiptMailing(book=book, ledger=InMemoryLedger(), mailer=mailer, clock=clock)
    monkeypatch.setattr(runtime, "clinic_admin", lambda: clinics)
    monkeypatch.setattr(
        runtime, "connect_events", lambda: ConnectEvents(clinics=store, events=store, clock=clock)
    )
    monkeypatch.setattr(runtime, "receipts", lambda: receipts)
    monkeypatch.setattr(runtime, "receipt_book", lambda: book)
    monkeypatch.setattr(runtime, "webhook_secrets", lambda: [WEBHOOK_SECRET])
    monkeypatch.setattr(runtime, "payment_requests", lambda: service)
    monkeypatch.setattr(runtime, "no_show_fees", lambda: NoShowFees(service))
    monkeypatch.setattr(runtime, "patient_tokens", tokens)
    monkeypatch.setattr(runtime, "clinician_tokens", lambda: None)
    monkeypatch.setattr(runtime, "stripe_events", lambda: events)
    return World(store, gateway, clock, service, events, notifier, queue, connect, clinics, mailer)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(monkeypatch)


# -- the realtime handler over in-memory connections -------------------------------------

CLINICIAN_TOKENS = {
    "jwt-clinic-1": clinician_claims(),
    "jwt-clinic-2": clinician_claims(sub="clin-2", clinics="clinic-2"),
}


class FakeIdentityProvider:
    def verify(self, token: str) -> dict[str, Any]:
        if token not in CLINICIAN_TOKENS:
            raise Unauthenticated("invalid_token", "The access token is not valid.")
        return CLINICIAN_TOKENS[token]


class Sockets:
    """What each connection id was sent through @connections."""

    def __init__(self) -> None:
        self.frames: dict[str, list[dict[str, Any]]] = {}

    def post(self, connection_id: str, data: bytes) -> None:
        self.frames.setdefault(connection_id, []).append(json.loads(data))


@pytest.fixture
def sockets(world: World, monkeypatch: pytest.MonkeyPatch) -> Sockets:
    connections, sockets = InMemoryConnections(), Sockets()
    realtime = Realtime(store=world.store, connections=connections, clock=world.clock)
    monkeypatch.setattr(runtime, "realtime", lambda: realtime)
    monkeypatch.setattr(runtime, "connections", lambda: connections)
    monkeypatch.setattr(runtime, "notifier", lambda: WebSocketNotifier(connections, sockets.post))
    monkeypatch.setattr(runtime, "clinician_tokens", FakeIdentityProvider)
    return sockets


def ws(
    route: str, connection_id: str, query: dict[str, str] | None = None, body: str | None = None
) -> int:
    event = {
        "requestContext": {"routeKey": route, "connectionId": connection_id, "eventType": route},
        "queryStringParameters": query,
        "body": body,
        "isBase64Encoded": False,
    }
    return int(realtime_handler(event, LambdaContext())["statusCode"])
