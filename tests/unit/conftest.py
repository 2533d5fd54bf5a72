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
from callpay.adapters.http_event_sender import signed_headers
from callpay.adapters.websocket_notifier import WebSocketNotifier
from callpay.domain.clinic import Clinic
from callpay.domain.errors import Unauthenticated
from callpay.logic.audit import AuditTrail
from callpay.logic.clinics import ClinicAdmin
from callpay.logic.connect_events import ConnectEvents
from callpay.logic.invoices import Invoices
from callpay.logic.no_show import NoShowFees
from callpay.logic.payment_requests import PaymentRequests
from callpay.logic.platform_events import EventDelivery, EventFanOut
from callpay.logic.realtime import Realtime
from callpay.logic.receipts import ReceiptBook, ReceiptMailing
from callpay.logic.stripe_events import StripeEvents
from callpay.logic.webhook_endpoints import WebhookEndpoints
from callpay.principals import platform_caller_of
from callpay.receipts.locales import negotiate
from callpay.receipts.render import render
from clinic_admin import composition as clinic_admin_parts
from platform_api import composition as platform_api_parts
from platform_delivery import composition as platform_delivery_parts
from platform_outbox import composition as platform_outbox_parts
from realtime import composition as realtime_parts
from realtime.handler import lambda_handler as realtime_handler
from request_payment import composition as request_payment_parts
from send_receipt import composition as send_receipt_parts
from stripe_webhook import composition as stripe_webhook_parts
from tests.support.contract import assert_declared, assert_feed_frame, feed
from tests.support.events import LambdaContext, clinician_claims
from tests.support.fakes import (
    Clock,
    FakeConnect,
    FakeGateway,
    FakeMailer,
    InMemoryConnections,
    InMemoryEndpoints,
    InMemoryLedger,
    InMemoryStore,
    RecordingDeliveryQueue,
    RecordingNotifier,
    RecordingQueue,
    ReversibleSecrets,
    ScriptedSender,
    tokens,
)


@pytest.fixture(autouse=True)
def _network_off() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture(autouse=True)
def _answers_kept_to_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every answer an HTTP handler gives in any unit test is one docs/openapi.json declares
    for its operation: status, content type, body schema, refusal codes (tests/support)."""
    import clinic_admin.handler  # noqa: PLC0415
    import request_payment.handler  # noqa: PLC0415
    import stripe_webhook.handler  # noqa: PLC0415

    for app in (request_payment.handler.app, clinic_admin.handler.app):
        resolve = app.resolve

        def checked(event: dict[str, Any], context: Any, resolve: Any = resolve) -> Any:
            response = resolve(event, context)
            http = event["requestContext"]["http"]
            assert_declared(http["method"], event["rawPath"], response)
            return response

        monkeypatch.setattr(app, "resolve", checked)
    webhook = stripe_webhook.handler
    for name in ("lambda_answer", "lambda_refusal"):
        original = getattr(webhook, name)

        def checked_webhook(*args: Any, original: Any = original, **kw: Any) -> Any:
            response = original(*args, **kw)
            assert_declared("POST", "/webhooks/stripe", response)
            return response

        monkeypatch.setattr(webhook, name, checked_webhook)


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
    endpoints: InMemoryEndpoints
    deliveries: RecordingDeliveryQueue


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
    monkeypatch.setattr(clinic_admin_parts, "clinic_admin", lambda: clinics)
    trail = AuditTrail(log=store, payments=store, clinics=store, clock=clock)
    monkeypatch.setattr(clinic_admin_parts, "audit_trail", lambda: trail)
    connect_events = ConnectEvents(clinics=store, events=store, clock=clock)
    monkeypatch.setattr(stripe_webhook_parts, "connect_events", lambda: connect_events)
    monkeypatch.setattr(send_receipt_parts, "receipts", lambda: receipts)
    monkeypatch.setattr(runtime, "receipt_book", lambda: book)
    monkeypatch.setattr(stripe_webhook_parts, "webhook_secrets", lambda: [WEBHOOK_SECRET])
    monkeypatch.setattr(request_payment_parts, "payment_requests", lambda: service)
    monkeypatch.setattr(request_payment_parts, "no_show_fees", lambda: NoShowFees(service))
    monkeypatch.setattr(runtime, "patient_tokens", tokens)
    monkeypatch.setattr(runtime, "clinician_tokens", lambda: None)
    monkeypatch.setattr(stripe_webhook_parts, "stripe_events", lambda: events)
    endpoints, deliveries = InMemoryEndpoints(), RecordingDeliveryQueue()
    registry = WebhookEndpoints(
        endpoints=endpoints, secrets=ReversibleSecrets(), queue=deliveries, clock=clock
    )
    monkeypatch.setattr(platform_api_parts, "webhook_endpoints", lambda: registry)
    fan_out = EventFanOut(clinic_of=store.get_clinic, endpoints=endpoints, queue=deliveries)
    monkeypatch.setattr(platform_outbox_parts, "event_fan_out", lambda: fan_out)
    delivery = EventDelivery(
        endpoints, ReversibleSecrets(), ScriptedSender(), signed_headers, clock
    )
    monkeypatch.setattr(platform_delivery_parts, "event_delivery", lambda: delivery)
    invoices = Invoices(invoices=store, clinic_of=store.get_clinic, clock=clock)
    monkeypatch.setattr(platform_api_parts, "invoices", lambda: invoices)
    monkeypatch.setattr(runtime, "platform_caller_of", lambda e: platform_caller_of(e, None))
    return World(store, gateway, clock, service, events, notifier, queue, connect, clinics, mailer,
                 endpoints, deliveries)  # fmt: skip


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
        frame = json.loads(data)
        assert_feed_frame(frame)  # every frame is one docs/asyncapi.yaml declares
        self.frames.setdefault(connection_id, []).append(frame)


@pytest.fixture
def sockets(world: World, monkeypatch: pytest.MonkeyPatch) -> Sockets:
    connections, sockets = InMemoryConnections(), Sockets()
    realtime = Realtime(store=world.store, connections=connections, clock=world.clock)
    monkeypatch.setattr(realtime_parts, "realtime", lambda: realtime)
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
    answer = realtime_handler(event, LambdaContext())
    if route == "$connect" and answer["statusCode"] != 200:
        problems = feed().handshake_problems(answer["statusCode"], answer["body"])
        assert not problems, problems
    return int(answer["statusCode"])
