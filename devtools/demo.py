"""`make demo`: a telehealth consultation paid during the call, a hold charged at its end,
and a missed appointment charged to the card the patient kept, played end to end.

A fresh local stack is started (free ports, state in `.callpay/demo/`), then the story is
played only through what the apps around callpay would use: the HTTP API, the call's
WebSocket feed, localstripe standing for Stripe.js in the patient's browser, and the
mailbox moto keeps for SES; then the platform's side: its backend sends invoices that are
billed and paid in the call, and its endpoint (a small receiver here) verifies the signed
events it is sent. Every step waits (with a timeout) for what it must observe;
the exit status is 0 only if all of them were, and the stack is stopped either way.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import requests
import stripe
from websockets.exceptions import WebSocketException

from callpay.domain.money import Money
from devtools.endpoints import Endpoints
from devtools.identity import LocalIdentityProvider
from devtools.local_client import (
    DECLINED_CARD,
    GOOD_CARD,
    CallFeed,
    CallpayApi,
    PatientBrowser,
    UnexpectedAnswer,
    complete_onboarding,
    expect,
    html_as_text,
    wait_for_emails,
)
from devtools.platform_receiver import PlatformReceiver, summary
from devtools.processes import TimedOut, bypass_proxies_for_loopback
from devtools.stack import DEMO_CLINIC_SETTINGS, StackFailed
from devtools.stack_process import StackProcess

PATIENT_EMAIL = "alex.morgan@example.com"
# The video platform's reference of the patient: the clinic keeps a card by it.
PATIENT_REF = "patient-alex-morgan"
NO_SHOW_POLICY = (
    "If you cannot come, tell us a day ahead. A missed appointment costs the fee below, "
    "charged to the card you keep with us."
)
CLINIC_ID = "clinic-harbour"
# A webhook takes localstripe a second before the pop-up.
POP_UP_SECONDS = 15

# What a step may run into that means "not observed" rather than a bug in the demo.
NOT_OBSERVED = (
    TimedOut,
    UnexpectedAnswer,
    requests.RequestException,
    WebSocketException,
    OSError,
    stripe.StripeError,
)


class Narrator:
    def __init__(self, out: TextIO = sys.stdout) -> None:
        self._out = out
        color = out.isatty() and "NO_COLOR" not in os.environ
        self._bold = ("\033[1m", "\033[0m") if color else ("", "")
        self._green = ("\033[32m", "\033[0m") if color else ("", "")
        self._red = ("\033[31m", "\033[0m") if color else ("", "")

    def line(self, text: str = "") -> None:
        print(text, file=self._out, flush=True)

    def title(self, text: str) -> None:
        self.line(f"{self._bold[0]}{text}{self._bold[1]}")

    def step(self, number: int, total: int, text: str) -> None:
        self.line()
        self.line(f"{self._bold[0]}[{number}/{total}] {text}{self._bold[1]}")

    def detail(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self.line(f"      {line}")

    def ok(self, text: str) -> None:
        self.line(f"{self._green[0]}✓ {text}{self._green[1]}")

    def failed(self, text: str) -> None:
        self.line(f"{self._red[0]}✗ {text}{self._red[1]}")


def money(amount: int, currency: str) -> str:
    return Money(amount, currency).display()


@dataclass
class Consultation:
    endpoints: Endpoints
    identity: LocalIdentityProvider
    say: Narrator
    call_id: str = field(default_factory=lambda: f"call-{uuid.uuid4().hex[:8]}")
    steps: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    current: int = 0
    emails_read: int = 0  # the patient's e-mails the demo has shown so far

    def __post_init__(self) -> None:
        org = self.endpoints.demo_org_id
        tokens = self.identity
        api = CallpayApi(self.endpoints.http_url)
        self.org_admin = api.as_(tokens.token("olivia-org-admin", org, "org_admin", [CLINIC_ID]))
        self.clinic_admin = api.as_(tokens.token("casey-admin", org, "team_admin", [CLINIC_ID]))
        self.clinician_token = tokens.token("dr-sam-lee", org, "team_member", [CLINIC_ID])
        self.clinician = api.as_(self.clinician_token)
        self.patient = api.as_(None)
        self.browser = PatientBrowser(self.endpoints.stripe_api_base)
        self.feeds: list[CallFeed] = []
        # The platform's own backend (client credentials) and its webhook endpoint.
        self.platform = api.as_(
            tokens.client_token("platform-backend", org, ["callpay/invoices.write",
                                "callpay/invoices.read", "callpay/webhook-endpoints.write"])
        )  # fmt: skip
        self.receiver = PlatformReceiver()
        self.invoice_ids: list[str] = []
        self.first_request: dict[str, Any] = {}
        self.second_request: dict[str, Any] = {}
        self.steps = [
            ("An organisation admin enables payments for the clinic", self.enable_payments),
            ("The clinic admin links the clinic's Stripe account", self.link_stripe),
            ("Dr Lee starts the video call and joins its live feed", self.clinician_joins),
            ("Dr Lee lets the patient in; the patient's app joins the feed", self.patient_joins),
            ("Dr Lee requests 80.00 AUD for a telehealth consultation", self.request_first),
            ("The request appears on the patient's screen", self.patient_sees_first),
            ("The patient presses Pay now and gives an e-mail for the receipt", self.checkout),
            (f"The patient pays with the card {GOOD_CARD}", self.pay_first),
            ("Dr Lee's pop-up: payment received", self.clinician_pop_up),
            ("The receipt e-mail arrives", self.receipt),
            ("Dr Lee requests 45.00 AUD for a prescription renewal", self.request_second),
            (f"The patient's card {DECLINED_CARD} is declined", self.declined),
            (f"The patient tries again with {GOOD_CARD}: paid", self.retry),
            ("The platform registers its endpoint for signed events", self.register_endpoint),
            ("The platform's billing sends the patient's unpaid invoices", self.send_invoices),
            ("Dr Lee bills the two invoices in the call", self.bill_invoices),
            (f"The patient pays the invoices with {GOOD_CARD}", self.pay_invoices),
            ("The invoices are paid, with the receipt's number", self.invoices_paid),
            ("The platform's endpoint received the signed events", self.events_received),
            ("The clinic admin sets a no-show policy: 45.00 AUD, in the clinic's words",
             self.no_show_policy),
            ("Dr Lee places a 150.00 AUD hold for a procedure", self.request_hold),
            ("The patient reads the policy, agrees to keep the card, authorises the hold",
             self.authorise_hold),
            ("Dr Lee charges the final 120.00 AUD; the rest of the hold is released",
             self.capture_hold),
            ("The patient misses the follow-up: the no-show fee goes on the kept card",
             self.no_show),
        ]  # fmt: skip

    def close(self) -> None:
        for feed in self.feeds:
            feed.close()
        self.receiver.close()

    def play(self) -> None:
        try:
            for number, (title, action) in enumerate(self.steps, start=1):
                self.current = number
                self.say.step(number, len(self.steps), title)
                action()
        finally:
            self.close()

    # -- the clinic ----------------------------------------------------------------------

    def enable_payments(self) -> None:
        settings = expect(
            self.org_admin.request(
                "PUT", f"/clinics/{CLINIC_ID}/settings", DEMO_CLINIC_SETTINGS | {"enabled": True}
            ),
            200,
            "PUT /clinics/{id}/settings",
        )
        self.say.detail(
            f"PUT /clinics/{CLINIC_ID}/settings -> 200: enabled={settings['enabled']}, "
            f"{settings['legal_name']} ({settings['tax_id_label']} {settings['tax_id']}), "
            f"currency {settings['default_currency'].upper()}, {settings['time_zone']}"
        )
        if not settings["enabled"]:
            raise UnexpectedAnswer("the clinic is not enabled after the update")

    def link_stripe(self) -> None:
        link = expect(
            self.clinic_admin.post(f"/clinics/{CLINIC_ID}/stripe-account/link"),
            200,
            "POST /clinics/{id}/stripe-account/link",
        )
        self.say.detail(f'"Go to Stripe" -> {link["url"]}')
        self.say.detail("(local stack: the page stands for Stripe's onboarding and completes it)")
        complete_onboarding(link["url"])
        account = expect(
            self.clinic_admin.get(f"/clinics/{CLINIC_ID}/stripe-account"),
            200,
            "GET /clinics/{id}/stripe-account",
        )
        self.say.detail(
            f"Stripe account {account['stripe_account_id']}: "
            f"charges_enabled={account['charges_enabled']}"
        )
        if not account["charges_enabled"]:
            raise UnexpectedAnswer("the Stripe account cannot take charges after onboarding")

    # -- the call ------------------------------------------------------------------------

    def _feed(self, token: str, clinic_id: str | None = None) -> CallFeed:
        feed = CallFeed(self.endpoints.ws_url, self.call_id, token, clinic_id).open()
        self.feeds.append(feed)
        return feed

    def clinician_joins(self) -> None:
        self.clinician_feed = self._feed(self.clinician_token, CLINIC_ID)
        snapshot = self.clinician_feed.sync()
        self.say.detail(
            f"call {self.call_id}: WebSocket open; sync -> "
            f"{len(snapshot['payment_requests'])} payment requests so far"
        )

    def patient_joins(self) -> None:
        access = expect(
            self.clinician.post(
                f"/calls/{self.call_id}/patient-access",
                {"clinic_id": CLINIC_ID, "patient_ref": PATIENT_REF},
            ),
            201,
            "POST /calls/{id}/patient-access",
        )
        self.patient = self.patient.as_(access["token"])
        self.say.detail(f"patient access token for this call only, until {access['expires_at']}")
        self.patient_feed = self._feed(access["token"])
        snapshot = self.patient_feed.sync()
        self.say.detail(
            f"patient's WebSocket open; sync -> {len(snapshot['payment_requests'])} requests"
        )

    def _request(self, amount: int, description: str, hold: bool = False) -> dict[str, Any]:
        created: dict[str, Any] = expect(
            self.clinician.post(
                f"/calls/{self.call_id}/payment-requests",
                {
                    "clinic_id": CLINIC_ID,
                    "amount": amount,
                    "currency": "aud",
                    "description": description,
                    "capture_method": "manual" if hold else "automatic",
                },
                headers={"Idempotency-Key": uuid.uuid4().hex},
            ),
            201,
            "POST /calls/{id}/payment-requests",
        )
        self.say.detail(
            f"201 Created {created['id']}: {money(created['amount'], created['currency'])} "
            f'"{created["description"]}", status {created["status"]}'
        )
        return created

    def request_first(self) -> None:
        self.first_request = self._request(8000, "Telehealth consultation")

    def patient_sees_first(self) -> None:
        seen = self.patient_feed.update_of(self.first_request["id"], "requested")
        self.say.detail(
            f"payment_request.updated: {money(seen['amount'], seen['currency'])} "
            f'"{seen["description"]}", status {seen["status"]} -> the app shows "Pay now"'
        )

    def _checkout(self, request: dict[str, Any], **more: Any) -> str:
        checkout = expect(
            self.patient.post(
                f"/payment-requests/{request['id']}/checkout",
                {"email": PATIENT_EMAIL, "locale": "en-AU", **more},
            ),
            200,
            "POST /payment-requests/{id}/checkout",
        )
        self.last_checkout = checkout
        self.say.detail(
            f"checkout -> client secret for Stripe.js, publishable key "
            f"{checkout['publishable_key']}, account {checkout['stripe_account']}"
        )
        secret: str = checkout["client_secret"]
        return secret

    def checkout(self) -> None:
        self.say.detail(f"receipt e-mail: {PATIENT_EMAIL}")
        self.first_secret = self._checkout(self.first_request)

    def pay_first(self) -> None:
        intent = self.browser.pay(self.first_secret, GOOD_CARD)
        self.say.detail(f"Stripe (localstripe): PaymentIntent {intent.id} {intent.status}")
        seen = self.patient_feed.update_of(self.first_request["id"], "succeeded", POP_UP_SECONDS)
        self.say.detail(
            f"the patient's screen: payment {seen['status']}, paid at {seen['paid_at']}"
        )

    def clinician_pop_up(self) -> None:
        paid = self.clinician_feed.update_of(self.first_request["id"], "succeeded", POP_UP_SECONDS)
        self.say.detail(
            f"payment_request.updated on Dr Lee's socket: "
            f"{money(paid['amount_captured'], paid['currency'])} received, status {paid['status']}"
        )

    def _new_email(self) -> dict[str, Any]:
        """The patient's next e-mail: each payment, capture and fee sends one receipt."""
        self.emails_read += 1
        emails = wait_for_emails(self.endpoints.aws_endpoint_url, PATIENT_EMAIL, self.emails_read)
        return emails[self.emails_read - 1]

    def receipt(self) -> None:
        email = self._new_email()
        self.say.detail(f"From:    {email['source']}")
        self.say.detail(f"To:      {', '.join(email['destinations']['ToAddresses'])}")
        self.say.detail(f"Subject: {email['subject']}")
        self.say.detail("")
        for line in html_as_text(email["body"]).splitlines():
            self.say.detail(f"  │ {line}")

    def request_second(self) -> None:
        self.second_request = self._request(4500, "Prescription renewal")
        self.patient_feed.update_of(self.second_request["id"], "requested")
        self.say.detail("the patient sees it and presses Pay now")
        self.second_secret = self._checkout(self.second_request)

    def declined(self) -> None:
        try:
            self.browser.pay(self.second_secret, DECLINED_CARD)
        except stripe.CardError as error:
            self.say.detail(f"Stripe (localstripe) says: {error.user_message} ({error.code})")
        else:
            raise UnexpectedAnswer("the declined card was accepted")
        for who, feed in (("patient", self.patient_feed), ("Dr Lee", self.clinician_feed)):
            failed = feed.update_of(self.second_request["id"], "failed", POP_UP_SECONDS)
            failure = failed.get("failure") or {}
            self.say.detail(
                f"{who}'s socket: status {failed['status']}, failure {failure.get('code')}"
            )

    def retry(self) -> None:
        self.second_secret = self._checkout(self.second_request)
        intent = self.browser.pay(self.second_secret, GOOD_CARD)
        self.say.detail(f"Stripe (localstripe): PaymentIntent {intent.id} {intent.status}")
        paid = self.clinician_feed.update_of(self.second_request["id"], "succeeded", POP_UP_SECONDS)
        self.say.detail(
            f"Dr Lee's pop-up: {money(paid['amount_captured'], paid['currency'])} received"
        )
        email = self._new_email()
        self.say.detail(f"second receipt e-mail: {email['subject']}")

    # -- invoices, and the platform's events -------------------------------------------

    def register_endpoint(self) -> None:
        org = self.endpoints.demo_org_id
        endpoint = expect(
            self.platform.post(
                f"/orgs/{org}/webhook-endpoints",
                {"url": self.receiver.url, "description": "the platform's EMR (demo receiver)"},
            ),
            201,
            "POST /orgs/{id}/webhook-endpoints",
        )
        self.receiver.secret = endpoint["secret"]
        self.say.detail(f"endpoint {endpoint['id']} -> {endpoint['url']}")
        self.say.detail(f"signing secret {endpoint['secret'][:12]}... (shown this once)")

    def send_invoices(self) -> None:
        for number, lines in (
            ("INV-2041", [("Psychology session", 16000), ("Medicare rebate", -9000)]),
            ("INV-2042", [("Pathology review", 4500)]),
        ):
            invoice = expect(
                self.platform.request(
                    "PUT",
                    f"/clinics/{CLINIC_ID}/invoices/{number}",
                    {"patient": "patient-7f3a", "issued_on": "2026-11-01", "currency": "aud",
                     "lines": [{"description": d, "amount": a} for d, a in lines],
                     "total": sum(a for _, a in lines)},
                ),
                201,
                "PUT /clinics/{id}/invoices/{invoice}",
            )  # fmt: skip
            self.invoice_ids.append(invoice["id"])
            self.say.detail(
                f"{invoice['id']}: {money(invoice['total'], invoice['currency'])}, "
                f"{len(invoice['lines'])} line(s), {invoice['status']}"
            )

    def bill_invoices(self) -> None:
        listed = expect(
            self.clinician.get(f"/clinics/{CLINIC_ID}/invoices?patient=patient-7f3a&status=unpaid"),
            200,
            "GET /clinics/{id}/invoices",
        )
        self.say.detail(f"the patient's unpaid invoices: {[i['id'] for i in listed['invoices']]}")
        self.invoice_request: dict[str, Any] = expect(
            self.clinician.post(
                f"/calls/{self.call_id}/payment-requests",
                {"clinic_id": CLINIC_ID, "currency": "aud", "description": "Outstanding invoices",
                 "invoice_ids": self.invoice_ids},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            ),
            201,
            "POST /calls/{id}/payment-requests (invoice_ids)",
        )  # fmt: skip
        request = self.invoice_request
        self.say.detail(f"201 Created {request['id']}: {money(request['amount'], 'aud')}")
        for line in request["line_items"]:
            self.say.detail(
                f"  {line['invoice_id']} · {line['description']}: {money(line['amount'], 'aud')}"
            )

    def pay_invoices(self) -> None:
        self.patient_feed.update_of(self.invoice_request["id"], "requested")
        secret = self._checkout(self.invoice_request)
        intent = self.browser.pay(secret, GOOD_CARD)
        self.say.detail(f"Stripe (localstripe): PaymentIntent {intent.id} {intent.status}")
        paid = self.clinician_feed.update_of(
            self.invoice_request["id"], "succeeded", POP_UP_SECONDS
        )
        self.say.detail(f"Dr Lee's pop-up: {money(paid['amount_captured'], 'aud')} received")
        self.say.detail(f"receipt e-mail: {self._new_email()['subject']}")

    def invoices_paid(self) -> None:
        for invoice_id in self.invoice_ids:
            invoice = expect(
                self.platform.get(f"/clinics/{CLINIC_ID}/invoices/{invoice_id}"),
                200,
                "GET /clinics/{id}/invoices/{invoice}",
            )
            if invoice["status"] != "paid":
                raise UnexpectedAnswer(f"{invoice_id} is {invoice['status']}, not paid")
            self.say.detail(
                f"{invoice_id}: {invoice['status']} by {invoice['payment_request_id']}, "
                f"receipt {invoice['receipt_number']}"
            )

    def events_received(self) -> None:
        self.receiver.wait_for("invoice.paid", 2)
        self.receiver.wait_for("payment_request.succeeded")
        for event in self.receiver.events:
            self.say.detail(f"verified {event['type']:<28} {summary(event)}")
        if self.receiver.refused:
            raise UnexpectedAnswer(f"{self.receiver.refused} deliveries did not verify")
        raw = json.dumps(self.receiver.events)
        if PATIENT_EMAIL in raw:
            raise UnexpectedAnswer("an event carried the patient's e-mail")
        self.say.detail("every delivery verified (Standard Webhooks); no e-mail in any of them")

    # -- a hold, and a no-show -----------------------------------------------------------

    def no_show_policy(self) -> None:
        settings = expect(
            self.clinic_admin.request(
                "PUT", f"/clinics/{CLINIC_ID}/settings",
                {"no_show_fee": 4500, "no_show_policy": NO_SHOW_POLICY},
            ),
            200,
            "PUT /clinics/{id}/settings",
        )  # fmt: skip
        self.say.detail(
            f"no-show policy version {settings['no_show_policy_version']}: "
            f"{money(settings['no_show_fee'], 'aud')}"
        )
        self.say.detail(f'"{settings["no_show_policy"]}"')

    def request_hold(self) -> None:
        self.hold = self._request(15000, "Procedure", hold=True)
        self.patient_feed.update_of(self.hold["id"], "requested")

    def authorise_hold(self) -> None:
        self._checkout(self.hold)
        policy = self.last_checkout["no_show_policy"]
        self.say.detail(
            f"the card screen shows the policy (version {policy['version']}, "
            f"{money(policy['fee'], policy['currency'])}) and an unticked box to keep the card"
        )
        secret = self._checkout(self.hold, save_card=True, policy_version=policy["version"])
        self.say.detail(
            f"the patient ticks it: consent recorded ({self.last_checkout['save_card']})"
        )
        intent = self.browser.pay(secret, GOOD_CARD)
        self.say.detail(f"Stripe (localstripe): PaymentIntent {intent.id} {intent.status}")
        held = self.clinician_feed.update_of(self.hold["id"], "authorized", POP_UP_SECONDS)
        self.say.detail(
            f"Dr Lee's screen: {money(held['amount'], held['currency'])} held until "
            f"{held['hold_expires_at']} (Stripe's capture_before)"
        )

    def capture_hold(self) -> None:
        captured = expect(
            self.clinician.post(f"/payment-requests/{self.hold['id']}/capture", {"amount": 12000}),
            200,
            "POST /payment-requests/{id}/capture",
        )
        self.say.detail(
            f"captured {money(captured['amount_captured'], captured['currency'])} of "
            f"{money(captured['amount'], captured['currency'])}: status {captured['status']}"
        )
        email = self._new_email()
        text = html_as_text(email["body"])
        held = next(line for line in text.splitlines() if line.startswith("Held on card"))
        self.say.detail(f"receipt e-mail: {email['subject']} ({held})")
        if "The rest of the hold was released" not in text:
            raise UnexpectedAnswer("the receipt does not say the rest of the hold was released")

    def no_show(self) -> None:
        fee = expect(
            self.clinician.post(
                f"/calls/call-{uuid.uuid4().hex[:8]}/no-show-fees",
                {"clinic_id": CLINIC_ID, "patient_ref": PATIENT_REF},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            ),
            201,
            "POST /calls/{id}/no-show-fees",
        )
        self.say.detail(
            f"{money(fee['amount_captured'], fee['currency'])} charged off-session to the kept "
            f"card: status {fee['status']}"
        )
        if fee["status"] != "succeeded":
            raise UnexpectedAnswer(f"the no-show fee is {fee['status']}")
        email = self._new_email()
        text = html_as_text(email["body"])
        if "No-show fee" not in text:
            raise UnexpectedAnswer("the no-show receipt does not name the fee")
        self.say.detail(f"receipt e-mail: {email['subject']} (No-show fee, policy version 1)")


