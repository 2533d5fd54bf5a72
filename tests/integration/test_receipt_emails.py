"""Receipt emails end to end: webhook -> SQS (moto) -> send_receipt -> SES (moto), read back."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
import requests

from callpay import runtime
from callpay.domain.clinic import Clinic
from callpay.domain.receipt_job import ReceiptJob
from request_payment.handler import lambda_handler
from tests.integration.conftest import ACCOUNT_SECRET, TABLE, Stack, claims_for, deliver
from tests.integration.test_payment_loop import (
    GOOD_CARD,
    api,
    patient_checkout,
    pay,
    request_payment,
    stored,
)
from tests.support.events import LambdaContext, http_event
from tests.support.servers import wait_until
from tests.support.stripe_events import signature

pytestmark = pytest.mark.integration


@pytest.fixture
def clinic_with_details(clinic: Clinic) -> Clinic:
    detailed = clinic.model_copy(
        update={
            "legal_name": "Harbour Telehealth Pty Ltd",
            "address": "1 George St\nSydney NSW 2000",
            "tax_id": "51 824 753 556",
            "tax_id_label": "ABN",
            "provider_name": "Dr Jane Citizen",
            "provider_number": "2426621B",
            "tax_statement": "GST-free health service",
            "time_zone": "Australia/Sydney",
        }
    )
    runtime.store().put_clinic(detailed)
    return detailed


def emails_to(stack: Stack, address: str) -> list[dict[str, Any]]:
    # moto serialises every service's state for this: seconds on a loaded machine.
    data = requests.get(f"{stack.aws_endpoint}/moto-api/data.json", timeout=30).json()
    return [m for m in data["ses"]["Message"] if address in m["destinations"]["ToAddresses"]]


def paid_request(stack: Stack, clinic: Clinic, email: str) -> tuple[str, str]:
    """A request paid on localstripe, its webhook delivered: (request id, intent id)."""
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    created = request_payment(clinic, call_id)
    patient_checkout(clinic, call_id, created["id"], email=email)
    intent_id = stored(created["id"]).payment_intent_id
    assert intent_id
    pay(stack, intent_id, GOOD_CARD)
    wait_until(lambda: stack.receiver.delivered("payment_intent.succeeded", intent_id))
    return created["id"], intent_id


def test_a_paid_request_sends_exactly_one_receipt_with_the_clinic_details(
    stack: Stack, clinic_with_details: Clinic
) -> None:
    email = f"patient-{uuid.uuid4().hex[:6]}@example.com"
    pr_id, _ = paid_request(stack, clinic_with_details, email)
    handled, failed = stack.receipt_worker.drain()
    assert handled >= 1 and failed == 0

    sent = emails_to(stack, email)
    assert len(sent) == 1
    message = sent[0]
    number = f"R-{stored(pr_id).paid_at:%Y%m%d}-{pr_id[3:11].upper()}"  # type: ignore[union-attr]
    assert number in message["subject"] and "Harbour Telehealth Pty Ltd" in message["subject"]
    body = message["body"]
    for expected in (number, "Harbour Telehealth Pty Ltd", "ABN", "51 824 753 556",
                     "2426621B", "GST-free health service", "Telehealth consultation",
                     "4242", "80.00"):  # fmt: skip
        assert expected in body, expected


def test_duplicate_webhook_and_redelivered_job_still_send_one_email(
    stack: Stack, clinic_with_details: Clinic
) -> None:
    email = f"patient-{uuid.uuid4().hex[:6]}@example.com"
    pr_id, intent_id = paid_request(stack, clinic_with_details, email)
    # Stripe delivers the same event again: 200 duplicate, and the job is queued again.
    first = next(
        e for e, _ in stack.receiver.deliveries
        if e["type"] == "payment_intent.succeeded" and e["data"]["object"]["id"] == intent_id
    )  # fmt: skip
    body = json.dumps(first).encode()
    status, answer = deliver(body, {"stripe-signature": signature(body, ACCOUNT_SECRET)})
    assert status == 200 and json.loads(answer)["outcome"] == "duplicate"
    # And SQS redelivers the job once more on its own.
    runtime.receipt_queue().enqueue(ReceiptJob(payment_request_id=pr_id))
    stack.receipt_worker.drain()
    assert len(emails_to(stack, email)) == 1


def test_ses_refusal_leaves_the_job_for_retry_then_one_email_is_sent(
    stack: Stack, clinic_with_details: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = f"patient-{uuid.uuid4().hex[:6]}@example.com"
    pr_id, _ = paid_request(stack, clinic_with_details, email)
    # The sender is not verified yet: SES answers MessageRejected.
    monkeypatch.setenv("RECEIPT_SENDER", "unverified@callpay.test")
    runtime.reset()
    handled, failed = stack.receipt_worker.poll_once(retry_now=True)
    assert handled >= 1 and failed == handled
    assert emails_to(stack, email) == []
    ledger = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"PK": {"S": f"RECEIPT#{pr_id}#payment"}, "SK": {"S": "RECEIPT"}}
    )
    assert "Item" not in ledger  # the failed send gave its claim back; nothing marked sent
    monkeypatch.setenv("RECEIPT_SENDER", "receipts@callpay.test")
    runtime.reset()
    handled, failed = stack.receipt_worker.drain()
    assert handled >= 1 and failed == 0
    assert len(emails_to(stack, email)) == 1


def test_the_receipt_page_is_served_to_the_patient_in_their_language(
    stack: Stack, clinic_with_details: Clinic
) -> None:
    email = f"patient-{uuid.uuid4().hex[:6]}@example.com"
    pr_id, _ = paid_request(stack, clinic_with_details, email)  # paid in en-AU

    def page(query_locale: str | None) -> dict[str, Any]:
        event = http_event(
            "GET", f"/payment-requests/{pr_id}/receipt", claims=claims_for(clinic_with_details),
            headers={"accept-language": "fr-FR,fr;q=0.9,en;q=0.5"},
        )  # fmt: skip
        if query_locale:
            event["rawQueryString"] = f"locale={query_locale}"
            event["queryStringParameters"] = {"locale": query_locale}
        response: dict[str, Any] = lambda_handler(event, LambdaContext())
        assert response["statusCode"] == 200
        assert response["headers"]["Content-Type"].startswith("text/html")
        return response

    # The language the patient paid in comes before the browser's...
    english = page(None)
    assert english["headers"]["Content-Language"] == "en"
    assert 'lang="en"' in english["body"] and "80.00" in english["body"]
    # ...and the page's own ?locale= before both.
    french = page("fr")
    assert french["headers"]["Content-Language"] == "fr"
    assert 'lang="fr"' in french["body"] and "80,00" in french["body"]


def test_no_receipt_page_before_payment(stack: Stack, clinic: Clinic) -> None:
    created = request_payment(clinic, f"call-{uuid.uuid4().hex[:8]}")
    status, body = api(
        http_event("GET", f"/payment-requests/{created['id']}/receipt", claims=claims_for(clinic))
    )
    assert status == 409 and body["error"]["code"] == "not_paid"


def test_two_partial_refunds_on_stripe_send_two_refund_receipts(
    stack: Stack, clinic_with_details: Clinic
) -> None:
    email = f"patient-{uuid.uuid4().hex[:6]}@example.com"
    pr_id, intent_id = paid_request(stack, clinic_with_details, email)
    admin = claims_for(clinic_with_details, sub="admin-1", role="team_admin")
    for amount, expected in ((3000, "partially_refunded"), (5000, "refunded")):
        status, body = api(
            http_event(
                "POST", f"/payment-requests/{pr_id}/refunds",
                {"amount": amount, "reason": "requested_by_customer"}, claims=admin,
                headers={"idempotency-key": f"refund-{amount}"},
            )
        )  # fmt: skip
        assert status == 200 and body["status"] == expected
    charge = (
        stack.stripe()
        .v1.payment_intents.retrieve(intent_id, params={"expand": ["latest_charge"]})
        .latest_charge
    )
    assert charge.amount_refunded == 8000  # type: ignore[union-attr]
    stack.receipt_worker.drain()
    subjects = sorted(m["subject"] for m in emails_to(stack, email))
    assert len(subjects) == 3  # the payment receipt and one per refund
    assert sum("RF-" in s for s in subjects) == 2
