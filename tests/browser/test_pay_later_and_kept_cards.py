"""Pay-later links and cards kept with consent, in Chromium against the local stack.

A clinician e-mails a link for a request the patient left unpaid; the patient, after the
call, opens the link from the e-mail (SES in moto) and pays on the hosted page, and the
clinician still in the call gets the pop-up. A patient named by the platform reads the
clinic's no-show policy, then agrees to keep the card, pays, and the clinic later charges
the no-show fee to that card without them.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect as see

from devtools.local_client import expect, html_as_text, set_up_clinic
from devtools.stack import DEMO_CLINIC_SETTINGS
from tests.browser.conftest import assert_accessible
from tests.browser.panels import (
    GOOD_CARD,
    ClinicianScreen,
    Consultation,
    PatientScreen,
    press,
    screenshot,
    wait_until,
)
from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.browser

POLICY = "If you miss your appointment without a day's notice, we charge the fee below."


def test_a_patient_pays_through_a_pay_later_link_after_the_call(
    stack: LocalStack, site: dict[str, str], page: Page, patient_page: Page
) -> None:
    consultation = Consultation.start(stack)
    clinician = ClinicianScreen(page, site, consultation).open()
    clinician.request_payment("60.00", "Follow-up consultation")
    row = clinician.row("Follow-up consultation")
    see(row.get_by_text("Waiting for the patient to pay")).to_be_visible()

    # The patient left the call without paying: the clinician sends a link.
    press(page, row.get_by_role("button", name="Send payment link"))
    see(clinician.panel.get_by_role("heading", name="Send a payment link")).to_be_focused()
    assert_accessible(page, "the payment link form")
    clinician.panel.get_by_label("Patient's email address").fill(consultation.email)
    press(page, clinician.panel.get_by_role("button", name="Send link"))
    see(clinician.live_region()).to_have_text("Payment link sent.")
    see(row.get_by_text("Payment link emailed", exact=False)).to_be_visible()
    screenshot(page, "20-clinician-payment-link-sent")

    (mail,) = stack.emails_to(consultation.email, 1)
    text = html_as_text(mail["body"])
    assert "Your payment link" in text and "A$60.00" in text
    (link,) = set(re.findall(r'href="([^"]+)"', mail["body"]))
    link = link.replace("&amp;", "&")
    url = urlsplit(link)
    assert url.query == "" and url.path.endswith("/app/pay/")  # the token in the fragment
    fragment = parse_qs(url.fragment)
    (requested,) = consultation.requests()
    assert fragment["payment_request_id"] == [requested["id"]]

    # Later, from the e-mail: the hosted page for that one request.
    patient = PatientScreen(patient_page, consultation).open(link)
    see(patient.panel.get_by_text("Follow-up consultation")).to_be_visible()
    assert patient.panel.locator("li").count() == 1
    assert_accessible(patient_page, "the pay page from a pay-later link")
    screenshot(patient_page, "21-patient-pay-later-link")
    patient.pay_now("Follow-up consultation")
    patient.give_email(consultation.email)
    patient.enter_card(GOOD_CARD)
    patient.pay()
    see(patient.panel.get_by_role("heading", name="Payment complete")).to_be_visible()

    # Ends exactly like a payment in the call: the clinician's pop-up, the receipt.
    pop_up = clinician.panel.get_by_role("region", name="Payment received")
    see(pop_up.get_by_text("Payment received: A$60.00 for Follow-up consultation.")).to_be_visible()
    paid = consultation.request(requested["id"])
    assert paid["status"] == "succeeded" and paid["amount_captured"] == 6000
    mails = stack.emails_to(consultation.email, 2)
    assert any(paid["receipt_number"] in m["subject"] for m in mails)


def test_an_expired_pay_later_link_says_so(stack: LocalStack, patient_page: Page) -> None:
    """A link whose token has expired: the page says so in words and charges nothing."""
    consultation = Consultation.start(stack)
    page_url = consultation.patient_url.split("#", 1)[0]
    token = _expired_link_token(stack, consultation)
    link = f"{page_url}#call_id={consultation.call_id}&payment_request_id=pr_x&token={token}"
    patient_page.goto(link)
    panel = patient_page.locator("callpay-patient-panel")
    see(panel.get_by_role("heading", name="This payment link has expired")).to_be_visible()
    see(panel.get_by_text("payment links stop working after a few days")).to_be_visible()
    assert_accessible(patient_page, "an expired pay-later link")


def _expired_link_token(stack: LocalStack, consultation: Consultation) -> str:
    """A pay-later token as the mailer mints it, with the stack's key (from its Secrets
    Manager, as the functions read it), sent three days and an hour ago."""
    import json  # noqa: PLC0415
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    import boto3  # noqa: PLC0415
    import jwt  # noqa: PLC0415

    e = stack.endpoints
    secrets = boto3.client(
        "secretsmanager", endpoint_url=e.aws_endpoint_url, region_name=e.region,
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip
    secret = secrets.get_secret_value(SecretId=e.environment["TOKEN_SECRET_ID"])["SecretString"]
    key = json.loads(secret)["patient_token_key"]
    sent = datetime.now(UTC) - timedelta(hours=73)
    claims = {
        "iss": "callpay", "aud": "callpay:patient", "sub": f"patient:{consultation.call_id}",
        "call_id": consultation.call_id, "clinic_id": stack.clinic_id, "jti": uuid.uuid4().hex,
        "payment_request_id": "pr_x", "iat": int(sent.timestamp()),
        "exp": int((sent + timedelta(hours=72)).timestamp()),
    }  # fmt: skip
    return jwt.encode(claims, key, algorithm="HS256")


@pytest.fixture(scope="module")
def clinic_with_policy(stack: LocalStack) -> str:
    """A clinic of the demo organisation with a no-show policy (the demo clinic is shared
    by the other browser tests, whose screens must not change)."""
    clinic_id = f"clinic-policy-{uuid.uuid4().hex[:6]}"
    admin = stack.api(
        stack.clinician_token(sub="org-admin", clinics=(clinic_id,), role="org_admin")
    )
    set_up_clinic(admin, clinic_id, DEMO_CLINIC_SETTINGS)
    expect(
        admin.request("PUT", f"/clinics/{clinic_id}/settings",
                      {"no_show_fee": 4500, "no_show_policy": POLICY}),
        200, "the no-show policy",
    )  # fmt: skip
    return clinic_id


def test_a_patient_reads_the_policy_then_keeps_the_card_and_a_no_show_is_charged_to_it(
    stack: LocalStack, clinic_with_policy: str, patient_page: Page
) -> None:
    clinic_id, patient_ref = clinic_with_policy, f"patient-{uuid.uuid4().hex[:6]}"
    call_id = f"call-{uuid.uuid4().hex[:10]}"
    clinician = stack.api(stack.clinician_token(sub="dr-lee", clinics=(clinic_id,)))
    access = expect(
        clinician.post(f"/calls/{call_id}/patient-access",
                       {"clinic_id": clinic_id, "patient_ref": patient_ref}),
        201, "patient access",
    )  # fmt: skip
    body = {"clinic_id": clinic_id, "amount": 9000, "currency": "aud",
            "description": "Initial consultation"}  # fmt: skip
    created = expect(clinician.post(f"/calls/{call_id}/payment-requests", body), 201, "request")

    patient = PatientScreen(patient_page, _consultation(stack, call_id, access)).open()
    patient.pay_now("Initial consultation")
    email = f"patient-{uuid.uuid4().hex[:8]}@example.com"
    patient.give_email(email)
    panel = patient.panel
    # The policy, in the clinic's words and with its fee, before anything is ticked.
    see(panel.get_by_role("heading", name="No-show policy")).to_be_visible()
    see(panel.get_by_text(POLICY)).to_be_visible()
    see(panel.get_by_text("Fee if you miss the appointment: A$45.00")).to_be_visible()
    keep = panel.get_by_label(
        "Keep this card with the clinic for its future charges under this policy"
    )
    see(keep).not_to_be_checked()
    assert_accessible(patient_page, "the card screen with the policy")
    screenshot(patient_page, "22-patient-keep-card-consent")
    keep.check()
    patient.enter_card(GOOD_CARD)
    patient.pay()
    see(panel.get_by_role("heading", name="Payment complete")).to_be_visible()
    see(
        panel.get_by_text("Your card is kept with the clinic for its future charges.")
    ).to_be_visible()

    def kept() -> dict[str, Any] | None:
        shown: dict[str, Any] = expect(
            clinician.get(f"/payment-requests/{created['id']}"), 200, "the request"
        )
        return shown if shown["card_saved"] else None

    paid = wait_until(kept, "the card kept")
    assert paid["status"] == "succeeded"
    (receipt,) = stack.emails_to(email, 1)
    assert "You agreed to keep this card with the clinic" in html_as_text(receipt["body"])

    # The patient misses the next appointment: the no-show fee, without them.
    fee = expect(
        clinician.post(f"/calls/call-{uuid.uuid4().hex[:10]}/no-show-fees",
                       {"clinic_id": clinic_id, "patient_ref": patient_ref}),
        201, "the no-show fee",
    )  # fmt: skip
    assert fee["status"] == "succeeded" and fee["amount_captured"] == 4500
    assert fee["off_session"] is True and fee["charge_reason"] == "no_show"


def _consultation(stack: LocalStack, call_id: str, access: dict[str, str]) -> Consultation:
    return Consultation(stack, call_id, "", str(access["patient_url"]), str(access["token"]), "")


def test_the_clinician_sees_the_holds_deadline_and_asks_for_a_fresh_hold(
    stack: LocalStack, site: dict[str, str], page: Page, patient_page: Page
) -> None:
    consultation = Consultation.start(stack)
    clinician = ClinicianScreen(page, site, consultation).open()
    clinician.request_payment("150", "Procedure deposit", hold=True)
    patient = PatientScreen(patient_page, consultation).open()
    patient.pay_now("Procedure deposit")
    patient.give_email(consultation.email)
    patient.enter_card(GOOD_CARD)
    patient.pay()
    see(patient.panel.get_by_role("heading", name="Card authorised")).to_be_visible()
    see(patient.panel.get_by_text("Held on your card until", exact=False)).to_be_visible()
    row = clinician.row("Procedure deposit")
    see(row.get_by_text("Card authorised: A$150.00 held")).to_be_visible()
    # Stripe's deadline (localstripe's charge says seven days), in the clinician's words.
    see(row.get_by_text("The hold lasts until", exact=False)).to_be_visible()
    (held,) = consultation.requests()
    assert held["capture_before"] is not None and held["hold_expires_at"] == held["capture_before"]
    assert_accessible(page, "a hold with its deadline")
    screenshot(page, "23-clinician-hold-deadline")

    press(page, row.get_by_role("button", name="Ask for a new hold"))
    row = clinician.row("Procedure deposit")
    see(row.get_by_text("Waiting for the patient to authorise the card again")).to_be_visible()
    see(row.get_by_role("button", name="Send payment link")).to_be_visible()
    (renewed,) = consultation.requests()
    assert renewed["id"] == held["id"] and renewed["hold_attempt"] == 2
    assert renewed["status"] == "requested"

    # The patient page shows it, and the patient authorises again on the same request.
    patient.panel.get_by_role("button", name="Back to payments").click()
    row_for_patient = patient.panel.locator("li", has_text="Procedure deposit")
    see(row_for_patient.get_by_text("The clinic asks you to authorise your card again"))\
        .to_be_visible()  # fmt: skip
    patient.pay_now("Procedure deposit")
    patient.give_email(consultation.email)
    patient.enter_card(GOOD_CARD)
    patient.pay()
    see(patient.panel.get_by_role("heading", name="Card authorised")).to_be_visible()
    see(clinician.row("Procedure deposit").get_by_text("Card authorised: A$150.00 held"))\
        .to_be_visible()  # fmt: skip
