"""Races over HTTP, as production has them: the stack runs each function in several
execution environments at once, so these requests really overlap (asserted from the
gateway's record of invocations), and the outcomes hold all the same."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import stripe

from devtools.local_client import direct_session, expect
from devtools.local_lambda import peak_concurrency
from devtools.processes import wait_until
from tests.e2e.conftest import (
    GOOD_CARD,
    Call,
    LocalStack,
    assert_overlapped,
    at_once,
)

pytestmark = pytest.mark.e2e

# Long enough to dwarf a warm invocation's own time, short of the Stripe client's timeout.
STRIPE_DELAY_SECONDS = 1.5


def checkout(call: Call, payment_request_id: str, email: str) -> requests.Response:
    return call.patient.post(
        f"/payment-requests/{payment_request_id}/checkout", {"email": email, "locale": "en-AU"}
    )


def paid(stack: LocalStack, call: Call, email: str, amount: int) -> tuple[str, str]:
    """A request of `amount` paid by the patient, once callpay has seen it succeed: its id
    and its PaymentIntent's."""
    created = call.request_payment(stack.clinic_id, amount)
    secret = call.checkout(created["id"], email)
    stack.browser().pay(secret, GOOD_CARD)
    wait_until(
        lambda: (
            call.clinician.get(f"/payment-requests/{created['id']}").json()["status"] == "succeeded"
        ),
        15,
        "the payment to succeed",
    )
    return created["id"], secret.partition("_secret_")[0]


@contextmanager
def slow_stripe(stack: LocalStack, seconds: float) -> Iterator[None]:
    """Every Stripe API call answered `seconds` late (localstripe's latency knob)."""
    url = f"{stack.endpoints.stripe_api_base}/_config/latency"
    with direct_session() as session:
        session.post(url, json={"seconds": seconds}, timeout=5).raise_for_status()
        try:
            yield
        finally:
            session.post(url, json={"seconds": 0}, timeout=5).raise_for_status()


def test_twenty_concurrent_checkouts_of_one_request_hand_out_one_payment_intent(
    stack: LocalStack, call: Call, email: str
) -> None:
    created = call.request_payment(stack.clinic_id, 6000)

    answers = at_once(20, lambda _: checkout(call, created["id"], email))

    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    secrets = {a.json()["client_secret"] for a in answers}
    assert len(secrets) == 1
    assert stack.browser().pay(secrets.pop(), GOOD_CARD).status == "succeeded"
    assert_overlapped(stack.invocations(answers), "request_payment")


def test_ten_concurrent_creates_with_one_idempotency_key_make_one_request(
    stack: LocalStack, call: Call
) -> None:
    body = {"clinic_id": stack.clinic_id, "amount": 2500, "currency": "aud",
            "description": "Follow-up"}  # fmt: skip
    path = f"/calls/{call.call_id}/payment-requests"

    answers = at_once(
        10, lambda _: call.clinician.post(path, body, headers={"Idempotency-Key": "once"})
    )

    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert [a.headers.get("Idempotent-Replayed") for a in answers].count(None) == 1
    listed = expect(call.clinician.get(path), 200, "the call's requests")["payment_requests"]
    assert [r["id"] for r in listed] == [answers[0].json()["id"]]
    assert_overlapped(stack.invocations(answers), "request_payment")


def test_concurrent_refunds_never_refund_more_than_was_paid(
    stack: LocalStack, call: Call, email: str
) -> None:
    request_id, intent_id = paid(stack, call, email, 8000)
    admin = stack.api(stack.clinician_token("casey-admin", role="team_admin"))
    path = f"/payment-requests/{request_id}/refunds"

    answers = at_once(
        6,
        lambda i: admin.post(
            path,
            {"amount": 3000, "reason": "requested_by_customer"},
            headers={"Idempotency-Key": f"refund-{i}"},
        ),
    )

    refunded = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert len(refunded) == 2, [a.text for a in answers]
    # Refused by callpay's own check, or by Stripe's when the race got past it.
    assert {(a.status_code, a.json()["error"]["code"]) for a in refused} <= {
        (409, "stripe_rejected"),
        (422, "refund_too_large"),
    }
    stored = expect(call.clinician.get(f"/payment-requests/{request_id}"), 200, "request")
    assert (stored["status"], stored["amount_refunded"]) == ("partially_refunded", 6000)
    client = stripe.StripeClient(
        "sk_test_e2e",
        base_addresses={"api": stack.endpoints.stripe_api_base},
        http_client=stripe.RequestsClient(session=direct_session()),
    )
    intent = client.v1.payment_intents.retrieve(intent_id, params={"expand": ["latest_charge"]})
    assert intent.latest_charge.amount_refunded == 6000  # type: ignore[union-attr]
    assert_overlapped(stack.invocations(answers), "request_payment")


def test_two_slow_invocations_of_one_function_finish_in_about_the_time_of_one(
    stack: LocalStack, call: Call, email: str
) -> None:
    requests_ = [call.request_payment(stack.clinic_id, amount) for amount in (1000, 2000)]
    with slow_stripe(stack, 0.3):  # two environments warm, whatever ran before
        at_once(2, lambda i: checkout(call, requests_[i]["id"], email))

    with slow_stripe(stack, STRIPE_DELAY_SECONDS):
        started = time.perf_counter()
        timed = at_once(2, lambda i: _timed(lambda: checkout(call, requests_[i]["id"], email)))
        both = time.perf_counter() - started

    answers = [answer for answer, _ in timed]
    assert [a.status_code for a in answers] == [200, 200]
    # Each waited for its slow Stripe call, and the two waits overlapped.
    assert all(seconds >= STRIPE_DELAY_SECONDS for _, seconds in timed)
    assert both < 1.5 * STRIPE_DELAY_SECONDS, f"{both:.2f}s for two, {timed}"
    invocations = stack.invocations(answers)
    assert_overlapped(invocations, "request_payment")
    assert peak_concurrency(invocations) == 2


def _timed(action: Any) -> tuple[requests.Response, float]:
    started = time.perf_counter()
    answer = action()
    return answer, time.perf_counter() - started
