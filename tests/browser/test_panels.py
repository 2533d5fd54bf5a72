"""The in-call panels and the hosted pay page in Chromium, as the clinician and the patient
use them during a consultation.

Each test drives both sides through the screens (keyboard where it matters), checks what
each person sees and hears (the live region), axe-core on every screen, and the stored
state through the API; the consultation also checks the receipt e-mail in SES (moto).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import expect as see

from tests.browser.conftest import assert_accessible
from tests.browser.panels import (
    DECLINED_CARD,
    GOOD_CARD,
    THREE_D_SECURE_CARD,
    ClinicianScreen,
    Consultation,
    PatientScreen,
    host_site,
    new_page,
    press,
    screenshot,
    wait_until,
)
from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, str]]:
    with host_site() as pages:
        yield pages


@pytest.fixture
def consultation(stack: LocalStack) -> Consultation:
    return Consultation.start(stack)


@pytest.fixture
def patient_page(browser: Browser) -> Iterator[Page]:
    context, opened = new_page(browser)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], f"script errors on the patient's page: {errors}"


def test_a_whole_consultation_request_pay_pop_up_receipt(
    stack: LocalStack, consultation: Consultation, site: dict[str, str], page: Page,
    patient_page: Page,
) -> None:  # fmt: skip
    clinician = ClinicianScreen(page, site, consultation).open()
    see(clinician.panel.get_by_text("No payment requests in this call yet.")).to_be_visible()
    assert_accessible(page, "the clinician's empty list")
    screenshot(page, "01-clinician-panel")

    clinician.request_payment("80.00", "Telehealth consultation", shot="02-request-payment-form")
    row = clinician.row("Telehealth consultation")
    see(row.get_by_text("Waiting for the patient to pay")).to_be_visible()
    see(row.get_by_text("A$80.00")).to_be_visible()
    see(clinician.live_region()).to_have_text(
        "Payment request sent: A$80.00 for Telehealth consultation."
    )
    assert_accessible(page, "the clinician's list with a request")
    (requested,) = consultation.requests()
    assert (requested["amount"], requested["currency"], requested["status"]) == (
        8000,
        "aud",
        "requested",
    )

    patient = PatientScreen(patient_page, consultation).open()
    see(patient.panel.get_by_role("heading", name="Payments for this call")).to_be_visible()
    see(patient.panel.get_by_text("A$80.00")).to_be_visible()
    assert_accessible(patient_page, "the patient's list")
    screenshot(patient_page, "03-patient-pay-page")

    patient.pay_now("Telehealth consultation")
    assert_accessible(patient_page, "the email screen")
    patient.panel.get_by_label("Email address").fill(consultation.email)
    screenshot(patient_page, "04-patient-email")
    patient.give_email(consultation.email)
    patient.enter_card(GOOD_CARD)
    assert_accessible(patient_page, "the card screen")
    screenshot(patient_page, "05-patient-card")
    patient.pay()

    see(patient.panel.get_by_role("heading", name="Payment complete")).to_be_visible()
    paid = consultation.request(requested["id"])
    assert paid["status"] == "succeeded" and paid["amount_captured"] == 8000
    number = paid["receipt_number"]
    assert re.fullmatch(r"R-\d{8}-[0-9A-F]{8}", number)
    see(patient.panel.get_by_text(f"Your receipt number is {number}")).to_be_visible()
    see(patient.panel.get_by_text("Harbour Telehealth Pty Ltd")).to_be_visible()
    see(
        patient.panel.get_by_text(f"We have emailed a receipt to {consultation.email}.")
    ).to_be_visible()
    assert_accessible(patient_page, "the confirmation")
    screenshot(patient_page, "06-patient-confirmation")

    banner = clinician.panel.get_by_role("region", name="Payment received")
    see(banner).to_contain_text("Payment received: A$80.00 for Telehealth consultation.")
    see(clinician.live_region()).to_have_text(
        "Payment received: A$80.00 for Telehealth consultation."
    )
    see(clinician.row("Telehealth consultation").get_by_text("Paid A$80.00")).to_be_visible()
    assert_accessible(page, "the clinician's pop-up")
    screenshot(page, "07-clinician-payment-received")

    (email,) = stack.emails_to(consultation.email, 1)
    assert number in email["subject"]

    press(patient_page, patient.panel.get_by_role("button", name="View receipt"))
    see(patient.panel.get_by_role("heading", name="Your receipt")).to_be_focused()
    receipt = patient.panel.get_by_role("region", name="Receipt")
    see(receipt).to_contain_text(number)
    see(receipt).to_contain_text("Telehealth consultation")
    assert_accessible(patient_page, "the receipt")
    screenshot(patient_page, "08-patient-receipt")
    with patient_page.expect_download() as download:
        patient.panel.get_by_role("link", name="Download receipt (HTML file)").click()
    saved = download.value
    assert saved.suggested_filename == f"receipt-{number}.html"
    assert number in Path(saved.path()).read_text(encoding="utf-8")


def test_a_declined_card_then_another_card_on_the_same_request(
    consultation: Consultation, site: dict[str, str], page: Page, patient_page: Page
) -> None:
    clinician = ClinicianScreen(page, site, consultation).open()
    clinician.request_payment("45.50", "Follow-up")
    patient = PatientScreen(patient_page, consultation).open()
    patient.pay_now("Follow-up")
    patient.give_email(consultation.email)
    patient.enter_card(DECLINED_CARD)
    patient.pay()

    summary = patient.panel.get_by_role("alert")
    see(summary).to_contain_text("There is a problem")
    see(summary).to_contain_text("declined")
    see(summary).to_be_focused()
    assert_accessible(patient_page, "the decline")
    screenshot(patient_page, "09-patient-declined")
    see(
        clinician.row("Follow-up").get_by_text(
            "Declined: the card was declined. The patient can try another card."
        )
    ).to_be_visible()
    (declined,) = consultation.requests()
    assert declined["status"] == "failed" and declined["failure"]["code"] == "card_declined"

    patient.enter_card(GOOD_CARD)
    patient.pay()
    see(patient.panel.get_by_role("heading", name="Payment complete")).to_be_visible()
    see(clinician.live_region()).to_have_text("Payment received: A$45.50 for Follow-up.")
    (paid,) = consultation.requests()
    assert paid["id"] == declined["id"] and paid["status"] == "succeeded"


def test_three_d_secure_completed(
    consultation: Consultation, site: dict[str, str], page: Page, patient_page: Page
) -> None:
    clinician = ClinicianScreen(page, site, consultation).open()
    clinician.request_payment("120", "Specialist review")
    patient = PatientScreen(patient_page, consultation).open()
    patient.pay_now("Specialist review")
    patient.give_email(consultation.email)
    patient.enter_card(THREE_D_SECURE_CARD)
    patient.pay()

    see(patient.challenge.get_by_role("button", name="Complete")).to_be_visible()
    see(
        clinician.row("Specialist review").get_by_text("The patient is confirming with their bank")
    ).to_be_visible()
    assert_accessible(page, "the clinician while the bank confirms")
    screenshot(patient_page, "10-patient-three-d-secure")
    screenshot(page, "11-clinician-three-d-secure")
    patient.challenge.get_by_role("button", name="Complete").click()

    see(patient.panel.get_by_role("heading", name="Payment complete")).to_be_visible()
    see(clinician.live_region()).to_have_text("Payment received: A$120.00 for Specialist review.")
    (paid,) = consultation.requests()
    assert paid["status"] == "succeeded"


def test_three_d_secure_failed_is_said_in_words_on_both_sides(
    consultation: Consultation, site: dict[str, str], page: Page, patient_page: Page
) -> None:
    clinician = ClinicianScreen(page, site, consultation).open()
    clinician.request_payment("120", "Specialist review")
    patient = PatientScreen(patient_page, consultation).open()
    patient.pay_now("Specialist review")
    patient.give_email(consultation.email)
    patient.enter_card(THREE_D_SECURE_CARD)
    patient.pay()
    patient.challenge.get_by_role("button", name="Fail").click()

    summary = patient.panel.get_by_role("alert")
    see(summary).to_contain_text(
        "Your bank did not confirm the payment. Try again, or use another card."
    )
    failed_row = clinician.row("Specialist review")
    see(failed_row.get_by_text("Authentication failed — the patient can try again")).to_be_visible()
    see(clinician.live_region()).to_contain_text("Authentication failed")
    assert_accessible(page, "the clinician after a failed authentication")
    assert_accessible(patient_page, "the patient after a failed authentication")
    screenshot(page, "12-clinician-authentication-failed")
    (failed,) = consultation.requests()
    assert failed["status"] == "failed"
    assert failed["failure"]["code"] == "payment_intent_authentication_failure"


def wait_for_status(consultation: Consultation, status: str) -> None:
    wait_until(lambda: consultation.requests()[0]["status"] == status, f"status {status}")
