"""Invoices on the local servers (moto, localstripe): billed in a call, paid, released on
cancel and on a failed payment's end, refunded; one winner when two requests race for an
invoice; a replayed webhook settles nothing twice."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import stripe

from callpay.domain.clinic import Clinic
from platform_api.handler import lambda_handler as platform_api
from request_payment import composition as request_payment_parts
from request_payment.handler import lambda_handler as request_payment_handler
from tests.integration.conftest import TABLE, Stack, claims_for
from tests.integration.test_payment_loop import (
    DECLINED_CARD,
    GOOD_CARD,
    patient_checkout,
    pay,
    stored,
)
from tests.integration.test_webhook import send
from tests.support.events import LambdaContext, http_event, reply
from tests.support.servers import wait_until
from tests.support.stripe_events import intent_event

pytestmark = pytest.mark.integration


def backend(clinic: Clinic) -> dict[str, str]:
    return {"sub": "emr", "client_id": "emr", "org_id": clinic.org_id,
            "scope": "callpay/invoices.write callpay/invoices.read"}  # fmt: skip


def put_invoice(clinic: Clinic, total: int, patient: str = "pat-1") -> str:
    invoice_id = f"inv-{uuid.uuid4().hex[:6]}"
    body = {"patient": patient, "issued_on": "2026-11-01", "currency": "aud", "total": total,
            "lines": [{"description": "Consultation", "amount": total}]}  # fmt: skip
    path = f"/clinics/{clinic.clinic_id}/invoices/{invoice_id}"
    event = http_event("PUT", path, body, claims=backend(clinic))
    assert reply(platform_api(event, LambdaContext()))[0] == 201
    return invoice_id


def invoice(clinic: Clinic, invoice_id: str) -> dict[str, Any]:
    path = f"/clinics/{clinic.clinic_id}/invoices/{invoice_id}"
    status, body = reply(
        platform_api(http_event("GET", path, claims=backend(clinic)), LambdaContext())
    )
    assert status == 200
    return body  # type: ignore[no-any-return]


def bill(clinic: Clinic, call_id: str, *invoice_ids: str, **extra: Any) -> tuple[int, Any]:
    body = {"clinic_id": clinic.clinic_id, "currency": "aud", "description": "Invoices",
            "invoice_ids": list(invoice_ids)} | extra  # fmt: skip
    path = f"/calls/{call_id}/payment-requests"
    event = http_event("POST", path, body, claims=claims_for(clinic))
    return reply(request_payment_handler(event, LambdaContext()))


def new_call() -> str:
    return f"call-{uuid.uuid4().hex[:8]}"


def paid_by_patient(stack: Stack, clinic: Clinic, *invoice_ids: str) -> dict[str, Any]:
    call_id = new_call()
    status, created = bill(clinic, call_id, *invoice_ids)
    assert status == 201, created
    patient_checkout(clinic, call_id, created["id"])
    intent_id = stored(created["id"]).payment_intent_id
    assert intent_id
    pay(stack, intent_id, GOOD_CARD)
    wait_until(lambda: stack.receiver.delivered("payment_intent.succeeded", intent_id))
    return created | {"call_id": call_id, "intent_id": intent_id}


def test_invoices_billed_in_a_call_end_paid(stack: Stack, clinic: Clinic) -> None:
    first, second = put_invoice(clinic, 8000), put_invoice(clinic, 4500)
    created = paid_by_patient(stack, clinic, first, second)
    assert created["amount"] == 12500
    assert stored(created["id"]).status.value == "succeeded"
    for invoice_id in (first, second):
        shown = invoice(clinic, invoice_id)
        assert shown["status"] == "paid" and shown["payment_request_id"] == created["id"]
        assert shown["receipt_number"].startswith("R-") and shown["paid_at"]
    intent = stack.stripe().v1.payment_intents.retrieve(created["intent_id"])
    assert intent.amount == 12500


def test_invoices_are_released_on_cancel(stack: Stack, clinic: Clinic) -> None:
    invoice_id = put_invoice(clinic, 8000)
    status, created = bill(clinic, new_call(), invoice_id)
    assert status == 201 and invoice(clinic, invoice_id)["status"] == "pending"
    path = f"/payment-requests/{created['id']}/cancel"
    event = http_event("POST", path, claims=claims_for(clinic))
    assert reply(request_payment_handler(event, LambdaContext()))[0] == 200
    shown = invoice(clinic, invoice_id)
    assert shown["status"] == "unpaid" and shown["payment_request_id"] is None
    assert bill(clinic, new_call(), invoice_id)[0] == 201


def test_invoices_stay_pending_through_a_decline_and_are_released_when_stripe_gives_up(
    stack: Stack, clinic: Clinic
) -> None:
    invoice_id = put_invoice(clinic, 8000)
    call_id = new_call()
    _, created = bill(clinic, call_id, invoice_id)
    patient_checkout(clinic, call_id, created["id"])
    intent_id = stored(created["id"]).payment_intent_id
    assert intent_id
    with pytest.raises(stripe.CardError):
        pay(stack, intent_id, DECLINED_CARD)
    wait_until(lambda: stack.receiver.delivered("payment_intent.payment_failed", intent_id))
    assert invoice(clinic, invoice_id)["status"] == "pending"  # the patient may still pay
    # Stripe cancels the PaymentIntent (abandoned, or a lapsed hold) and says so.
    stack.stripe().v1.payment_intents.cancel(intent_id)
    canceled = intent_event("payment_intent.canceled", intent_id, created["id"])
    assert send(canceled)[1]["outcome"] == "applied"
    assert invoice(clinic, invoice_id)["status"] == "unpaid"


def test_refunds_mark_the_invoices_refunded(stack: Stack, clinic: Clinic) -> None:
    first, second = put_invoice(clinic, 5000), put_invoice(clinic, 3000)
    created = paid_by_patient(stack, clinic, first, second)
    admin = claims_for(clinic, "admin-1", "team_admin")

    def refund(amount: int) -> None:
        event = http_event(
            "POST", f"/payment-requests/{created['id']}/refunds",
            {"amount": amount, "reason": "requested_by_customer"}, claims=admin,
            headers={"idempotency-key": uuid.uuid4().hex},
        )  # fmt: skip
        assert reply(request_payment_handler(event, LambdaContext()))[0] == 200

    refund(6000)
    assert (invoice(clinic, first)["status"], invoice(clinic, second)["status"]) == (
        "refunded", "partially_refunded",
    )  # fmt: skip
    assert invoice(clinic, second)["amount_refunded"] == 1000
    refund(2000)
    assert invoice(clinic, second)["status"] == "refunded"


def test_two_requests_racing_for_one_invoice_one_wins_the_other_is_409(
    stack: Stack, clinic: Clinic
) -> None:
    invoice_id = put_invoice(clinic, 8000)
    service = request_payment_parts.payment_requests()
    at_stripe = threading.Barrier(2, timeout=20)
    create_intent = service.gateway.create_intent
    made: list[str] = []

    def both_at_stripe(*args: Any, **kwargs: Any) -> Any:
        # Both read the invoice unpaid and reach Stripe before either writes.
        intent = create_intent(*args, **kwargs)
        made.append(intent.id)
        at_stripe.wait()
        return intent

    service.gateway.create_intent = both_at_stripe  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(lambda _: bill(clinic, new_call(), invoice_id), range(2)))
    finally:
        service.gateway.create_intent = create_intent  # type: ignore[method-assign]
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201, 409], answers
    ((_, winner),) = [a for a in answers if a[0] == 201]
    ((_, loser),) = [a for a in answers if a[0] == 409]
    assert loser["error"]["code"] == "invoice_not_payable"
    assert invoice(clinic, invoice_id)["payment_request_id"] == winner["id"]
    # The loser's PaymentIntent was canceled on Stripe: nobody can pay it.
    intents = [stack.stripe().v1.payment_intents.retrieve(intent_id) for intent_id in made]
    assert sorted(i.status for i in intents) == ["canceled", "requires_payment_method"]
    assert stored(winner["id"]).payment_intent_id in made


def outbox_types(pr_id: str) -> list[str]:
    items = boto3.client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :outbox)",
        ExpressionAttributeValues={":pk": {"S": f"PR#{pr_id}"}, ":outbox": {"S": "OUTBOX#"}},
    )["Items"]
    return [item["SK"]["S"].split("#")[2] for item in items]


def test_a_replayed_webhook_cannot_settle_an_invoice_twice(stack: Stack, clinic: Clinic) -> None:
    invoice_id = put_invoice(clinic, 8000)
    created = paid_by_patient(stack, clinic, invoice_id)
    paid = invoice(clinic, invoice_id)
    # localstripe's own delivery, sent again as Stripe retries it; and the same news anew.
    (original,) = [
        event
        for event, _ in stack.receiver.deliveries
        if event["type"] == "payment_intent.succeeded"
        and event["data"]["object"]["id"] == created["intent_id"]
    ]
    assert send(original)[1]["outcome"] == "duplicate"
    replay = intent_event("payment_intent.succeeded", created["intent_id"], created["id"])
    assert [send(replay)[1]["outcome"] for _ in range(3)] == ["stale", "duplicate", "duplicate"]
    assert invoice(clinic, invoice_id) == paid
    assert outbox_types(created["id"]).count("invoice.paid") == 1
