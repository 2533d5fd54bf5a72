"""Webhook deliveries signed by the test, against the real store on moto's server."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from callpay import runtime
from callpay.domain.clinic import Clinic
from callpay.domain.payment_request import PaymentRequest, Status
from tests.integration.conftest import (
    ACCOUNT_SECRET,
    CONNECT_SECRET,
    TABLE,
    deliver,
)
from tests.integration.test_payment_loop import request_payment
from tests.support.stripe_events import encode, intent_event, signature

pytestmark = pytest.mark.integration


def new_request(clinic: Clinic) -> PaymentRequest:
    created = request_payment(clinic, f"call-{uuid.uuid4().hex[:8]}")
    request = runtime.store().get(created["id"])
    assert request is not None and request.payment_intent_id
    return request


def send(
    event: dict[str, Any], secret: str = ACCOUNT_SECRET, *, timestamp: int | None = None,
    as_base64: bool = False, header_name: str = "stripe-signature",
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    body = encode(event)
    headers = {header_name: signature(body, secret, timestamp), "content-type": "application/json"}
    status, answer = deliver(body, headers, as_base64=as_base64)
    return status, json.loads(answer)


def succeeded(request: PaymentRequest, **kw: Any) -> dict[str, Any]:
    assert request.payment_intent_id
    return intent_event("payment_intent.succeeded", request.payment_intent_id, request.id, **kw)


def status_of(request: PaymentRequest) -> Status:
    stored = runtime.store().get(request.id)
    assert stored is not None
    return stored.status


def test_good_signature_is_applied(clinic: Clinic) -> None:
    request = new_request(clinic)
    status, body = send(succeeded(request))
    assert (status, body) == (200, {"received": True, "outcome": "applied"})
    assert status_of(request) is Status.SUCCEEDED


def test_signature_header_name_is_case_insensitive(clinic: Clinic) -> None:
    request = new_request(clinic)
    assert send(succeeded(request), header_name="Stripe-Signature")[0] == 200
    assert status_of(request) is Status.SUCCEEDED


def test_second_secret_is_accepted(clinic: Clinic) -> None:
    request = new_request(clinic)
    assert send(succeeded(request), CONNECT_SECRET)[0] == 200
    assert status_of(request) is Status.SUCCEEDED


def test_base64_body_is_verified_on_the_decoded_bytes(clinic: Clinic) -> None:
    request = new_request(clinic)
    assert send(succeeded(request), as_base64=True)[0] == 200
    assert status_of(request) is Status.SUCCEEDED


@pytest.mark.parametrize(
    "how", ["tampered", "stale", "future", "wrong_secret", "missing", "garbage", "not_utf8"]
)
def test_unverifiable_delivery_is_400_and_changes_nothing(clinic: Clinic, how: str) -> None:
    request = new_request(clinic)
    body = encode(succeeded(request))
    header = signature(body, ACCOUNT_SECRET)
    if how == "tampered":
        body = body.replace(b'"amount": 8000', b'"amount": 1')
    elif how == "stale":
        header = signature(body, ACCOUNT_SECRET, int(time.time()) - 301)
    elif how == "future":
        header = signature(body, ACCOUNT_SECRET, int(time.time()) + 3600)
    elif how == "wrong_secret":
        header = signature(body, "whsec_someone_else")
    elif how == "garbage":
        header = "t=abc,v1=zzz"
    elif how == "not_utf8":
        body = b"\xff\xfe" + body
        header = signature(body, ACCOUNT_SECRET)
    headers = {} if how == "missing" else {"stripe-signature": header}
    status, answer = deliver(body, headers, as_base64=how == "not_utf8")
    assert status == 400
    assert json.loads(answer)["error"]["code"] == "invalid_signature"
    assert status_of(request) is Status.REQUESTED


def test_signed_but_malformed_event_is_400(clinic: Clinic) -> None:
    body = b'{"not": "an event"}'
    status, answer = deliver(body, {"stripe-signature": signature(body, ACCOUNT_SECRET)})
    assert status == 400 and json.loads(answer)["error"]["code"] == "malformed_event"


def test_events_not_ours_or_not_handled_are_200_and_ignored(clinic: Clinic) -> None:
    request = new_request(clinic)
    foreign = intent_event("payment_intent.succeeded", "pi_not_ours", None)
    assert send(foreign) == (200, {"received": True, "outcome": "ignored"})
    unhandled = intent_event("customer.created", request.payment_intent_id or "", request.id)
    assert send(unhandled)[1]["outcome"] == "ignored"
    assert status_of(request) is Status.REQUESTED


def test_duplicate_delivery_has_one_effect(clinic: Clinic) -> None:
    request = new_request(clinic)
    event = succeeded(request)
    assert send(event)[1]["outcome"] == "applied"
    assert send(event) == (200, {"received": True, "outcome": "duplicate"})
    actions = [a.action for a in runtime.store().audit_trail(request.id)]
    assert actions == ["created", "status.succeeded"]


def delivered_until_taken(event: dict[str, Any], attempts: int = 5) -> tuple[str, int]:
    """As Stripe delivers: a 503 (the store too busy to answer in time, which can happen
    with eight writers on one loaded moto) is delivered again. The outcome that was taken,
    and how many 503s came before it."""
    for busy in range(attempts):
        status, answer = send(event)
        if status != 503:
            assert status == 200, answer
            return str(answer["outcome"]), busy
    raise AssertionError(f"still 503 after {attempts} deliveries")


def test_concurrent_duplicate_deliveries_apply_once(clinic: Clinic) -> None:
    request = new_request(clinic)
    event = succeeded(request)
    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(lambda _: delivered_until_taken(event), range(8)))
    outcomes = sorted(outcome for outcome, _ in taken)
    assert [a.action for a in runtime.store().audit_trail(request.id)] == [
        "created",
        "status.succeeded",
    ]
    if not any(busy for _, busy in taken):
        assert outcomes == ["applied"] + ["duplicate"] * 7
    else:
        # A 503 may come after the write landed (every try's answer too late): that
        # delivery is then answered as a duplicate when Stripe delivers it again.
        assert outcomes in (["applied"] + ["duplicate"] * 7, ["duplicate"] * 8)


def test_processed_event_ids_are_kept_at_least_four_days(clinic: Clinic) -> None:
    request = new_request(clinic)
    event = succeeded(request)
    send(event)
    item = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"PK": {"S": f"EVENT#{event['id']}"}, "SK": {"S": "EVENT"}}
    )["Item"]
    assert int(item["expires_at"]["N"]) - time.time() >= 4 * 24 * 3600


# (event type, seconds after creation) in the order Stripe would emit them.
SEQUENCES = {
    "paid": [("processing", 1), ("succeeded", 2)],
    "declined_then_paid": [("payment_failed", 1), ("processing", 5), ("succeeded", 6)],
    "three_d_secure": [("requires_action", 1), ("payment_failed", 3), ("requires_action", 5),
                       ("succeeded", 9)],
    "hold_captured": [("amount_capturable_updated", 1), ("succeeded", 60)],
    "hold_released": [("amount_capturable_updated", 1), ("canceled", 60)],
}  # fmt: skip
PAIRS = [
    (name, i, j)
    for name, steps in SEQUENCES.items()
    for i, j in itertools.combinations(range(len(steps)), 2)
]


@pytest.mark.parametrize(("name", "earlier", "later"), PAIRS)
def test_every_out_of_order_pair_keeps_the_later_state(
    clinic: Clinic, name: str, earlier: int, later: int
) -> None:
    request = new_request(clinic)
    assert request.payment_intent_id
    base = int(time.time()) - 120

    def event(index: int) -> dict[str, Any]:
        kind, offset = SEQUENCES[name][index]
        return intent_event(
            f"payment_intent.{kind}",
            request.payment_intent_id or "",
            request.id,
            created=base + offset,
        )

    assert send(event(later))[1]["outcome"] == "applied"
    expected = status_of(request)
    assert send(event(earlier))[1]["outcome"] == "stale"
    assert status_of(request) is expected
