"""Edge cases at the boundaries: currencies, squatted calls, a Stripe ahead of us,
undecodable bodies, early refunds, itemised holds, failing sockets, spreadsheet cells."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from callpay.adapters.websocket_notifier import ConnectionGone, WebSocketNotifier
from callpay.domain.connection import Connection
from callpay.domain.payment_request import PaymentRequest, Status
from callpay.domain.stripe_objects import StripeEvent
from callpay.logic.stripe_events import Outcome
from clinic_admin.handler import neutralise
from stripe_webhook.handler import lambda_handler as webhook
from tests.support.events import LambdaContext, clinician_claims, http_event, reply
from tests.support.fakes import InMemoryConnections
from tests.support.stripe_events import charge_object, encode, event, intent_event, signature
from tests.unit.conftest import WEBHOOK_SECRET, World
from tests.unit.test_capture import capture
from tests.unit.test_request_payment_api import BODY, CLINICIAN, call, checkout, create


def test_a_request_in_another_currency_than_the_clinics_is_refused(world: World) -> None:
    world.store.clinics["clinic-1"] = world.store.clinics["clinic-1"].model_copy(
        update={"maximum_amount": 50_000}
    )
    status, body = create(BODY | {"currency": "usd", "amount": 50_000})
    assert status == 422 and body["error"]["code"] == "currency_not_accepted"
    assert world.store.requests == {} and world.store.calls == {}


def test_a_made_up_clinic_cannot_claim_a_call(world: World) -> None:
    ghost = clinician_claims(sub="ghost", clinics="clinic-ghost")
    status, body = call(
        http_event(
            "POST", "/calls/call-1/patient-access", {"clinic_id": "clinic-ghost"}, claims=ghost
        )
    )
    assert status == 409 and body["error"]["code"] == "payments_not_enabled"
    assert world.store.call_clinic("call-1") is None


def test_checkout_refuses_an_intent_stripe_already_charged(world: World) -> None:
    _, created = create()
    world.gateway.status = "succeeded"  # the webhook is still on its way
    status, body = checkout(created["id"], {"email": "p@example.com"})
    assert status == 409 and body["error"]["code"] == "already_paid"


def test_an_undecodable_base64_body_is_400(world: World) -> None:
    event = http_event("POST", "/calls/call-1/payment-requests", claims=CLINICIAN)
    event["body"], event["isBase64Encoded"] = base64.b64encode(b"\xff\xfe{").decode(), True
    status, body = call(event)
    assert status == 400 and body["error"]["code"] == "malformed_body"
    event["body"] = "not base64!"
    assert call(event)[0] == 400
    assert world.store.requests == {}


def deliver(event: dict[str, Any]) -> tuple[int, Any]:
    """A Stripe event signed with the unit world's secret, through the webhook handler."""
    payload = encode(event)
    api_event = {"headers": {"stripe-signature": signature(payload, WEBHOOK_SECRET)},
                 "body": payload.decode(), "isBase64Encoded": False}  # fmt: skip
    return reply(webhook(api_event, LambdaContext()))


def test_a_refund_before_the_payment_is_known_is_retried_not_lost(world: World) -> None:
    _, created = create()
    refund = event("charge.refunded", charge_object("pi_1", captured=8000, refunded=8000))
    refund |= {"id": "evt_refund", "created": 300}
    status, body = deliver(refund)
    assert status == 409 and body["error"]["code"] == "not_yet_paid"
    assert "evt_refund" not in world.store.events  # so Stripe's redelivery is not a duplicate
    world.events.apply(
        StripeEvent.model_validate(
            intent_event("payment_intent.succeeded", "pi_1", created["id"], created=200)
        )
    )
    assert deliver(refund) == (200, {"received": True, "outcome": Outcome.APPLIED.value})
    assert world.store.get(created["id"]).status is Status.REFUNDED  # type: ignore[union-attr]


def test_a_signed_event_with_a_malformed_object_is_400(world: World) -> None:
    event = {"id": "evt_x", "type": "payment_intent.succeeded", "created": 1,
             "data": {"object": {"object": "payment_intent", "amount": "lots"}}}  # fmt: skip
    status, body = deliver(event)
    assert status == 400 and body["error"]["code"] == "malformed_event"


def test_an_itemised_hold_is_captured_whole(world: World) -> None:
    items = [
        {"description": "Consultation", "amount": 6000},
        {"description": "Script", "amount": 2000},
    ]
    _, created = create(BODY | {"capture_method": "manual", "line_items": items})
    event = intent_event("payment_intent.amount_capturable_updated", "pi_1", created["id"])
    world.events.apply(StripeEvent.model_validate(event))
    status, body = capture(created["id"], {"amount": 6000})
    assert status == 422 and body["error"]["code"] == "capture_with_line_items"
    assert capture(created["id"], {})[0] == 200


def test_a_push_survives_a_store_that_cannot_forget_a_stale_socket() -> None:
    class FailingConnections(InMemoryConnections):
        def remove(self, connection_id: str) -> None:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException"}}, "Delete"
            )

    now = datetime.now(UTC)
    connections = FailingConnections()
    connections.add(Connection(connection_id="gone", call_id="c", audience="patient",
                               subject="s", connected_at=now))  # fmt: skip

    def post(connection_id: str, data: bytes) -> None:
        raise ConnectionGone(connection_id)

    request = PaymentRequest(id="pr_1", call_id="c", clinic_id="k", amount=1, currency="aud",
                             description="x", created_at=now, updated_at=now,
                             requested_by="s")  # fmt: skip
    notifier = WebSocketNotifier(connections, post)
    notifier.payment_request_updated(request)  # must not raise
    notifier.send("gone", json.dumps({"type": "pong"}).encode())


def test_spreadsheet_formulas_are_neutralised_in_every_text_cell() -> None:
    assert neutralise("=1+2") == "'=1+2"
    assert neutralise("\t=cmd") == "'\t=cmd"
    assert neutralise("-5") == "'-5"
    assert neutralise(-5) == -5 and neutralise(None) == ""
    assert neutralise("Telehealth") == "Telehealth"
