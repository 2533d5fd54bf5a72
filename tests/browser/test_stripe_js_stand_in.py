"""The Stripe.js stand-in in Chromium: a page pays through it as it would through Stripe.js.

Each test pays a real payment request of the local stack with a minimal page of its own
(harness.py), and checks what the page shows, what confirmPayment answered, the
PaymentIntent on localstripe, callpay's stored request and the call's WebSocket feeds.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from devtools.local_client import CallFeed, direct_session
from devtools.local_client import expect as expect_answer
from devtools.processes import wait_until
from tests.browser.conftest import assert_accessible
from tests.browser.harness import CARD_FRAME, Checkout, HarnessPage
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
        complete = {"elementType": "payment", "empty": False, "complete": True,
                    "collapsed": False, "value": {"type": "card"}}  # fmt: skip
        assert harness.wait_for_change(complete=True) == complete
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


def test_a_declined_card_says_so_and_another_card_pays_the_same_payment_intent(
    stack: LocalStack, call: Call, page: Page, harness_origin: str
) -> None:
    clinician, patient = feeds(stack, call)
    with clinician, patient:
        request_id, paying = checkout(call, stack, 4500)
        harness = HarnessPage(page, harness_origin).open(paying)
        harness.enter_card(DECLINED_CARD)
        harness.pay()

        assert harness.outcome() == "Not paid: Your card was declined."
        error = harness.result()["error"]
        assert {k: error[k] for k in ("type", "code", "decline_code", "message")} == {
            "type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
            "message": "Your card was declined."}  # fmt: skip
        assert error["payment_intent"]["id"] == paying.intent_id
        assert error["payment_intent"]["status"] == "requires_payment_method"
        for feed in (clinician, patient):
            failed = feed.update_of(request_id, "failed", FEED_SECONDS)
            assert failed["failure"]["code"] == "card_declined"

        harness.enter_card(GOOD_CARD)
        harness.pay()
        assert harness.outcome() == "Payment succeeded"
        assert harness.result()["paymentIntent"]["id"] == paying.intent_id
        paid = clinician.update_of(request_id, "succeeded", FEED_SECONDS)
        assert paid["failure"] is None and paid["amount_captured"] == 4500
    assert localstripe_intent(stack, paying.intent_id)["status"] == "succeeded"
    assert stored(call, request_id)["status"] == "succeeded"


def test_three_d_secure_completed_pays_after_the_feed_said_requires_action(
    stack: LocalStack, call: Call, page: Page, harness_origin: str
) -> None:
    clinician, patient = feeds(stack, call)
    with clinician, patient:
        request_id, paying = checkout(call, stack)
        harness = HarnessPage(page, harness_origin).open(paying)
        harness.enter_card(THREE_D_SECURE_CARDS[0])
        harness.pay()

        complete = harness.challenge.get_by_role("button", name="Complete")
        expect(complete).to_be_visible()
        expect(harness.challenge.get_by_role("button", name="Fail")).to_be_visible()
        expect(harness.challenge.get_by_text("confirm a payment of A$80.00")).to_be_visible()
        assert harness.status == "Paying…"
        for feed in (clinician, patient):
            assert feed.update_of(request_id, "requires_action", FEED_SECONDS)["failure"] is None
        assert stored(call, request_id)["status"] == "requires_action"
        assert localstripe_intent(stack, paying.intent_id)["status"] == "requires_action"
        assert_accessible(page, "the 3-D Secure challenge")

        complete.click()
        assert harness.outcome() == "Payment succeeded"
        expect(page.locator('iframe[title="3D Secure authentication"]')).to_have_count(0)
        for feed in (clinician, patient):
            feed.update_of(request_id, "succeeded", FEED_SECONDS)
        statuses = [update["status"] for update in clinician.updates_of(request_id)]
        assert statuses == ["requested", "requires_action", "succeeded"]
    assert localstripe_intent(stack, paying.intent_id)["status"] == "succeeded"
    assert stored(call, request_id)["status"] == "succeeded"


def test_three_d_secure_failed_fails_on_both_feeds_and_another_card_then_pays(
    stack: LocalStack, call: Call, page: Page, harness_origin: str
) -> None:
    clinician, patient = feeds(stack, call)
    with clinician, patient:
        request_id, paying = checkout(call, stack)
        harness = HarnessPage(page, harness_origin).open(paying)
        harness.enter_card(THREE_D_SECURE_CARDS[1])
        harness.pay()
        for feed in (clinician, patient):
            feed.update_of(request_id, "requires_action", FEED_SECONDS)
        harness.challenge.get_by_role("button", name="Fail").click()

        assert harness.outcome() == (
            "Not paid: We are unable to authenticate your payment method. Please choose a "
            "different payment method and try again."
        )
        error = harness.result()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["code"] == "payment_intent_authentication_failure"
        assert error["payment_intent"]["status"] == "requires_payment_method"
        for feed in (clinician, patient):
            failed = feed.update_of(request_id, "failed", FEED_SECONDS)
            assert failed["failure"]["code"] == "payment_intent_authentication_failure"
        record = stored(call, request_id)
        assert record["status"] == "failed"
        assert record["failure"]["code"] == "payment_intent_authentication_failure"

        harness.enter_card(GOOD_CARD)
        harness.pay()
        assert harness.outcome() == "Payment succeeded"
        clinician.update_of(request_id, "succeeded", FEED_SECONDS)
    assert stored(call, request_id)["status"] == "succeeded"


def test_a_page_holding_unnamed_iframes_loads_the_stand_in_and_pays(
    stack: LocalStack, call: Call, page: Page, harness_origin: str
) -> None:
    _, paying = checkout(call, stack)
    harness = HarnessPage(page, harness_origin, "/with-iframes").open(paying)
    assert page.locator("iframe:not([name])").count() == 2
    harness.enter_card(GOOD_CARD)
    harness.pay()
    assert harness.outcome() == "Payment succeeded"
    assert localstripe_intent(stack, paying.intent_id)["status"] == "succeeded"


def test_the_card_fields_are_labelled_say_errors_in_words_and_pass_axe(
    stack: LocalStack, call: Call, page: Page, harness_origin: str
) -> None:
    _, paying = checkout(call, stack)
    harness = HarnessPage(page, harness_origin).open(paying)
    card = harness.card
    for label in ("Card number", "Expiration date", "Security code"):
        expect(card.get_by_text(label, exact=True)).to_be_visible()
        expect(card.get_by_label(label)).to_be_editable()
    assert_accessible(page, "the card fields")

    card.get_by_label("Card number").fill("4242 4242")
    card.get_by_label("Expiration date").focus()  # leaving the field shows its error
    number = card.get_by_label("Card number")
    expect(card.get_by_text("Your card number is incomplete.")).to_be_visible()
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(number).to_have_accessible_description("Your card number is incomplete.")
    harness.pay()
    assert harness.outcome() == "Not paid: Your card number is incomplete."
    assert harness.result()["error"] == {"type": "validation_error", "code": "incomplete_number",
                                         "message": "Your card number is incomplete."}  # fmt: skip
    expect(card.get_by_text("Your card's expiration date is incomplete.")).to_be_visible()
    assert_accessible(page, "the card fields showing errors")


def test_a_card_is_entered_and_paid_with_the_keyboard_alone(
    stack: LocalStack, call: Call, page: Page, harness_origin: str
) -> None:
    _, paying = checkout(call, stack)
    harness = HarnessPage(page, harness_origin).open(paying)
    keyboard, card = page.keyboard, harness.card
    # Each field is in focus (as a person sees it) before typing: the frame is another
    # process, so focus arrives there a moment after the key press.
    for label, typed in (("Card number", "4242424242424242"), ("Expiration date", "1234"),
                         ("Security code", "123")):  # fmt: skip
        keyboard.press("Tab")
        expect(card.get_by_label(label)).to_be_focused()
        keyboard.type(typed)
    expect(card.get_by_label("Card number")).to_have_value("4242 4242 4242 4242")
    expect(card.get_by_label("Expiration date")).to_have_value("12 / 34")
    expect(card.get_by_label("Security code")).to_have_value("123")
    keyboard.press("Tab")
    expect(page.get_by_role("button", name="Pay")).to_be_focused()
    keyboard.press("Enter")
    assert harness.outcome() == "Payment succeeded"
    assert page.locator(CARD_FRAME).count() == 1


def test_handle_next_action_shows_the_challenge_and_retrieve_sees_the_outcome(
    stack: LocalStack, call: Call, page: Page, harness_origin: str
) -> None:
    from tests.browser.test_stand_in_api import CARD, post  # noqa: PLC0415

    request_id, paying = checkout(call, stack)
    body = {"client_secret": paying.client_secret, "stripe_account": paying.stripe_account,
            "card": CARD | {"number": "4000002500003155"}}  # fmt: skip
    asked = post(stack, f"payment_intents/{paying.intent_id}/confirm", body)
    assert asked.json()["status"] == "requires_action"  # confirmed elsewhere, e.g. a server
    harness = HarnessPage(page, harness_origin).open(paying)
    page.evaluate(
        "(s) => { window.next = window.harness.stripe.handleNextAction({clientSecret: s}); }",
        paying.client_secret,
    )
    harness.challenge.get_by_role("button", name="Complete").click()
    assert page.evaluate("() => window.next")["paymentIntent"]["status"] == "succeeded"
    retrieved = page.evaluate(
        "(s) => window.harness.stripe.retrievePaymentIntent(s)", paying.client_secret
    )
    assert retrieved["paymentIntent"]["id"] == paying.intent_id
    assert retrieved["paymentIntent"]["status"] == "succeeded"
    again = page.evaluate(
        "(s) => window.harness.stripe.handleNextAction({clientSecret: s})", paying.client_secret
    )
    assert again["error"]["code"] == "payment_intent_unexpected_state"
    wait_until(lambda: stored(call, request_id)["status"] == "succeeded", FEED_SECONDS,
               "the request to be paid")  # fmt: skip
