"""Holds, no-show fees, kept cards and pay-later links against real local servers: moto for
DynamoDB, SQS and SES; localstripe (with the launcher's patches: card details with
`capture_before`, `setup_future_usage`, off-session charges) for Stripe. The events
localstripe never sends (a lapse) are built from Stripe's documented payloads and signed
here (tests/support/stripe_events.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from callpay import runtime
from callpay.domain.clinic import Clinic
from callpay.domain.payment_request import PaymentRequest, Status
from callpay.logic.hold_sweeper import HoldSweeper
from hold_sweeper import composition as hold_sweeper_parts
from request_payment import composition as request_payment_parts
from tests.integration.conftest import ACCOUNT_SECRET, Stack, claims_for, deliver
from tests.integration.test_payment_loop import GOOD_CARD, api, pay, stored
from tests.integration.test_realtime import open_feed, receive
from tests.support.events import http_event
from tests.support.servers import wait_until
from tests.support.stripe_events import encode, intent_event, signature

pytestmark = pytest.mark.integration

POLICY = "Cancel a day ahead or we charge the no-show fee of $45."
# Asks for 3-D Secure on every payment, off-session ones too (Stripe's test card).
ALWAYS_AUTHENTICATE = "4000002760003184"
PAGE = "https://pay.callpay.test/pay/"


@pytest.fixture(autouse=True)
def pay_page(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PATIENT_PAGE_URL", PAGE)
    runtime.reset()
    yield
    monkeypatch.delenv("PATIENT_PAGE_URL")
    runtime.reset()


@pytest.fixture
def clinic_with_policy(clinic: Clinic) -> Clinic:
    with_policy = clinic.model_copy(
        update={"legal_name": "Harbour Telehealth", "no_show_fee": 4500,
                "no_show_policy": POLICY, "no_show_policy_version": 1}
    )  # fmt: skip
    runtime.store().put_clinic(with_policy)
    return with_policy


def new_call() -> str:
    return f"call-{uuid.uuid4().hex[:8]}"


def request(clinic: Clinic, call_id: str, hold: bool = True, amount: int = 8000) -> str:
    body = {"clinic_id": clinic.clinic_id, "amount": amount, "currency": "aud",
            "description": "Telehealth consultation",
            "capture_method": "manual" if hold else "automatic"}  # fmt: skip
    status, created = api(
        http_event("POST", f"/calls/{call_id}/payment-requests", body, claims=claims_for(clinic))
    )
    assert status == 201, created
    return str(created["id"])


def patient(clinic: Clinic, call_id: str, patient_ref: str | None = None) -> str:
    body = {"clinic_id": clinic.clinic_id} | ({"patient_ref": patient_ref} if patient_ref else {})
    status, access = api(
        http_event("POST", f"/calls/{call_id}/patient-access", body, claims=claims_for(clinic))
    )
    assert status == 201, access
    return str(access["token"])


def checkout(pr_id: str, token: str, email: str, **more: Any) -> dict[str, Any]:
    body = {"email": email, "locale": "en-AU"} | more
    status, answer = api(
        http_event("POST", f"/payment-requests/{pr_id}/checkout", body, token=token)
    )
    assert status == 200, answer
    return dict(answer)


def clinician(path: str, body: Any = None, clinic: Clinic | None = None, **kw: Any) -> Any:
    assert clinic is not None
    return api(http_event("POST", path, body, claims=claims_for(clinic), **kw))


def authorised(stack: Stack, clinic: Clinic, email: str, card: str = GOOD_CARD) -> PaymentRequest:
    call_id = new_call()
    pr_id = request(clinic, call_id)
    checkout(pr_id, patient(clinic, call_id), email)
    intent = stored(pr_id).payment_intent_id
    assert intent
    pay(stack, intent, card)
    wait_until(lambda: stored(pr_id).status is Status.AUTHORIZED, what="the hold")
    wait_until(lambda: stored(pr_id).capture_before is not None, what="capture_before")
    return stored(pr_id)


def intent_of(stack: Stack, intent_id: str) -> Any:
    return stack.stripe().v1.payment_intents.retrieve(
        intent_id, params={"expand": ["latest_charge"]}
    )


def emails_to(stack: Stack, address: str) -> list[dict[str, Any]]:
    stack.receipt_worker.drain()
    data = requests.get(f"{stack.aws_endpoint}/moto-api/data.json", timeout=5).json()
    return [m for m in data["ses"]["Message"] if address in m["destinations"]["ToAddresses"]]


def mails_once(stack: Stack, email: str, present: str, count: int = 1) -> list[dict[str, Any]]:
    """The e-mails to `email` whose body holds `present`, once there are `count` of them: the
    webhook queues a receipt only after it saved the payment (and pushed it)."""
    wait_until(
        lambda: len([m for m in emails_to(stack, email) if present in m["body"]]) >= count,
        what=f"e-mail with {present!r}",
    )
    return [m for m in emails_to(stack, email) if present in m["body"]]


def address() -> str:
    return f"patient-{uuid.uuid4().hex[:8]}@example.com"


def signed_delivery(event: dict[str, Any]) -> tuple[int, bytes]:
    body = encode(event)
    return deliver(body, {"Stripe-Signature": signature(body, ACCOUNT_SECRET)})


# -- authorisation and capture -----------------------------------------------------------


def test_an_authorisation_records_stripes_capture_before_and_is_found_by_key(
    stack: Stack, clinic: Clinic
) -> None:
    held = authorised(stack, clinic, address())
    charge = intent_of(stack, str(held.payment_intent_id)).latest_charge
    deadline = charge.payment_method_details.card.capture_before
    assert held.capture_before == datetime.fromtimestamp(deadline, UTC)
    assert held.hold_deadline == held.capture_before
    # The sweeper's index finds it by the day it lapses, with no scan.
    found = runtime.store().holds_expiring(held.capture_before - timedelta(minutes=1),
                                           held.capture_before + timedelta(minutes=1))  # fmt: skip
    assert held.id in [r.id for r in found]
    status, shown = api(
        http_event("GET", f"/payment-requests/{held.id}", claims=claims_for(clinic))
    )
    assert status == 200 and shown["capture_before"] == shown["hold_expires_at"]


@pytest.mark.parametrize(("amount", "captured"), [(None, 8000), (5000, 5000), (0, 0)])
def test_a_hold_is_captured_in_full_in_part_or_released_on_stripe(
    stack: Stack, clinic: Clinic, amount: int | None, captured: int
) -> None:
    held = authorised(stack, clinic, address())
    body = {} if amount is None else {"amount": amount}
    status, shown = clinician(f"/payment-requests/{held.id}/capture", body, clinic)
    assert status == 200, shown
    on_stripe = intent_of(stack, str(held.payment_intent_id))
    if captured:
        assert shown["status"] == "succeeded" and shown["amount_captured"] == captured
        assert on_stripe.status == "succeeded"
        # Stripe's succeeded event (localstripe reports the whole amount) changes nothing.
        wait_until(lambda: stack.receiver.delivered("payment_intent.succeeded", on_stripe.id))
        assert stored(held.id).amount_captured == captured
    else:
        assert shown["status"] == "canceled" and shown["cancellation_reason"] == "released"
        assert on_stripe.status == "canceled"
    # Out of the sweeper's index once no longer held.
    now = datetime.now(UTC)
    assert held.id not in [
        r.id for r in runtime.store().holds_expiring(now, now + timedelta(days=8))
    ]


# -- lapses ------------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "api_version"), [
    ("expired", "2025-03-31.basil"), ("automatic", "2024-06-20"),
])  # fmt: skip
def test_a_lapse_stripe_reports_cancels_the_hold_as_expired(
    stack: Stack, clinic: Clinic, reason: str, api_version: str
) -> None:
    held = authorised(stack, clinic, address())
    lapsed = intent_event(
        "payment_intent.canceled", str(held.payment_intent_id), held.id,
        cancellation_reason=reason, api_version=api_version,
    )  # fmt: skip
    status, body = signed_delivery(lapsed)
    assert status == 200 and b'"applied"' in body
    after = stored(held.id)
    assert after.status is Status.CANCELED and after.cancellation_reason == "expired"
    trail = runtime.store().audit_trail(held.id)
    assert trail[-1].action == "hold.expired" and trail[-1].cause.subject == lapsed["id"]
    assert signed_delivery(lapsed)[1].count(b"duplicate") == 1


def sweeper(now: datetime) -> HoldSweeper:
    sweep = hold_sweeper_parts.hold_sweeper()
    return HoldSweeper(
        store=sweep.store, gateway=sweep.gateway, notifier=sweep.notifier,
        receipts=sweep.receipts, clock=lambda: now, warn_before=sweep.warn_before,
    )  # fmt: skip


def test_the_sweeper_warns_then_lapses_a_hold_no_event_ever_reported(
    stack: Stack, clinic: Clinic
) -> None:
    held = authorised(stack, clinic, address())
    assert held.capture_before is not None
    call_feed = open_feed(
        stack, held.call_id, stack.identity.token(claims_for(clinic)), clinic_id=clinic.clinic_id
    )
    with call_feed as feed:
        feed.send('{"action": "sync"}')
        assert receive(feed)["type"] == "call.snapshot"
        # A day before Stripe's deadline (the clock moved, not the world): a warning, once.
        almost = held.capture_before - timedelta(hours=20)
        assert held.id in sweeper(almost).sweep().warned
        warned = receive(feed)["payment_request"]
        assert warned["id"] == held.id and warned["expiry_warned_at"] is not None
        assert held.id not in sweeper(almost).sweep().warned
        # Past it: localstripe still holds the money, so the sweeper lets it go there.
        late = held.capture_before + timedelta(minutes=5)
        assert held.id in sweeper(late).sweep().expired
        lapsed = receive(feed)["payment_request"]
        assert lapsed["status"] == "canceled" and lapsed["cancellation_reason"] == "expired"
    assert intent_of(stack, str(held.payment_intent_id)).status == "canceled"
    after = stored(held.id)
    assert after.status is Status.CANCELED and after.cancellation_reason == "expired"
    actions = [a.action for a in runtime.store().audit_trail(held.id)]
    assert actions[-2:] == ["hold.expiring", "hold.expired"]
    assert held.id not in sweeper(late).sweep().expired  # nothing twice


# -- re-authorisation --------------------------------------------------------------------


def test_a_fresh_hold_on_the_same_request_after_a_lapse(stack: Stack, clinic: Clinic) -> None:
    email = address()
    held = authorised(stack, clinic, email)
    assert held.capture_before is not None
    sweeper(held.capture_before + timedelta(minutes=1)).sweep()
    status, shown = clinician(f"/payment-requests/{held.id}/reauthorize", None, clinic)
    assert status == 200, shown
    assert shown["status"] == "requested" and shown["hold_attempt"] == 2
    renewed = stored(held.id)
    assert renewed.payment_intent_id and renewed.payment_intent_id != held.payment_intent_id
    fresh = intent_of(stack, renewed.payment_intent_id)
    assert fresh.capture_method == "manual" and fresh.metadata["payment_request_id"] == held.id
    # The patient authorises again on the same request.
    checkout(held.id, patient(clinic, held.call_id), email)
    pay(stack, renewed.payment_intent_id, GOOD_CARD)
    wait_until(lambda: stored(held.id).status is Status.AUTHORIZED, what="the fresh hold")
    status, captured = clinician(f"/payment-requests/{held.id}/capture", {"amount": 6000}, clinic)
    assert (
        status == 200 and captured["status"] == "succeeded" and captured["amount_captured"] == 6000
    )
    assert len([r for r in runtime.store().by_call(held.call_id)]) == 1  # one request
    actions = [a.action for a in runtime.store().audit_trail(held.id)]
    assert "hold.expired" in actions and "hold.reauthorization_requested" in actions
    assert actions.index("hold.expired") < actions.index("hold.reauthorization_requested")


def test_asking_for_a_fresh_hold_lets_the_held_one_go_on_stripe(
    stack: Stack, clinic: Clinic
) -> None:
    held = authorised(stack, clinic, address())
    status, _ = clinician(f"/payment-requests/{held.id}/reauthorize", None, clinic)
    assert status == 200
    assert intent_of(stack, str(held.payment_intent_id)).status == "canceled"
    # Stripe's event for the old intent is not about this request any more.
    old = intent_event("payment_intent.canceled", str(held.payment_intent_id), held.id,
                       cancellation_reason="requested_by_customer")  # fmt: skip
    status, body = signed_delivery(old)
    assert status == 200 and b'"ignored"' in body
    assert stored(held.id).status is Status.REQUESTED


# -- no-show fees ------------------------------------------------------------------------


def test_a_no_show_on_a_hold_captures_the_fee_the_patient_was_shown(
    stack: Stack, clinic_with_policy: Clinic
) -> None:
    clinic = clinic_with_policy
    call_id = new_call()
    pr_id = request(clinic, call_id)
    answer = checkout(pr_id, patient(clinic, call_id), address())
    assert answer["no_show_policy"]["text"] == POLICY and answer["no_show_policy"]["fee"] == 4500
    intent = str(stored(pr_id).payment_intent_id)
    pay(stack, intent, GOOD_CARD)
    wait_until(lambda: stored(pr_id).status is Status.AUTHORIZED, what="the hold")
    status, shown = clinician(f"/payment-requests/{pr_id}/capture", {"reason": "no_show"}, clinic)
    assert status == 200, shown
    assert shown["charge_reason"] == "no_show" and shown["amount_captured"] == 4500
    assert intent_of(stack, intent).status == "succeeded"


def kept_card(stack: Stack, clinic: Clinic, patient_ref: str, email: str, card: str) -> str:
    """A payment through which the patient agreed to keep their card: its request id."""
    call_id = new_call()
    pr_id = request(clinic, call_id, hold=False, amount=3000)
    token = patient(clinic, call_id, patient_ref)
    first = checkout(pr_id, token, email)
    assert first["can_save_card"] is True
    agreed = checkout(pr_id, token, email, save_card=True,
                      policy_version=first["no_show_policy"]["version"])  # fmt: skip
    assert agreed["save_card"] is True
    intent = str(stored(pr_id).payment_intent_id)
    on_stripe = intent_of(stack, intent)
    assert on_stripe.setup_future_usage == "off_session" and on_stripe.customer
    client = stack.stripe()
    method = client.v1.payment_methods.create(params={
        "type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    })  # fmt: skip
    client.v1.payment_intents.update(intent, params={"payment_method": method.id})
    confirmed = client.v1.payment_intents.confirm(intent)
    if confirmed.status == "requires_action":  # the patient completes 3-D Secure, on-session
        requests.post(
            f"{stack.stripe_base}/v1/payment_intents/{intent}/_authenticate",
            data={"client_secret": confirmed.client_secret, "success": "true"},
            headers={"Authorization": "Bearer sk_test_local"}, timeout=5,
        ).raise_for_status()  # fmt: skip
    wait_until(lambda: stored(pr_id).saved_payment_method is not None, what="the card kept")
    return pr_id


def test_a_no_show_fee_is_charged_off_session_to_the_card_the_patient_kept(
    stack: Stack, clinic_with_policy: Clinic
) -> None:
    clinic, email, patient_ref = clinic_with_policy, address(), f"patient-{uuid.uuid4().hex[:6]}"
    consenting = kept_card(stack, clinic, patient_ref, email, GOOD_CARD)
    card = runtime.store().saved_card(clinic.clinic_id, patient_ref)
    assert card is not None and card.consent.payment_request_id == consenting
    customer = stack.stripe().v1.customers.retrieve(card.customer_id)
    assert customer.email is None  # a Customer per patient, never found by e-mail
    assert patient_ref not in str(customer.metadata)
    status, fee = clinician(
        f"/calls/{new_call()}/no-show-fees",
        {"clinic_id": clinic.clinic_id, "patient_ref": patient_ref}, clinic,
    )  # fmt: skip
    assert status == 201, fee
    assert fee["status"] == "succeeded" and fee["amount_captured"] == 4500 and fee["off_session"]
    charged = intent_of(stack, str(stored(fee["id"]).payment_intent_id))
    assert charged.status == "succeeded" and charged.payment_method == card.payment_method_id
    receipts = mails_once(stack, email, "No-show fee")
    assert len(receipts) == 1 and "version 1" in receipts[0]["body"]
    # The consent, on the receipt of the payment that kept the card.
    assert len(mails_once(stack, email, "You agreed to keep this card")) == 1


def test_a_bank_wanting_the_card_holder_turns_the_fee_into_a_link_and_an_alert(
    stack: Stack, clinic_with_policy: Clinic
) -> None:
    clinic, email, patient_ref = clinic_with_policy, address(), f"patient-{uuid.uuid4().hex[:6]}"
    kept_card(stack, clinic, patient_ref, email, ALWAYS_AUTHENTICATE)
    call_id = new_call()
    with open_feed(
        stack, call_id, stack.identity.token(claims_for(clinic)), clinic_id=clinic.clinic_id
    ) as feed:
        status, fee = clinician(
            f"/calls/{call_id}/no-show-fees",
            {"clinic_id": clinic.clinic_id, "patient_ref": patient_ref}, clinic,
        )  # fmt: skip
        assert status == 201, fee
        assert fee["status"] == "failed" and fee["failure"]["code"] == "authentication_required"
        assert fee["pay_link"] is not None
        heard = [receive(feed)["payment_request"] for _ in range(3)]
        assert heard[-1]["failure"]["code"] == "authentication_required"
        assert heard[-1]["pay_link"] is not None  # the clinician's alert
    on_stripe = intent_of(stack, str(stored(fee["id"]).payment_intent_id))
    assert on_stripe.status == "requires_payment_method"
    assert on_stripe.last_payment_error.code == "authentication_required"
    (link_mail,) = mails_once(stack, email, PAGE)
    assert "Your bank asks you to confirm a payment of A$45.00" in link_mail["body"]


# -- pay-later links ---------------------------------------------------------------------


def link_from(mail: dict[str, Any]) -> str:
    (url,) = set(re.findall(re.escape(PAGE) + r"#[^\s\"<]+", mail["body"]))
    return url.replace("&amp;", "&")


def test_a_pay_later_link_paid_after_the_call_ends_like_a_payment_in_the_call(
    stack: Stack, clinic: Clinic
) -> None:
    call_id, email = new_call(), address()
    pr_id = request(clinic, call_id, hold=False)
    with open_feed(
        stack, call_id, stack.identity.token(claims_for(clinic)), clinic_id=clinic.clinic_id
    ) as doctor:
        status, shown = clinician(f"/payment-requests/{pr_id}/pay-link",
                                  {"email": email, "locale": "fr"}, clinic)  # fmt: skip
        assert status == 202, shown
        (mail,) = mails_once(stack, email, PAGE)
        assert mail["subject"].startswith("Votre lien de paiement")
        url = urlsplit(link_from(mail))
        assert url.query == ""  # the token is in the fragment only
        given = parse_qs(url.fragment)
        assert given["payment_request_id"] == [pr_id] and given["call_id"] == [call_id]
        token = given["token"][0]
        # The patient, later, on the pay page: sees this request, pays it.
        status, listed = api(http_event("GET", f"/calls/{call_id}/payment-requests", token=token))
        assert status == 200 and [r["id"] for r in listed["payment_requests"]] == [pr_id]
        answer = checkout(pr_id, token, email)
        intent = str(stored(pr_id).payment_intent_id)
        assert answer["client_secret"].startswith(intent)
        pay(stack, intent, GOOD_CARD)
        wait_until(lambda: stored(pr_id).status is Status.SUCCEEDED, what="the payment")
        statuses = []
        while "succeeded" not in statuses:
            statuses.append(receive(doctor)["payment_request"]["status"])  # the pop-up
    (receipt,) = mails_once(stack, email, "Payment receipt")
    assert receipt["subject"].startswith("Your receipt")


def test_the_platforms_backend_sends_a_link_when_the_patient_left_the_call(
    stack: Stack, clinic: Clinic
) -> None:
    call_id, email = new_call(), address()
    pr_id = request(clinic, call_id, hold=False)
    backend = {"sub": "emr", "client_id": "emr", "org_id": str(clinic.org_id),
               "scope": "callpay/pay-links.write"}  # fmt: skip
    path = f"/payment-requests/{pr_id}/pay-link"
    status, shown = api(http_event("POST", path, {"email": email}, claims=backend))
    assert status == 202, shown
    (mail,) = mails_once(stack, email, PAGE)
    given = parse_qs(urlsplit(link_from(mail)).fragment)
    assert given["payment_request_id"] == [pr_id]
    status, body = api(http_event("GET", f"/payment-requests/{pr_id}", token=given["token"][0]))
    assert (status, body["id"], body["pay_link"] is not None) == (200, pr_id, True)
    entry = runtime.store().audit_trail(pr_id)[-1]
    assert (entry.action, entry.cause.actor, entry.cause.subject) == (
        "pay_link.sent",
        "platform",
        "client:emr",
    )


def test_an_expired_link_is_refused(
    stack: Stack, clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_id, email = new_call(), address()
    pr_id = request(clinic, call_id, hold=False)
    service = request_payment_parts.payment_requests()
    sent_long_ago = datetime.now(UTC) - timedelta(hours=73)
    with monkeypatch.context() as sending:
        sending.setattr(service, "clock", lambda: sent_long_ago)
        status, _ = clinician(f"/payment-requests/{pr_id}/pay-link", {"email": email}, clinic)
    assert status == 202
    (mail,) = mails_once(stack, email, PAGE)
    token = parse_qs(urlsplit(link_from(mail)).fragment)["token"][0]
    status, body = api(http_event("GET", f"/payment-requests/{pr_id}", token=token))
    assert status == 401 and body["error"]["code"] == "token_expired"
    status, body = api(http_event(
        "POST", f"/payment-requests/{pr_id}/checkout", {"email": email}, token=token
    ))  # fmt: skip
    assert status == 401 and body["error"]["code"] == "token_expired"
    assert stored(pr_id).receipt_email is None  # nothing changed
