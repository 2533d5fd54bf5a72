"""The demo's consultation, asserted: request, pop-ups on both sockets, receipt, decline, retry."""

from __future__ import annotations

import pytest
import stripe

from devtools.local_client import expect
from tests.e2e.conftest import DECLINED_CARD, GOOD_CARD, Call, LocalStack

pytestmark = pytest.mark.e2e


def test_a_paid_request_pops_up_for_the_clinician_and_mails_the_patient_a_receipt(
    stack: LocalStack, call: Call, email: str
) -> None:
    with (
        stack.feed(call.call_id, call.clinician_token) as clinician,
        stack.feed(call.call_id, call.patient_token) as patient,
    ):
        assert clinician.sync()["payment_requests"] == []
        assert patient.sync()["payment_requests"] == []

        created = call.request_payment(stack.clinic_id, 8000)
        assert created["status"] == "requested" and created["amount"] == 8000
        seen = patient.update_of(created["id"], "requested")
        assert seen["description"] == "Telehealth consultation"
        assert "client_secret" not in seen

        secret = call.checkout(created["id"], email)
        intent = stack.browser().pay(secret, GOOD_CARD)
        assert intent.status == "succeeded"

        pop_up = clinician.update_of(created["id"], "succeeded", timeout=15)
        assert pop_up["amount_captured"] == 8000 and pop_up["paid_at"]
        assert patient.update_of(created["id"], "succeeded", timeout=15)["status"] == "succeeded"

    (receipt,) = stack.emails_to(email, at_least=1)
    assert str(receipt["subject"]).startswith("Your receipt from Harbour Telehealth Pty Ltd")
    assert "A$80.00" in str(receipt["body"])
    viewed = expect(call.patient.get(f"/payment-requests/{created['id']}"), 200, "the request")
    assert viewed["status"] == "succeeded"
    page = call.patient.get(f"/payment-requests/{created['id']}/receipt")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Harbour Telehealth Pty Ltd" in page.text


def test_a_declined_card_fails_on_both_sockets_and_a_retry_with_another_card_pays(
    stack: LocalStack, call: Call, email: str
) -> None:
    with (
        stack.feed(call.call_id, call.clinician_token) as clinician,
        stack.feed(call.call_id, call.patient_token) as patient,
    ):
        created = call.request_payment(stack.clinic_id, 4500)
        secret = call.checkout(created["id"], email)
        with pytest.raises(stripe.CardError):
            stack.browser().pay(secret, DECLINED_CARD)
        for feed in (clinician, patient):
            failed = feed.update_of(created["id"], "failed", timeout=15)
            assert failed["failure"]["code"] == "card_declined"

        secret = call.checkout(created["id"], email)
        stack.browser().pay(secret, GOOD_CARD)
        paid = clinician.update_of(created["id"], "succeeded", timeout=15)
        assert paid["failure"] is None and paid["amount_captured"] == 4500

    assert len(stack.all_emails_to(email)) == 1
