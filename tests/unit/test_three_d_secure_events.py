"""3-D Secure in the feed: Stripe's events for an authentication asked for, failed and
completed move the request, and each move is pushed (issue 11: the feed tells the truth)."""

from __future__ import annotations

from typing import Any

from callpay.api_models import PaymentRequestIn
from callpay.domain.access import Clinician
from callpay.domain.payment_request import Status
from callpay.domain.stripe_objects import StripeEvent
from callpay.logic.stripe_events import Outcome
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World

CLINICIAN = Clinician(
    sub="clin-1", org_id="org-1", role="team_member", clinic_ids=frozenset({"clinic-1"})
)
# What Stripe reports on the PaymentIntent when the patient fails the challenge.
AUTHENTICATION_FAILURE = {
    "code": "payment_intent_authentication_failure",
    "type": "invalid_request_error",
    "message": "The provided PaymentMethod has failed authentication. You can provide "
    "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
}


def new_request(world: World) -> str:
    body = PaymentRequestIn(clinic_id="clinic-1", amount=8000, currency="aud", description="x")
    request, _ = world.service.create(CLINICIAN, "call-1", body, None)
    return request.id


def apply(world: World, event: dict[str, Any]) -> Outcome:
    return world.events.apply(StripeEvent.model_validate(event)).outcome


def failed_authentication(pr_id: str, created: int) -> dict[str, Any]:
    event = intent_event("payment_intent.payment_failed", "pi_1", pr_id, created=created)
    event["data"]["object"]["last_payment_error"] = AUTHENTICATION_FAILURE
    return event


def test_an_authentication_asked_for_then_failed_is_pushed_as_such(world: World) -> None:
    pr_id = new_request(world)
    asked = intent_event("payment_intent.requires_action", "pi_1", pr_id, created=1_000)
    assert apply(world, asked) is Outcome.APPLIED
    assert apply(world, failed_authentication(pr_id, 1_004)) is Outcome.APPLIED

    pushed = [(r.status, r.failure) for r in world.notifier.pushed if r.id == pr_id]
    assert pushed[-2][0] is Status.REQUIRES_ACTION and pushed[-2][1] is None
    status, failure = pushed[-1]
    assert status is Status.FAILED and failure is not None
    assert failure.code == "payment_intent_authentication_failure"
    assert failure.message.startswith("The provided PaymentMethod has failed authentication.")
    stored = world.store.get(pr_id)
    assert stored is not None and stored.status is Status.FAILED


def test_after_a_failed_authentication_a_new_attempt_can_authenticate_and_pay(
    world: World,
) -> None:
    pr_id = new_request(world)
    apply(world, intent_event("payment_intent.requires_action", "pi_1", pr_id, created=1_000))
    apply(world, failed_authentication(pr_id, 1_004))
    again = intent_event("payment_intent.requires_action", "pi_1", pr_id, created=1_010)
    assert apply(world, again) is Outcome.APPLIED
    stored = world.store.get(pr_id)
    assert stored is not None and stored.status is Status.REQUIRES_ACTION
    assert stored.failure is None  # the old failure is not shown during the new attempt
    paid = intent_event("payment_intent.succeeded", "pi_1", pr_id, created=1_015)
    assert apply(world, paid) is Outcome.APPLIED
    assert world.store.get(pr_id).status is Status.SUCCEEDED  # type: ignore[union-attr]
