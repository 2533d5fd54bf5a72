"""The rules of events to the platform, with the network off: which change announces
what, what a payload may carry, the retry schedule, and one delivery's life."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from callpay.adapters.http_event_sender import signed_headers
from callpay.domain.errors import InvalidInput
from callpay.domain.payment_request import Failure, PaymentRequest, Status
from callpay.domain.platform_events import request_event
from callpay.domain.webhook_endpoint import (
    MAX_ATTEMPTS,
    Delivery,
    WebhookEndpoint,
    check_endpoint_url,
    new_secret,
    retry_delay,
)
from callpay.logic.platform_events import Delivered, EventDelivery, EventFanOut, RetryLater
from tests.support.fakes import (
    Clock,
    InMemoryEndpoints,
    RecordingDeliveryQueue,
    ReversibleSecrets,
    ScriptedSender,
)
from tests.unit.conftest import READY_CLINIC

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
REQUEST = PaymentRequest(
    id="pr_1", call_id="call-1", clinic_id="clinic-1", amount=8000, currency="aud",
    description="Psychology session", created_at=NOW, updated_at=NOW, requested_by="dr",
    receipt_email="alex@example.com",
)  # fmt: skip


def moved(request: PaymentRequest, **changes: object) -> PaymentRequest:
    return request.model_copy(update={"version": request.version + 1, **changes})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"status": Status.SUCCEEDED, "amount_captured": 8000}, "payment_request.succeeded"),
        ({"status": Status.FAILED, "failure": Failure(code="x", message="y")},
         "payment_request.failed"),
        ({"status": Status.CANCELED}, "payment_request.canceled"),
        ({"status": Status.PROCESSING}, "payment_request.updated"),
        ({"status": Status.AUTHORIZED, "amount_capturable": 8000}, "payment_request.updated"),
        ({"expiry_warned_at": NOW}, "payment_request.hold_expiring"),
        ({"receipt_email": "a@b.c", "locale": "en"}, None),  # the patient's checkout
    ],
)  # fmt: skip
def test_each_change_announces_its_event(changes: dict[str, object], expected: str | None) -> None:
    event = request_event(REQUEST, moved(REQUEST, **changes))
    assert (event.type if event else None) == expected
    assert request_event(None, REQUEST).type == "payment_request.created"  # type: ignore[union-attr]


def test_refunds_and_a_second_decline_are_announced_too() -> None:
    paid = REQUEST.model_copy(update={"status": Status.SUCCEEDED, "amount_captured": 8000})
    partly = moved(paid, status=Status.PARTIALLY_REFUNDED, amount_refunded=3000)
    more = moved(partly, amount_refunded=5000)
    assert request_event(paid, partly).type == "payment_request.refunded"  # type: ignore[union-attr]
    assert request_event(partly, more).type == "payment_request.refunded"  # type: ignore[union-attr]
    failed = REQUEST.model_copy(update={"status": Status.FAILED, "last_event_at": 10})
    again = moved(failed, last_event_at=20)
    assert request_event(failed, again).type == "payment_request.failed"  # type: ignore[union-attr]


def test_the_same_change_has_the_same_event_id() -> None:
    after = moved(REQUEST, status=Status.CANCELED)
    assert request_event(REQUEST, after) == request_event(REQUEST, after)


def test_a_payload_never_has_the_email_and_the_description_only_on_opt_in() -> None:
    event = request_event(None, REQUEST)
    assert event is not None
    hidden = json.loads(event.payload(share_description=False))
    shared = json.loads(event.payload(share_description=True))
    assert set(hidden) == {"type", "timestamp", "data"}
    assert "description" not in hidden["data"] and "alex@example.com" not in event.payload(True)
    assert shared["data"]["description"] == "Psychology session"
    assert hidden["data"]["updated_at"] == NOW.isoformat() and hidden["data"]["sequence"] == 1


def test_retries_back_off_exponentially_over_hours() -> None:
    delays = [retry_delay(attempt) for attempt in range(1, MAX_ATTEMPTS)]
    assert delays[:4] == [30, 60, 120, 240]
    assert max(delays) == 4 * 3600
    assert 10 * 3600 < sum(delays) < 14 * 3600


@pytest.mark.parametrize(
    ("url", "loopback_allowed", "ok"),
    [
        ("https://emr.example.com/hooks", False, True),
        ("http://emr.example.com/hooks", False, False),
        ("https://10.0.0.5/hooks", False, False),
        ("https://169.254.169.254/latest", False, False),
        ("https://user:pw@emr.example.com/", False, False),
        ("http://127.0.0.1:9000/hooks", False, False),
        ("http://127.0.0.1:9000/hooks", True, True),
        ("ftp://emr.example.com/", True, False),
    ],
)
def test_endpoint_urls_are_https_on_public_hosts(
    url: str, loopback_allowed: bool, ok: bool
) -> None:
    if ok:
        assert check_endpoint_url(url, loopback_allowed) == url
    else:
        with pytest.raises(InvalidInput):
            check_endpoint_url(url, loopback_allowed)


def test_signed_headers_verify_with_the_standardwebhooks_library() -> None:
    secret = new_secret()
    body = '{"type":"x"}'
    headers = signed_headers(secret, "evt_1", datetime.now(UTC), body)
    assert Webhook(secret).verify(body, headers) == {"type": "x"}


def endpoint(event_types: tuple[str, ...] = ()) -> WebhookEndpoint:
    return WebhookEndpoint(
        id="we_1", org_id="org-1", url="https://emr.example.com/hooks", event_types=event_types,
        created_at=NOW, created_by="boss", secret_ciphertext=ReversibleSecrets().seal(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "org-1", "we_1"),
    )  # fmt: skip


def test_fan_out_gives_each_subscribed_endpoint_one_delivery() -> None:
    endpoints, queue = InMemoryEndpoints(), RecordingDeliveryQueue()
    endpoints.add_endpoint(endpoint())
    endpoints.add_endpoint(endpoint(("invoice.paid",)).model_copy(update={"id": "we_2"}))
    fan_out = EventFanOut(lambda _: READY_CLINIC, endpoints, queue)
    event = request_event(None, REQUEST)
    assert event is not None
    assert fan_out.forward(event) == 1
    assert fan_out.forward(event) == 1  # forwarded again (a retried stream batch)
    assert {d.endpoint_id for d in queue.sent} == {"we_1"}
    assert len(endpoints.deliveries) == 1


def delivery() -> Delivery:
    return Delivery(
        endpoint_id="we_1", org_id="org-1", event_id="evt_1",
        event_type="payment_request.created", occurred_at=NOW, payload='{"a":1}',
    )  # fmt: skip


def service(sender: ScriptedSender, endpoints: InMemoryEndpoints) -> EventDelivery:
    return EventDelivery(endpoints, ReversibleSecrets(), sender, signed_headers, Clock())


def test_a_delivery_is_signed_sent_and_recorded_once() -> None:
    endpoints, sender = InMemoryEndpoints(), ScriptedSender()
    endpoints.add_endpoint(endpoint())
    deliveries = service(sender, endpoints)
    assert deliveries.deliver(delivery(), 1) is Delivered.DELIVERED
    ((url, body, headers),) = sender.posts
    assert url == "https://emr.example.com/hooks" and body == '{"a":1}'
    assert Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(body, headers) == {"a": 1}
    assert deliveries.deliver(delivery(), 2) is Delivered.ALREADY_DELIVERED
    assert len(sender.posts) == 1


def test_failures_retry_with_backoff_then_give_up_as_failed() -> None:
    endpoints, sender = InMemoryEndpoints(), ScriptedSender([500] * MAX_ATTEMPTS)
    endpoints.add_endpoint(endpoint())
    deliveries = service(sender, endpoints)
    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(RetryLater) as later:
            deliveries.deliver(delivery(), attempt)
        assert later.value.delay == retry_delay(attempt)
    assert deliveries.deliver(delivery(), MAX_ATTEMPTS) is Delivered.GAVE_UP
    (failed,) = endpoints.failed_deliveries("we_1")
    assert failed.attempts == MAX_ATTEMPTS and failed.last_error == "HTTP 500"


def test_nothing_goes_to_a_removed_endpoint() -> None:
    sender = ScriptedSender()
    assert service(sender, InMemoryEndpoints()).deliver(delivery(), 1) is Delivered.ENDPOINT_GONE
    assert sender.posts == []
