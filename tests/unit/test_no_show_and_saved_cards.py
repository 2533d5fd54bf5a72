"""The no-show policy (a clinic setting, versioned), cards kept with the patient's consent,
and no-show fees: captured from a hold, or charged to a kept card off-session, where a bank
asking for the card holder becomes a pay-later link and an alert."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from callpay.domain.errors import PaymentDeclined
from callpay.domain.payment_request import Status
from callpay.domain.stripe_objects import StripeEvent
from callpay.logic.stripe_events import Outcome
from tests.support.events import http_event
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World
from tests.unit.test_clinic_admin import clinic_call
from tests.unit.test_request_payment_api import BODY, CLINICIAN, call, create

POLICY = "If you miss your appointment without a day's notice, we charge $45."
HOLD = BODY | {"capture_method": "manual"}


def set_policy(fee: int | None = 4500, text: str | None = POLICY) -> dict[str, Any]:
    status, body = clinic_call(
        "PUT", "/clinics/clinic-1/settings", {"no_show_fee": fee, "no_show_policy": text}
    )
    assert status == 200, body
    return dict(body)


def patient(patient_ref: str | None = "patient-42", call_id: str = "call-1") -> str:
    body = {"clinic_id": "clinic-1"} | ({"patient_ref": patient_ref} if patient_ref else {})
    status, access = call(
        http_event("POST", f"/calls/{call_id}/patient-access", body, claims=CLINICIAN)
    )
    assert status == 201, access
    return str(access["token"])


def checkout(pr_id: str, token: str, **more: Any) -> tuple[int, Any]:
    body = {"email": "pat@example.com", "locale": "fr"} | more
    return call(http_event("POST", f"/payment-requests/{pr_id}/checkout", body, token=token))


def deliver(world: World, delivered: dict[str, Any]) -> Outcome:
    return world.events.apply(StripeEvent.model_validate(delivered)).outcome


def paid_with_consent(world: World, body: dict[str, Any] = BODY) -> str:
    """A patient who agreed to keep their card, and paid."""
    set_policy()
    token = patient()
    _, created = create(body)
    pr_id = created["id"]
    status, answer = checkout(pr_id, token)
    assert status == 200
    status, answer = checkout(
        pr_id, token, save_card=True, policy_version=answer["no_show_policy"]["version"]
    )
    assert status == 200 and answer["save_card"] is True
    intent = str(world.store.get(pr_id).payment_intent_id)  # type: ignore[union-attr]
    kind = "amount_capturable_updated" if body.get("capture_method") else "succeeded"
    deliver(
        world,
        intent_event(
            f"payment_intent.{kind}", intent, pr_id, payment_method="pm_kept",
            setup_future_usage="off_session",
        ),
    )  # fmt: skip
    return str(pr_id)


# -- the policy --------------------------------------------------------------------------


def test_the_policy_is_versioned_whenever_its_fee_or_words_change(world: World) -> None:
    assert set_policy()["no_show_policy_version"] == 1
    assert set_policy()["no_show_policy_version"] == 1  # the same again: no new version
    assert set_policy(fee=5000)["no_show_policy_version"] == 2
    assert set_policy(text="Missed appointments cost $50.", fee=5000)["no_show_policy_version"] == 3
    cleared = set_policy(fee=None, text=None)
    assert cleared["no_show_fee"] is None and cleared["no_show_policy_version"] == 3
    changes = [e.changes for e in world.store.clinic_audit("clinic-1")]
    assert changes[0]["no_show_policy"] == (None, POLICY)  # the words of each version


@pytest.mark.parametrize(
    ("body", "code"),
    [({"no_show_fee": 4500}, "no_show_policy_incomplete"),
     ({"no_show_policy": POLICY}, "no_show_policy_incomplete"),
     ({"no_show_fee": 10, "no_show_policy": POLICY}, "amount_too_small"),
     ({"no_show_fee": 4500, "no_show_policy": "x" * 2001}, "invalid_request"),
     ({"no_show_fee": "45", "no_show_policy": POLICY}, "invalid_request")],
)  # fmt: skip
def test_an_incomplete_or_invalid_policy_is_refused(
    world: World, body: dict[str, Any], code: str
) -> None:
    status, answer = clinic_call("PUT", "/clinics/clinic-1/settings", body)
    assert status == 422 and answer["error"]["code"] == code
    assert world.store.clinics["clinic-1"].no_show_policy_version == 0


# -- consent at checkout -----------------------------------------------------------------


def test_checkout_shows_the_policy_and_offers_to_keep_the_card(world: World) -> None:
    set_policy()
    _, created = create()
    status, answer = checkout(created["id"], patient())
    assert status == 200
    assert answer["no_show_policy"] == {
        "version": 1, "text": POLICY, "fee": 4500, "currency": "aud"
    }  # fmt: skip
    assert answer["can_save_card"] is True and answer["save_card"] is False
    shown = world.store.get(created["id"]).no_show_policy  # type: ignore[union-attr]
    assert shown is not None and shown.version == 1 and shown.fee == 4500
    expected = hashlib.sha256(f"1\n4500 aud\n{POLICY}".encode()).hexdigest()
    assert shown.sha256 == expected


def test_without_a_patient_reference_no_card_is_kept(world: World) -> None:
    set_policy()
    _, created = create()
    token = patient(patient_ref=None)
    assert checkout(created["id"], token)[1]["can_save_card"] is False
    status, answer = checkout(created["id"], token, save_card=True, policy_version=1)
    assert status == 409 and answer["error"]["code"] == "card_cannot_be_kept"
    assert world.gateway.customers == [] and world.gateway.kept_cards == {}


def test_agreeing_records_the_consent_and_keeps_the_card_on_the_patients_customer(
    world: World,
) -> None:
    set_policy()
    token = patient()
    _, first = create()
    checkout(first["id"], token)
    status, answer = checkout(first["id"], token, save_card=True, policy_version=1)
    assert status == 200 and answer["save_card"] is True
    request = world.store.get(first["id"])
    assert request is not None and request.card_consent is not None
    consent = request.card_consent
    assert consent.policy_version == 1 and consent.fee == 4500 and consent.currency == "aud"
    assert consent.payment_request_id == first["id"] and consent.agreed_at == world.clock.now
    assert request.customer_id == "cus_1" and request.patient_ref == "patient-42"
    assert world.gateway.kept_cards == {"pi_1": "cus_1"}
    # One Customer per patient of the clinic, keyed by the platform's reference (not the
    # e-mail), and opaque to Stripe.
    (patient_key, key) = world.gateway.customers[0]
    assert patient_key == hashlib.sha256(b"clinic-1\npatient-42").hexdigest()[:32]
    assert "patient-42" not in key and "example.com" not in key
    _, second = create(call_id="call-1")
    checkout(second["id"], token, save_card=True, policy_version=1)
    assert len(world.gateway.customers) == 1
    actions = [a.action for a in world.store.audit_trail(first["id"])]
    assert actions[-1] == "checkout.card_consent"


def test_consent_to_an_older_policy_version_is_refused(world: World) -> None:
    set_policy()
    token = patient()
    _, created = create()
    checkout(created["id"], token)
    set_policy(fee=6000)  # the clinic changes it meanwhile
    status, answer = checkout(created["id"], token, save_card=True, policy_version=1)
    assert status == 409 and answer["error"]["code"] == "policy_changed"
    assert world.store.get(created["id"]).card_consent is None  # type: ignore[union-attr]


def test_the_patient_may_change_their_mind_before_paying(world: World) -> None:
    set_policy()
    token = patient()
    _, created = create()
    checkout(created["id"], token, save_card=True, policy_version=1)
    status, answer = checkout(created["id"], token, save_card=False)
    assert status == 200 and answer["save_card"] is False
    assert world.gateway.kept_cards == {"pi_1": None}
    assert world.store.get(created["id"]).card_consent is None  # type: ignore[union-attr]


def test_consent_without_the_policy_version_is_a_422(world: World) -> None:
    _, created = create()
    status, answer = checkout(created["id"], patient(), save_card=True)
    assert status == 422 and answer["error"]["code"] == "invalid_request"


def test_the_card_is_kept_once_stripe_says_so_and_only_with_consent(world: World) -> None:
    pr_id = paid_with_consent(world)
    card = world.store.saved_card("clinic-1", "patient-42")
    assert card is not None and card.payment_method_id == "pm_kept"
    assert card.customer_id == "cus_1" and card.consent.payment_request_id == pr_id
    assert card.receipt_email == "pat@example.com"
    # Another patient's payment that Stripe says kept a card, without consent: nothing.
    token = patient("patient-7", call_id="call-1")
    _, other = create()
    checkout(other["id"], token)
    deliver(
        world,
        intent_event(
            "payment_intent.succeeded", "pi_2", other["id"], payment_method="pm_x",
            setup_future_usage="off_session",
        ),
    )  # fmt: skip
    assert world.store.saved_card("clinic-1", "patient-7") is None


# -- no-show: a hold ----------------------------------------------------------------------


def capture(pr_id: str, body: Any) -> tuple[int, Any]:
    return call(http_event("POST", f"/payment-requests/{pr_id}/capture", body, claims=CLINICIAN))


@pytest.mark.parametrize(("held", "charged"), [(8000, 4500), (3000, 3000)])
def test_a_no_show_captures_the_fee_the_patient_was_shown(
    world: World, held: int, charged: int
) -> None:
    set_policy()
    _, created = create(HOLD | {"amount": held})
    checkout(created["id"], patient())
    deliver(world, intent_event("payment_intent.amount_capturable_updated", "pi_1",
                                created["id"], amount=held))  # fmt: skip
    set_policy(fee=9000)  # changed after the patient saw the first one: not this payment's
    status, shown = capture(created["id"], {"reason": "no_show"})
    assert status == 200, shown
    assert shown["status"] == "succeeded" and shown["amount_captured"] == charged
    assert shown["charge_reason"] == "no_show"
    assert world.gateway.captured == {"pi_1": charged}
    receipt = world.service.store.get(created["id"])
    assert receipt is not None and receipt.no_show_policy and receipt.no_show_policy.version == 1


def test_no_no_show_fee_without_a_policy_shown_when_authorising(world: World) -> None:
    _, created = create(HOLD)
    checkout(created["id"], patient())  # the clinic had no policy then
    deliver(world, intent_event("payment_intent.amount_capturable_updated", "pi_1", created["id"]))
    set_policy()
    status, body = capture(created["id"], {"reason": "no_show"})
    assert status == 409 and body["error"]["code"] == "no_show_policy_not_shown"
    assert world.gateway.captured == {}


def test_a_no_show_capture_takes_no_amount(world: World) -> None:
    _, created = create(HOLD)
    status, body = capture(created["id"], {"reason": "no_show", "amount": 100})
    assert status == 422 and body["error"]["code"] == "invalid_request"


# -- no-show: a kept card, off-session ----------------------------------------------------


def no_show(body: dict[str, Any] | None = None, **kw: Any) -> tuple[int, Any]:
    given = {"clinic_id": "clinic-1", "patient_ref": "patient-42"} | (body or {})
    kw.setdefault("claims", CLINICIAN)
    return call(http_event("POST", "/calls/call-9/no-show-fees", given, **kw))


def test_a_no_show_fee_is_charged_to_the_kept_card_without_the_patient(world: World) -> None:
    paid_with_consent(world)
    queued = len(world.queue.jobs)
    set_policy(fee=9000)  # a later policy: the patient agreed to 45.00
    status, shown = no_show(headers={"idempotency-key": "ns-1"})
    assert status == 201, shown
    assert shown["status"] == "succeeded" and shown["amount_captured"] == 4500
    assert shown["charge_reason"] == "no_show" and shown["off_session"] is True
    assert shown["call_id"] == "call-9"
    sent = world.gateway.created[-1]
    assert sent["customer"] == "cus_1" and sent["payment_method"] == "pm_kept"
    assert sent["amount"] == 4500 and sent["capture_method"] == "automatic"
    assert world.gateway.off_session_confirmed == [sent["intent_id"]]
    assert [j.payment_request_id for j in world.queue.jobs[queued:]] == [shown["id"]]  # receipt
    request = world.store.get(shown["id"])
    assert request is not None and request.receipt_email == "pat@example.com"
    # The same key again: the same fee, not a second charge.
    again = no_show(headers={"idempotency-key": "ns-1"})
    assert again[0] == 201 and again[1]["id"] == shown["id"]
    assert len(world.gateway.off_session_confirmed) == 1


def test_a_bank_asking_for_the_card_holder_becomes_a_pay_later_link_and_an_alert(
    world: World,
) -> None:
    world.service.patient_page_url = "https://pay.example.com/pay/"
    paid_with_consent(world)
    world.gateway.off_session_decline = PaymentDeclined(
        "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    )
    pushed = len(world.notifier.pushed)
    status, shown = no_show()
    assert status == 201
    assert shown["status"] == "failed" and shown["failure"]["code"] == "authentication_required"
    assert shown["pay_link"] is not None  # the patient was e-mailed a link
    job = world.queue.jobs[-1]
    assert job.kind == "pay_link" and job.payment_request_id == shown["id"]
    request = world.store.get(shown["id"])
    assert request is not None and request.pay_link is not None
    assert request.pay_link.email == "pat@example.com" and request.pay_link.locale == "fr"
    # The clinician's feed heard both: the failure, then the link.
    alerts = [(r.status, r.pay_link is not None) for r in world.notifier.pushed[pushed:]]
    assert alerts[-2:] == [(Status.FAILED, False), (Status.FAILED, True)]
    actions = [a.action for a in world.store.audit_trail(shown["id"])]
    assert actions == ["created", "status.failed", "pay_link.sent"]


def test_another_decline_is_shown_but_sends_no_link(world: World) -> None:
    world.service.patient_page_url = "https://pay.example.com/pay/"
    paid_with_consent(world)
    queued = len(world.queue.jobs)
    world.gateway.off_session_decline = PaymentDeclined("insufficient_funds", "Declined.")
    status, shown = no_show()
    assert status == 201 and shown["status"] == "failed" and shown["pay_link"] is None
    assert shown["failure"]["code"] == "insufficient_funds"
    assert world.queue.jobs[queued:] == []


@pytest.mark.parametrize(("setup", "code"), [
    ("no card", "no_saved_card"), ("no policy", "no_show_fee_not_set"),
])  # fmt: skip
def test_no_show_fee_needs_a_kept_card_and_a_policy(world: World, setup: str, code: str) -> None:
    if setup == "no card":
        set_policy()
    else:
        paid_with_consent(world)
        set_policy(fee=None, text=None)
    status, body = no_show()
    assert status == 409 and body["error"]["code"] == code
    assert world.gateway.off_session_confirmed == []


def test_a_clinician_of_another_clinic_cannot_charge_a_no_show(world: World) -> None:
    paid_with_consent(world)
    other = {"sub": "x", "org_id": "org-1", "role": "team_member", "clinic_ids": "clinic-2"}
    status, body = no_show(claims=other)
    assert status == 403 and body["error"]["code"] == "not_your_clinic"


def test_a_patient_cannot_charge_a_no_show(world: World) -> None:
    paid_with_consent(world)
    status, body = no_show(claims=None, token=patient())
    assert status == 403 and body["error"]["code"] == "clinician_only"


def test_a_hold_may_keep_the_card_too(world: World) -> None:
    paid_with_consent(world, HOLD)
    assert world.store.saved_card("clinic-1", "patient-42") is not None


def test_the_receipt_shows_the_kept_card_and_the_no_show_fee(world: World) -> None:
    pr_id = paid_with_consent(world)
    status, fee = no_show()
    assert status == 201
    page = world.service.store.get(pr_id)
    assert page is not None
    from callpay import runtime  # noqa: PLC0415

    consented = runtime.receipt_book().rendered(page, choice="en")
    assert "You agreed to keep this card with the clinic" in consented.text
    assert "(version 1)" in consented.text
    fee_request = world.store.get(fee["id"])
    assert fee_request is not None
    charged = runtime.receipt_book().rendered(fee_request, choice="en")
    assert "No-show fee" in charged.text and "no-show policy" in charged.text
    assert "A$45.00" in charged.text
    # Stripe's event for the charge, after the write-through: nothing new.
    late = intent_event("payment_intent.succeeded", str(fee_request.payment_intent_id), fee["id"])
    assert deliver(world, late) is Outcome.STALE
