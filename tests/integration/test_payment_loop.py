"""The whole loop against real local servers: moto for AWS, localstripe for Stripe.

A clinician requests a payment, the patient checks out and pays on localstripe, and
localstripe's signed webhook reaches the webhook handler through a real HTTP receiver.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import stripe

from callpay import runtime
from callpay.domain.clinic import Clinic
from callpay.domain.payment_request import PaymentRequest, Status
from request_payment.handler import lambda_handler
from tests.integration.conftest import Stack, claims_for
from tests.support.events import LambdaContext, http_event, reply
from tests.support.servers import wait_until

pytestmark = pytest.mark.integration

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"


def api(event: dict[str, Any]) -> tuple[int, Any]:
    return reply(lambda_handler(event, LambdaContext()))


def request_payment(clinic: Clinic, call_id: str) -> dict[str, Any]:
    body = {
        "clinic_id": clinic.clinic_id,
        "amount": 8000,
        "currency": "aud",
        "description": "Telehealth consultation",
    }
    status, created = api(
        http_event("POST", f"/calls/{call_id}/payment-requests", body, claims=claims_for(clinic))
    )
    assert status == 201, created
    return created


def patient_token(clinic: Clinic, call_id: str) -> str:
    """What the clinician hands the patient's app: access to this call only."""
    status, access = api(
        http_event(
            "POST", f"/calls/{call_id}/patient-access", {"clinic_id": clinic.clinic_id},
            claims=claims_for(clinic),
        )
    )  # fmt: skip
    assert status == 201
    return str(access["token"])


def patient_checkout(
    clinic: Clinic, call_id: str, pr_id: str, email: str = "patient@example.com"
) -> dict[str, Any]:
    token = patient_token(clinic, call_id)
    status, mine = api(http_event("GET", f"/calls/{call_id}/payment-requests", token=token))
    assert status == 200 and [r["id"] for r in mine["payment_requests"]] == [pr_id]
    status, checkout = api(
        http_event(
            "POST", f"/payment-requests/{pr_id}/checkout",
            {"email": email, "locale": "en-AU"}, token=token,
        )
    )  # fmt: skip
    assert status == 200, checkout
    return checkout


def pay(stack: Stack, intent_id: str, card: str) -> None:
    """What Stripe.js does for the patient: attach a card and confirm."""
    client = stack.stripe()
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    client.v1.payment_intents.update(intent_id, params={"payment_method": method.id})
    client.v1.payment_intents.confirm(intent_id)


def stored(pr_id: str) -> PaymentRequest:
    request = runtime.store().get(pr_id)
    assert request is not None
    return request


def test_patient_pays_and_the_webhook_marks_the_request_succeeded(
    stack: Stack, clinic: Clinic
) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    created = request_payment(clinic, call_id)
    checkout = patient_checkout(clinic, call_id, created["id"])
    intent_id = stored(created["id"]).payment_intent_id
    assert intent_id and checkout["client_secret"].startswith(intent_id)
    assert checkout["publishable_key"] == "pk_test_local"
    assert checkout["stripe_account"] == "acct_local"

    intent = stack.stripe().v1.payment_intents.retrieve(intent_id)
    assert intent.metadata.to_dict() == {
        "payment_request_id": created["id"], "call_id": call_id, "clinic_id": clinic.clinic_id
    }  # fmt: skip
    assert intent.amount == 8000 and intent.currency == "aud"

    pay(stack, intent_id, GOOD_CARD)
    assert wait_until(
        lambda: stack.receiver.delivered("payment_intent.succeeded", intent_id), what="webhook"
    ) == [200]

    request = stored(created["id"])
    assert request.status is Status.SUCCEEDED
    assert request.amount_captured == 8000 and request.paid_at is not None
    assert request.receipt_email == "patient@example.com"
    trail = runtime.store().audit_trail(created["id"])
    assert [(a.action, a.cause.actor) for a in trail] == [
        ("created", "clinician"),
        ("checkout", "patient"),
        ("status.succeeded", "stripe"),
    ]
    status, body = api(
        http_event("GET", f"/payment-requests/{created['id']}", claims=claims_for(clinic))
    )
    assert status == 200 and body["status"] == "succeeded" and body["paid_at"]


def test_declined_card_fails_with_the_code_and_a_retry_succeeds(
    stack: Stack, clinic: Clinic
) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    created = request_payment(clinic, call_id)
    patient_checkout(clinic, call_id, created["id"])
    intent_id = stored(created["id"]).payment_intent_id
    assert intent_id

    with pytest.raises(stripe.CardError):
        pay(stack, intent_id, DECLINED_CARD)
    wait_until(lambda: stack.receiver.delivered("payment_intent.payment_failed", intent_id))
    failed = stored(created["id"])
    assert failed.status is Status.FAILED
    assert failed.failure is not None and failed.failure.code == "card_declined"

    # The patient may pay again: checkout is still open for a failed request.
    patient_checkout(clinic, call_id, created["id"])
    pay(stack, intent_id, GOOD_CARD)
    wait_until(lambda: stack.receiver.delivered("payment_intent.succeeded", intent_id))
    paid = stored(created["id"])
    assert paid.status is Status.SUCCEEDED and paid.failure is None
    assert [a.action for a in runtime.store().audit_trail(created["id"])] == [
        "created",
        "checkout",
        "status.failed",
        "checkout",  # the patient's second "Pay now"
        "status.succeeded",
    ]


def test_cancel_cancels_the_intent_on_stripe(stack: Stack, clinic: Clinic) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    created = request_payment(clinic, call_id)
    status, body = api(
        http_event("POST", f"/payment-requests/{created['id']}/cancel", claims=claims_for(clinic))
    )
    assert status == 200 and body["status"] == "canceled"
    intent_id = stored(created["id"]).payment_intent_id
    assert stack.stripe().v1.payment_intents.retrieve(intent_id).status == "canceled"  # type: ignore[arg-type]


def test_a_hold_is_authorised_on_stripe_then_captured_for_less(
    stack: Stack, clinic: Clinic
) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    body = {"clinic_id": clinic.clinic_id, "amount": 8000, "currency": "aud",
            "description": "Consultation (hold)", "capture_method": "manual"}  # fmt: skip
    status, created = api(
        http_event("POST", f"/calls/{call_id}/payment-requests", body, claims=claims_for(clinic))
    )
    assert status == 201 and created["capture_method"] == "manual"
    patient_checkout(clinic, call_id, created["id"])
    intent_id = stored(created["id"]).payment_intent_id
    assert intent_id
    pay(stack, intent_id, GOOD_CARD)
    wait_until(lambda: stored(created["id"]).status is Status.AUTHORIZED, what="the hold")
    assert stack.stripe().v1.payment_intents.retrieve(intent_id).status == "requires_capture"

    capture = {"amount": 6000}
    status, captured = api(
        http_event(
            "POST", f"/payment-requests/{created['id']}/capture", capture,
            claims=claims_for(clinic),
        )
    )  # fmt: skip
    assert status == 200 and captured["status"] == "succeeded"
    assert captured["amount_captured"] == 6000
    charge = (
        stack.stripe()
        .v1.payment_intents.retrieve(intent_id, params={"expand": ["latest_charge"]})
        .latest_charge
    )
    assert charge.captured is True  # type: ignore[union-attr]
