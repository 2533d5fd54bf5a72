"""The stand-in's server part over HTTP: Stripe's error shapes for bad input, nothing changed.

No browser here: these are the answers its frames get for what a page should never send.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from devtools.local_client import direct_session
from tests.browser.test_stripe_js_stand_in import GOOD_CARD, checkout, localstripe_intent
from tests.e2e.conftest import LocalStack, start_call

pytestmark = pytest.mark.browser

CARD = {"number": GOOD_CARD.replace(" ", ""), "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def post(
    stack: LocalStack, path: str, body: Any = None, data: bytes | None = None
) -> requests.Response:
    with direct_session() as session:
        return session.post(
            f"{stack.endpoints.http_url}/stripe-js/api/{path}", json=body, data=data, timeout=15
        )


def error_of(answer: requests.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    error: dict[str, Any] = answer.json()["error"]
    assert error["type"] and error["code"] and error["message"]
    return error


def test_bad_requests_get_stripe_errors_and_change_nothing(stack: LocalStack) -> None:
    _, paying = checkout(start_call(stack), stack)
    _, other = checkout(start_call(stack), stack)
    confirm = f"payment_intents/{paying.intent_id}/confirm"
    good = {"client_secret": paying.client_secret, "card": CARD}

    assert error_of(post(stack, confirm, data=b"card=4242"), 400)["code"] == "parameter_invalid"
    missing = error_of(post(stack, confirm, {"card": CARD}), 400)
    assert missing["code"] == "parameter_missing" and missing["param"] == "client_secret"
    foreign = error_of(post(stack, confirm, good | {"client_secret": other.client_secret}), 400)
    assert foreign["param"] == "client_secret"
    forged = paying.client_secret.rpartition("_")[0] + "_notthesecret"
    wrong = error_of(post(stack, confirm, good | {"client_secret": forged}), 400)
    assert wrong["code"] == "payment_intent_invalid_parameter"
    unknown = "pi_doesnotexist"
    missing_intent = error_of(post(stack, f"payment_intents/{unknown}/retrieve",
                                   {"client_secret": f"{unknown}_secret_abc"}), 404)  # fmt: skip
    assert missing_intent["code"] == "resource_missing"
    bad_card = error_of(
        post(stack, confirm, good | {"card": CARD | {"number": "4242424242424241"}}), 402
    )
    assert bad_card == bad_card | {"type": "card_error", "code": "invalid_number"}
    expired = error_of(post(stack, confirm, good | {"card": CARD | {"exp_year": 2020}}), 402)
    assert expired["code"] == "expired_card"
    bad_account = error_of(post(stack, confirm, good | {"stripe_account": "not an account"}), 400)
    assert bad_account["param"] == "stripe_account"
    authenticate = f"payment_intents/{paying.intent_id}/authenticate"
    answer = post(stack, authenticate, {"client_secret": paying.client_secret, "success": True})
    not_asked = error_of(answer, 400)
    assert not_asked["code"] == "payment_intent_unexpected_state"

    intent = localstripe_intent(stack, paying.intent_id)
    assert intent["status"] == "requires_payment_method" and intent["payment_method"] is None


def test_a_paid_intent_cannot_be_confirmed_again(stack: LocalStack) -> None:
    _, paying = checkout(start_call(stack), stack)
    confirm = f"payment_intents/{paying.intent_id}/confirm"
    body = {"client_secret": paying.client_secret, "card": CARD,
            "stripe_account": paying.stripe_account}  # fmt: skip
    first = post(stack, confirm, body)
    assert first.status_code == 200 and first.json()["status"] == "succeeded"
    again = error_of(post(stack, confirm, body), 400)
    assert again["code"] == "payment_intent_unexpected_state"


def test_pages_may_call_it_from_any_origin_and_its_frames_load_only_their_own_files(
    stack: LocalStack,
) -> None:
    base = stack.endpoints.http_url
    assert stack.endpoints.stripe_js_url == f"{base}/stripe-js/v3/"  # local.json says where
    with direct_session() as session:
        preflight = session.options(
            f"{base}/stripe-js/api/payment_intents/pi_1/confirm",
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
            timeout=10,
        )
        frame = session.get(f"{base}/stripe-js/frames/payment-element.html", timeout=10)
        script = session.get(stack.endpoints.stripe_js_url, timeout=10)
        elsewhere = session.get(f"{base}/stripe-js/frames/..%2Fserver.py", timeout=10)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "content-type" in preflight.headers["Access-Control-Allow-Headers"]
    assert frame.status_code == 200 and "Card number" in frame.text
    assert frame.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert "window.Stripe = Stripe" in script.text
    assert elsewhere.status_code == 404


def test_a_new_card_replaces_an_authentication_left_pending(stack: LocalStack) -> None:
    _, paying = checkout(start_call(stack), stack)
    confirm = f"payment_intents/{paying.intent_id}/confirm"
    body = {"client_secret": paying.client_secret, "stripe_account": paying.stripe_account}
    three_d_secure = CARD | {"number": "4000002500003155"}
    asked = post(stack, confirm, body | {"card": three_d_secure})
    assert asked.status_code == 200 and asked.json()["status"] == "requires_action"
    # The patient reloaded the page instead of answering the challenge, and pays again.
    paid = post(stack, confirm, body | {"card": CARD})
    assert paid.status_code == 200 and paid.json()["status"] == "succeeded"
    assert localstripe_intent(stack, paying.intent_id)["status"] == "succeeded"


def test_a_card_declined_after_authentication_answers_a_card_error(stack: LocalStack) -> None:
    _, paying = checkout(start_call(stack), stack)
    path = f"payment_intents/{paying.intent_id}"
    body = {"client_secret": paying.client_secret, "stripe_account": paying.stripe_account}
    asked = post(stack, f"{path}/confirm", body | {"card": CARD | {"number": "4000008400001629"}})
    assert asked.status_code == 200 and asked.json()["status"] == "requires_action"
    declined = error_of(post(stack, f"{path}/authenticate", body | {"success": True}), 402)
    assert declined["type"] == "card_error" and declined["code"] == "card_declined"
    assert declined["payment_intent"]["status"] == "requires_payment_method"