def main(state_dir: Path) -> int:
    say = Narrator()
    say.title("callpay demo: a telehealth consultation paid during the call, a hold, a no-show")
    say.line()
    say.line(f"Starting a local stack on free ports (its log: {state_dir / 'stack.log'})")
    started = time.monotonic()
    # This process and the stack (its child) talk to loopback servers only.
    os.environ.update(bypass_proxies_for_loopback())
    stack = StackProcess(state_dir, on_progress=say.detail)
    try:
        endpoints = stack.start()
    except StackFailed as failure:
        say.failed(f"the local stack did not start: {failure}")
        return 1
    try:
        say.detail(f"ready in {time.monotonic() - started:.1f}s: {endpoints.http_url}")
        consultation = Consultation(endpoints, LocalIdentityProvider.in_dir(state_dir), say)
        played = time.monotonic()
        try:
            consultation.play()
        except NOT_OBSERVED as failure:
            say.line()
            say.failed(
                f"step {consultation.current}/{len(consultation.steps)} was not observed: {failure}"
            )
            say.line(f"The end of the stack's log ({stack.log_path}):")
            for line in stack.log_tail(15).splitlines():
                say.detail(line if len(line) <= 160 else line[:157] + "...")
            return 1
        say.line()
        say.ok(
            f"All {len(consultation.steps)} steps observed in {time.monotonic() - played:.1f}s "
            f"({time.monotonic() - started:.1f}s with the stack's start)."
        )
        return 0
    finally:
        stack.stop()
        say.line("The local stack is stopped.")
