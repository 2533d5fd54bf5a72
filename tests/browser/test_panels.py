"""The in-call panels and the hosted pay page in Chromium, as the clinician and the patient
use them during a consultation.

Each test drives both sides through the screens (keyboard where it matters), checks what
each person sees and hears (the live region), axe-core on every screen, and the stored
state through the API; the consultation also checks the receipt e-mail in SES (moto).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import expect as see

from devtools.frontend_text import compiled
from tests.browser.conftest import assert_accessible
from tests.browser.panels import (
    DECLINED_CARD,
    GOOD_CARD,
    THREE_D_SECURE_CARD,
    ClinicianScreen,
    Consultation,
    PatientScreen,
    host_page,
    new_page,
    press,
    screenshot,
    tab_to,
    wait_until,
)
from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.browser


@pytest.fixture
def consultation(stack: LocalStack) -> Consultation:
    return Consultation.start(stack)


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


def test_a_reconnect_during_payment_resyncs_both_panels(
    browser: Browser, consultation: Consultation, site: dict[str, str], page: Page,
    patient_page: Page,
) -> None:  # fmt: skip
    clinician = ClinicianScreen(page, site, consultation).open()
    clinician.request_payment("60", "Prescription")
    patient = PatientScreen(patient_page, consultation).open()
    patient.pay_now("Prescription")
    patient.give_email(consultation.email)
    patient.enter_card(GOOD_CARD)

    # The clinician's network drops and both sockets are closed by the server side, so
    # neither panel hears the payment as it happens.
    page.context.set_offline(True)
    assert consultation.close_sockets() == 2
    see(clinician.panel.get_by_text("Connection lost. Reconnecting…")).to_be_visible()
    patient.pay()
    wait_for_status(consultation, "succeeded")
    # The patient's panel came back on its own and synced: the payment is confirmed.
    see(patient.panel.get_by_role("heading", name="Payment complete")).to_be_visible()
    see(clinician.row("Prescription").get_by_text("Waiting for the patient to pay")).to_be_visible()

    page.context.set_offline(False)
    see(clinician.panel.get_by_text("Updates live")).to_be_visible(timeout=30_000)
    see(clinician.live_region()).to_have_text("Payment received: A$60.00 for Prescription.")
    see(clinician.row("Prescription").get_by_text("Paid A$60.00")).to_be_visible()
    (paid,) = consultation.requests()
    assert paid["status"] == "succeeded" and paid["amount_captured"] == 6000


def test_the_patient_panel_pays_in_a_page_with_unnamed_iframes(
    stack: LocalStack, consultation: Consultation, site: dict[str, str], page: Page
) -> None:
    """A video platform's call page: its SDK's frames have no name."""
    consultation_api = stack.api(consultation.clinician_token)
    created = consultation_api.post(
        f"/calls/{consultation.call_id}/payment-requests",
        {"clinic_id": stack.clinic_id, "amount": 2500, "currency": "aud",
         "description": "Medical certificate"},
    ).json()  # fmt: skip
    path = f"/patient-{consultation.call_id}"
    site[path] = host_page(
        stack, "callpay-patient-panel", iframes=True,
        call_id=consultation.call_id, token=consultation.patient_token, locale="en",
    )  # fmt: skip
    page.goto(site["origin"] + path)
    assert page.locator("iframe:not([name])").count() >= 2
    patient = PatientScreen(page, consultation)
    see(patient.panel.get_by_text("Updates live")).to_be_visible()
    patient.pay_now("Medical certificate")
    patient.give_email(consultation.email)
    patient.enter_card(GOOD_CARD)
    assert_accessible(page, "the patient panel in a call page")
    patient.pay()
    see(patient.panel.get_by_role("heading", name="Payment complete")).to_be_visible()
    screenshot(page, "13-patient-panel-in-a-call-page")
    assert consultation.request(created["id"])["status"] == "succeeded"


def test_the_pay_page_in_arabic_is_right_to_left(
    browser: Browser, consultation: Consultation, site: dict[str, str], page: Page
) -> None:
    clinician = ClinicianScreen(page, site, consultation).open()
    clinician.request_payment("80", "استشارة طبية")
    context, arabic = new_page(browser, locale="ar-EG")
    try:
        patient = PatientScreen(arabic, consultation)
        arabic.goto(consultation.patient_url)
        see(patient.panel.get_by_text("التحديثات مباشرة")).to_be_visible()
        assert arabic.evaluate(
            "() => [document.documentElement.lang, document.documentElement.dir]"
        ) == ["ar", "rtl"]
        frame = patient.panel.locator(".panel")
        assert frame.evaluate("(el) => [el.lang, el.dir, getComputedStyle(el).direction]") == [
            "ar",
            "rtl",
            "rtl",
        ]
        see(
            patient.panel.get_by_role("heading", name="المدفوعات الخاصة بهذه المكالمة")
        ).to_be_visible()
        amount = arabic.evaluate(
            "() => new Intl.NumberFormat('ar', {style: 'currency', currency: 'AUD'}).format(80)"
        )
        see(patient.panel.get_by_text(amount)).to_be_visible()
        assert arabic.title() == "ادفع لعيادتك"
        assert_accessible(arabic, "the Arabic pay page")
        screenshot(arabic, "14-patient-pay-page-arabic")
        row = patient.panel.locator("li", has_text="استشارة طبية")
        press(arabic, row.get_by_role("button", name="ادفع الآن"))
        patient.panel.get_by_label("عنوان البريد الإلكتروني").fill(consultation.email)
        press(arabic, patient.panel.get_by_role("button", name="متابعة"))
        patient.enter_card(GOOD_CARD)
        patient.panel.get_by_role("button", name=f"ادفع {amount}").click()
        see(patient.panel.get_by_role("heading", name="اكتمل الدفع")).to_be_visible()
        assert_accessible(arabic, "the Arabic confirmation")
        screenshot(arabic, "15-patient-confirmation-arabic")
        (paid,) = consultation.requests()
        assert paid["status"] == "succeeded"
    finally:
        context.close()


# The sample of scripts besides Arabic: Khmer, Amharic (Ethiopic) and Chinese.
NATIVE_SCRIPTS = [
    ("km-KH", "km", "17-patient-pay-page-khmer"),
    ("am-ET", "am", "18-patient-pay-page-amharic"),
    ("zh-CN", "zh_Hans", "19-patient-pay-page-chinese"),
    # Macau: the browser alone would pick Taiwan's Traditional Chinese; index.json's
    # aliases give Hong Kong's, as the server's CLDR chain does.
    ("zh-MO", "zh_Hant_HK", None),
]


@pytest.mark.parametrize(("browser_locale", "catalog", "image"), NATIVE_SCRIPTS)
def test_the_pay_page_in_the_patients_script(
    browser: Browser,
    consultation: Consultation,
    site: dict[str, str],
    page: Page,
    *,
    browser_locale: str,
    catalog: str,
    image: str | None,
) -> None:
    words = compiled(catalog)["messages"]
    clinician = ClinicianScreen(page, site, consultation).open()
    clinician.request_payment("80", "Telehealth consultation")
    context, patient_page = new_page(browser, locale=browser_locale)
    try:
        patient = PatientScreen(patient_page, consultation)
        patient_page.goto(consultation.patient_url)
        see(patient.panel.get_by_text(words["Updates live"])).to_be_visible()
        lang = catalog.replace("_", "-")
        assert patient_page.evaluate(
            "() => [document.documentElement.lang, document.documentElement.dir]"
        ) == [lang, "ltr"]
        frame = patient.panel.locator(".panel")
        assert frame.evaluate("(el) => [el.lang, el.dir]") == [lang, "ltr"]
        assert patient_page.title() == words["Pay your clinic"]
        see(
            patient.panel.get_by_role("heading", name=words["Payments for this call"])
        ).to_be_visible()
        amount = patient_page.evaluate(
            "(tag) => new Intl.NumberFormat(tag, {style: 'currency', currency: 'AUD'}).format(80)",
            lang,
        )
        row = patient.panel.locator("li", has_text="Telehealth consultation")
        see(row.get_by_text(amount)).to_be_visible()
        see(row.get_by_role("button", name=words["Pay now"])).to_be_visible()
        assert_accessible(patient_page, f"the pay page in {catalog}")
        if image:
            screenshot(patient_page, image)
    finally:
        context.close()


def test_a_broken_link_says_what_to_do(consultation: Consultation, patient_page: Page) -> None:
    tampered = consultation.patient_url.replace("token=", "token=x")
    response = patient_page.goto(tampered)
    assert response is not None
    patient = PatientScreen(patient_page, consultation)
    see(
        patient.panel.get_by_role("heading", name="This payment link does not work")
    ).to_be_visible()
    see(patient.panel.get_by_text("Ask the clinic for a new link.", exact=False)).to_be_visible()
    assert_accessible(patient_page, "a broken link")
    screenshot(patient_page, "16-patient-link-does-not-work")


def test_the_pay_page_is_served_with_productions_security_headers(
    stack: LocalStack, consultation: Consultation, patient_page: Page
) -> None:
    violations: list[str] = []
    patient_page.on(
        "console", lambda m: "Content Security Policy" in m.text and violations.append(m.text)
    )
    response = patient_page.goto(consultation.patient_url)
    assert response is not None
    headers = response.headers
    ws = stack.endpoints.ws_url.rstrip("/")
    assert headers["content-security-policy"] == (
        "default-src 'none'; script-src 'self'; frame-src 'self'; "
        f"connect-src 'self' {ws}; img-src 'self'; style-src 'self'; font-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-type"] == "text/html; charset=utf-8"
    module = patient_page.request.get(f"{stack.endpoints.http_url}/app/callpay.js")
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    assert module.headers["access-control-allow-origin"] == "*"
    config = patient_page.request.get(f"{stack.endpoints.http_url}/app/config.json").json()
    assert config == {"apiBase": stack.endpoints.http_url, "wsUrl": stack.endpoints.ws_url,
                      "stripeJsUrl": stack.endpoints.stripe_js_url}  # fmt: skip
    hidden = patient_page.request.get(
        f"{stack.endpoints.http_url}/app/locales/fr/LC_MESSAGES/frontend.po"
    )
    assert hidden.status == 404
    see(PatientScreen(patient_page, consultation).panel.get_by_text("Updates live")).to_be_visible()
    assert violations == []


def test_amounts_typed_by_the_clinician_become_stripes_minor_units(
    stack: LocalStack, patient_page: Page
) -> None:
    patient_page.goto(f"{stack.endpoints.http_url}/app/pay/")
    results = patient_page.evaluate(
        """async () => {
          const m = await import('/app/callpay.js');
          const cases = [['80', 'aud'], ['80.5', 'aud'], ['80,05', 'eur'], ['8000', 'jpy'],
            ['80.5', 'jpy'], ['1.234', 'kwd'], ['\\u0661\\u0662\\u066b\\u0665', 'aed'],
            ['', 'aud'], ['8O', 'aud'], ['0.00', 'aud'], ['1.234', 'aud']];
          return [...cases.map(([text, currency]) => m.toMinorUnits(text, currency)),
            m.formatAmount(8000, 'jpy', 'en'), m.formatAmount(1234, 'kwd', 'en')];
        }"""
    )
    assert results == [
        {"amount": 8000}, {"amount": 8050}, {"amount": 8005},
        {"amount": 8000}, {"problem": "decimals"}, {"amount": 1234},
        {"amount": 1250}, {"problem": "empty"}, {"problem": "format"},
        {"problem": "zero"}, {"problem": "decimals"},
        "¥8,000", "KWD\xa01.234",
    ]  # fmt: skip


def test_a_hold_is_charged_by_keyboard_alone(
    consultation: Consultation, site: dict[str, str], page: Page, patient_page: Page
) -> None:
    clinician = ClinicianScreen(page, site, consultation).open()
    clinician.request_payment("150", "Procedure deposit", hold=True)
    patient = PatientScreen(patient_page, consultation).open()
    patient.pay_now("Procedure deposit")
    patient.give_email(consultation.email)
    patient.enter_card(GOOD_CARD)
    patient.pay()
    see(patient.panel.get_by_role("heading", name="Card authorised")).to_be_visible()
    row = clinician.row("Procedure deposit")
    see(row.get_by_text("Card authorised: A$150.00 held")).to_be_visible()

    press(page, row.get_by_role("button", name="Charge final amount"))
    see(clinician.panel.get_by_role("heading", name="Charge the final amount")).to_be_focused()
    field = clinician.panel.get_by_label("Final amount in AUD")
    tab_to(page, field)
    page.keyboard.press("Control+A")
    page.keyboard.type("200")
    press(page, clinician.panel.get_by_role("button", name="Charge", exact=True))
    see(clinician.panel.get_by_role("alert")).to_contain_text(
        "The final amount cannot be more than the amount held."
    )
    assert_accessible(page, "the capture error")
    tab_to(page, field)
    page.keyboard.press("Control+A")
    page.keyboard.type("95.50")
    press(page, clinician.panel.get_by_role("button", name="Charge", exact=True))
    see(clinician.row("Procedure deposit").get_by_text("Paid A$95.50")).to_be_visible()
    (captured,) = consultation.requests()
    assert captured["status"] == "succeeded" and captured["amount_captured"] == 9550


def test_an_expired_clinician_session_says_sign_in_again(
    stack: LocalStack, consultation: Consultation, site: dict[str, str], page: Page
) -> None:
    expired = stack.identity.token(
        "dr-lee", stack.endpoints.demo_org_id, "team_member", [stack.clinic_id], expires_in=-120
    )
    clinician = ClinicianScreen(page, site, replace(consultation, clinician_token=expired))
    page.goto(clinician.url)
    see(clinician.panel.get_by_role("heading", name="Your session has expired")).to_be_visible()
    see(clinician.panel.get_by_text("Sign in again to request payments.")).to_be_visible()
    see(clinician.panel.get_by_role("button", name="Request payment")).to_have_count(0)
    assert_accessible(page, "an expired clinician session")
