"""Signed events to the platform's endpoints, over moto (the table's stream, SQS FIFO, KMS)
and real HTTP receivers, verified with the `standardwebhooks` library as a platform would."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callpay import runtime
from callpay.adapters import http_event_sender
from callpay.domain.clinic import Clinic, change_clinic
from callpay.domain.payment_request import Status
from callpay.domain.webhook_endpoint import MAX_ATTEMPTS
from platform_api.handler import lambda_handler as platform_api
from platform_delivery import composition as platform_delivery_parts
from request_payment.handler import lambda_handler as request_payment_handler
from tests.integration.conftest import Stack, claims_for
from tests.integration.test_clinic_setup import connect_event
from tests.integration.test_payment_loop import GOOD_CARD, patient_checkout, pay, stored
from tests.integration.test_webhook import send
from tests.support.events import LambdaContext, http_event, reply
from tests.support.servers import PlatformReceiver, wait_until
from tests.support.stripe_events import intent_event

pytestmark = pytest.mark.integration


@pytest.fixture
def org_clinic(stack: Stack) -> Clinic:
    """A clinic of an organisation of its own: its endpoints see only this test's events."""
    clinic = Clinic(
        clinic_id=f"clinic-{uuid.uuid4().hex[:8]}", org_id=f"org-{uuid.uuid4().hex[:8]}",
        enabled=True, stripe_account_id="acct_local", charges_enabled=True,
    )  # fmt: skip
    runtime.store().put_clinic(clinic)
    return clinic


