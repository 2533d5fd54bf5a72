"""The Stripe.js stand-in in Chromium: a page pays through it as it would through Stripe.js.

Each test pays a real payment request of the local stack with a minimal page of its own
(harness.py), and checks what the page shows, what confirmPayment answered, the
PaymentIntent on localstripe, callpay's stored request and the call's WebSocket feeds.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from devtools.local_client import CallFeed, direct_session
from devtools.local_client import expect as expect_answer
from tests.browser.harness import Checkout, HarnessPage
from tests.e2e.conftest import Call, LocalStack, start_call

pytestmark = pytest.mark.browser

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0341"
THREE_D_SECURE_CARDS = ("4000 0025 0000 3155", "4000 0027 6000 3184")
FEED_SECONDS = 15


def localstripe_intent(stack: LocalStack, intent_id: str) -> dict[str, Any]:
    """The PaymentIntent as localstripe holds it (the secret key, as callpay reads it)."""
    with direct_session() as session:
        answer = session.get(
            f"{stack.endpoints.stripe_api_base}/v1/payment_intents/{intent_id}",
            headers={"Authorization": "Bearer sk_test_local"},
            timeout=10,
        )
    answer.raise_for_status()
    intent: dict[str, Any] = answer.json()
    return intent


def checkout(call: Call, stack: LocalStack, amount: int = 8000) -> tuple[str, Checkout]:
    created = call.request_payment(stack.clinic_id, amount)
    answer = expect_answer(
        call.patient.post(
            f"/payment-requests/{created['id']}/checkout", {"email": "alex@example.com"}
        ),
        200,
        "checkout",
    )
    return created["id"], Checkout.of(answer)


def stored(call: Call, request_id: str) -> dict[str, Any]:
    request: dict[str, Any] = expect_answer(
        call.clinician.get(f"/payment-requests/{request_id}"), 200, "the request"
    )
    return request


def feeds(stack: LocalStack, call: Call) -> tuple[CallFeed, CallFeed]:
    clinician = stack.feed(call.call_id, call.clinician_token).open()
    patient = stack.feed(call.call_id, call.patient_token).open()
    clinician.sync()
    patient.sync()
    return clinician, patient


@pytest.fixture
def call(stack: LocalStack) -> Call:
    return start_call(stack)


def test_a_card_entered_in_the_frame_pays_and_the_clinician_hears_of_it(
    stack: LocalStack, call: Call, page: Page, harness_origin: str
) -> None:
    clinician, patient = feeds(stack, call)
    with clinician, patient:
        request_id, paying = checkout(call, stack)
        harness = HarnessPage(page, harness_origin).open(paying)
        harness.enter_card(GOOD_CARD)
        assert harness.changes()[-1] == {"elementType": "payment", "empty": False,
                                         "complete": True, "collapsed": False,
                                         "value": {"type": "card"}}  # fmt: skip
        harness.pay()

        assert harness.outcome() == "Payment succeeded"
        intent = harness.result()["paymentIntent"]
        assert intent["id"] == paying.intent_id and intent["status"] == "succeeded"
        assert "metadata" not in intent  # a publishable key does not see it
        assert localstripe_intent(stack, paying.intent_id)["status"] == "succeeded"
        pop_up = clinician.update_of(request_id, "succeeded", FEED_SECONDS)
        assert pop_up["amount_captured"] == 8000
        patient.update_of(request_id, "succeeded", FEED_SECONDS)
    assert stored(call, request_id)["status"] == "succeeded"