@pytest.fixture
def receiver() -> Iterator[PlatformReceiver]:
    receiver = PlatformReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A receiver that never answers times out in half a second here, not ten."""
    monkeypatch.setattr(http_event_sender, "READ_SECONDS", 0.5)
    platform_delivery_parts.event_delivery.cache_clear()
    yield
    monkeypatch.undo()
    platform_delivery_parts.event_delivery.cache_clear()


def org_admin(clinic: Clinic) -> dict[str, str]:
    return claims_for(clinic, "org-admin", "org_admin")


def register(clinic: Clinic, url: str, **body: Any) -> dict[str, Any]:
    event = http_event(
        "POST", f"/orgs/{clinic.org_id}/webhook-endpoints", {"url": url, **body},
        claims=org_admin(clinic),
    )  # fmt: skip
    status, created = reply(platform_api(event, LambdaContext()))
    assert status == 201, created
    return created


def new_request(clinic: Clinic, amount: int = 8000) -> dict[str, Any]:
    body = {"clinic_id": clinic.clinic_id, "amount": amount, "currency": "aud",
            "description": "Psychology session"}  # fmt: skip
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    event = http_event(
        "POST", f"/calls/{call_id}/payment-requests", body, claims=claims_for(clinic)
    )
    status, created = reply(request_payment_handler(event, LambdaContext()))
    assert status == 201, created
    return created | {"call_id": call_id}


def pump(stack: Stack, rounds: int = 1) -> None:
    """What Lambda does in AWS: the stream to platform_outbox, the queue to platform_delivery
    (failed messages made visible again at once instead of after their backoff)."""
    for _ in range(rounds):
        stack.outbox.drain()
        stack.deliveries.drain(retry_now=True)


def verified(secret: str, headers: dict[str, str], body: str) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(secret).verify(body, headers)
    return payload


def test_events_arrive_signed_once_each_without_the_patients_email(
    stack: Stack, org_clinic: Clinic, receiver: PlatformReceiver
) -> None:
    endpoint = register(org_clinic, receiver.url, description="EMR")
    assert endpoint["secret"].startswith("whsec_")
    created = new_request(org_clinic)
    patient_checkout(org_clinic, created["call_id"], created["id"], email="alex@example.com")
    intent_id = stored(created["id"]).payment_intent_id
    assert intent_id
    pay(stack, intent_id, GOOD_CARD)
    wait_until(lambda: stored(created["id"]).status is Status.SUCCEEDED, what="the payment")
    # Stripe says it again, and delivers that twice: the payment changed once, so one event.
    again = intent_event("payment_intent.succeeded", intent_id, created["id"])
    assert [send(again)[1]["outcome"] for _ in range(2)] == ["stale", "duplicate"]
    pump(stack)

    bodies = [verified(endpoint["secret"], h, b) for h, b in receiver.accepted]
    assert [b["type"] for b in bodies] == ["payment_request.created", "payment_request.succeeded"]
    paid = bodies[1]["data"]
    assert paid["id"] == created["id"] and paid["status"] == "succeeded"
    assert paid["amount_captured"] == 8000 and paid["currency"] == "aud" and paid["paid_at"]
    assert [b["data"]["sequence"] for b in bodies] == sorted(b["data"]["sequence"] for b in bodies)
    raw = "".join(body for _, body in receiver.accepted)
    assert "alex@example.com" not in raw and "Psychology" not in raw
    headers = receiver.accepted[0][0]
    assert headers["webhook-id"].startswith("evt_") and headers["webhook-timestamp"].isdigit()
    assert headers["webhook-signature"].startswith("v1,")
    assert len({h["webhook-id"] for h, _ in receiver.accepted}) == 2


def test_the_description_goes_only_where_the_clinic_opted_in(
    stack: Stack, org_clinic: Clinic, receiver: PlatformReceiver
) -> None:
    endpoint = register(org_clinic, receiver.url, event_types=["payment_request.created"])
    runtime.store().put_clinic(
        org_clinic.model_copy(update={"share_description_with_platform": True})
    )
    created = new_request(org_clinic)
    status, _ = reply(request_payment_handler(http_event(
        "POST", f"/payment-requests/{created['id']}/cancel", claims=claims_for(org_clinic)
    ), LambdaContext()))  # fmt: skip
    assert status == 200
    pump(stack)
    (body,) = [verified(endpoint["secret"], h, b) for h, b in receiver.accepted]
    # Only the subscribed type, and with the clinic's opt-in the description.
    assert body["type"] == "payment_request.created"
    assert body["data"]["description"] == "Psychology session"


def test_a_receiver_failing_the_first_deliveries_gets_every_event_in_order(
    stack: Stack, org_clinic: Clinic
) -> None:
    receiver = PlatformReceiver(fail_first=3)
    try:
        endpoint = register(org_clinic, receiver.url)
        requests = [new_request(org_clinic, amount) for amount in (5000, 6000, 7000)]
        pump(stack, rounds=6)
        bodies = [verified(endpoint["secret"], h, b) for h, b in receiver.accepted]
        assert [b["data"]["id"] for b in bodies] == [r["id"] for r in requests]
        # The first event was refused three times and held the others back meanwhile.
        first_id = receiver.attempts[0][0]["webhook-id"]
        assert [h["webhook-id"] for h, _, _ in receiver.attempts[:4]] == [first_id] * 4
        assert [status for _, _, status in receiver.attempts] == [500, 500, 500, 204, 204, 204]
        records = runtime.endpoint_store()
        delivery = records.get_delivery(
            endpoint["id"],
            f"{bodies[0]['timestamp']}#{first_id}",
        )
        assert delivery is not None and delivery.status == "delivered"
        assert delivery.attempts == 4
    finally:
        receiver.close()


def test_a_failed_attempt_waits_its_backoff_before_the_next(
    stack: Stack, org_clinic: Clinic
) -> None:
    receiver = PlatformReceiver(fail_first=1)
    try:
        register(org_clinic, receiver.url)
        new_request(org_clinic)
        stack.outbox.drain()
        assert stack.deliveries.poll_once() == (1, 1)
        # Held back for 30 s: nothing to receive now (the queue's message is out of sight).
        assert stack.deliveries.poll_once() == (0, 0)
        assert len(receiver.attempts) == 1
    finally:
        receiver.close()
        # Its retry, when it comes back, finds no endpoint and is dropped.
        endpoints = runtime.endpoint_store().endpoints_of(org_clinic.org_id)
        for endpoint in endpoints:
            runtime.endpoint_store().remove_endpoint(org_clinic.org_id, endpoint.id)


@pytest.mark.usefixtures("quick_timeouts")
def test_a_receiver_that_never_answers_is_dead_lettered_then_replayed(
    stack: Stack, org_clinic: Clinic
) -> None:
    receiver = PlatformReceiver(hanging=True)
    try:
        endpoint = register(org_clinic, receiver.url)
        created = new_request(org_clinic)
        pump(stack, rounds=MAX_ATTEMPTS + 1)
        assert len(receiver.attempts) == MAX_ATTEMPTS
        (failed,) = runtime.endpoint_store().failed_deliveries(endpoint["id"])
        assert failed.attempts == MAX_ATTEMPTS and failed.last_error == "ReadTimeoutError"
        sqs = boto3.client("sqs")
        dead = sqs.receive_message(QueueUrl=stack.delivery_dead_letters, MaxNumberOfMessages=10)
        assert any(
            json.loads(m["Body"])["event_id"] == failed.event_id for m in dead.get("Messages", [])
        )

        receiver.hanging = False  # the platform is back
        replay = http_event(
            "POST", f"/orgs/{org_clinic.org_id}/webhook-endpoints/{endpoint['id']}/replay",
            claims=org_admin(org_clinic),
        )  # fmt: skip
        assert reply(platform_api(replay, LambdaContext())) == (202, {"replayed": 1})
        pump(stack)
        ((headers, body),) = receiver.accepted
        assert verified(endpoint["secret"], headers, body)["data"]["id"] == created["id"]
        assert headers["webhook-id"] == failed.event_id  # the same message, sent again
        assert runtime.endpoint_store().failed_deliveries(endpoint["id"]) == []
        # Replaying again finds nothing left to send.
        assert reply(platform_api(replay, LambdaContext())) == (202, {"replayed": 0})
    finally:
        receiver.close()


def test_a_tampered_secret_or_body_does_not_verify(
    stack: Stack, org_clinic: Clinic, receiver: PlatformReceiver
) -> None:
    endpoint = register(org_clinic, receiver.url)
    new_request(org_clinic)
    pump(stack)
    ((headers, body),) = receiver.accepted
    verified(endpoint["secret"], headers, body)
    other = register(org_clinic, receiver.url)["secret"]
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(body.replace("8000", "1"), headers)


def test_a_clinics_stripe_account_changes_are_announced(
    stack: Stack, org_clinic: Clinic, receiver: PlatformReceiver
) -> None:
    endpoint = register(org_clinic, receiver.url, event_types=["clinic.stripe_account.updated"])
    account = f"acct_{uuid.uuid4().hex[:14]}"
    before = runtime.clinic_store().get_clinic(org_clinic.clinic_id)
    assert before is not None
    linked = before.model_copy(update={"stripe_account_id": account, "charges_enabled": False})
    runtime.clinic_store().save_clinic(
        change_clinic(before, linked, action="stripe_account.linked", actor="admin",
                      subject="org-admin", at=datetime.now(UTC)),
        account_linked=account,
    )  # fmt: skip
    # Stripe says the account can now take charges (a Connect event).
    account_object = {"id": account, "object": "account", "charges_enabled": True,
                      "details_submitted": True, "requirements": {"currently_due": []}}  # fmt: skip
    assert connect_event("account.updated", account_object, account) == (200, "applied")
    pump(stack)
    bodies = [verified(endpoint["secret"], h, b) for h, b in receiver.accepted]
    assert [b["type"] for b in bodies] == ["clinic.stripe_account.updated"] * 2
    assert [(b["data"]["stripe_account_linked"], b["data"]["charges_enabled"]) for b in bodies] == [
        (True, False), (True, True),
    ]  # fmt: skip
    assert all(b["data"]["clinic_id"] == org_clinic.clinic_id for b in bodies)
