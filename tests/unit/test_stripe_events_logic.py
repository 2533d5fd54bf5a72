"""Which Stripe events move a payment request, and which are ignored or deduplicated."""

from __future__ import annotations

from callpay.api_models import PaymentRequestIn
from callpay.domain.access import Clinician
from callpay.domain.payment_request import Status
from callpay.domain.stripe_objects import StripeEvent
from callpay.logic.stripe_events import Outcome
from tests.support.stripe_events import charge_object, dispute_object, event, intent_event
from tests.unit.conftest import World

CLINICIAN = Clinician(
    sub="clin-1", org_id="org-1", role="team_member", clinic_ids=frozenset({"clinic-1"})
)


def new_request(world: World) -> str:
    body = PaymentRequestIn(clinic_id="clinic-1", amount=8000, currency="aud", description="x")
    request, _ = world.service.create(CLINICIAN, "call-1", body, None)
    return request.id


def apply(world: World, event: dict[str, object]) -> Outcome:
    return world.events.apply(StripeEvent.model_validate(event)).outcome


def test_succeeded_event_moves_the_request_and_records_the_amount(world: World) -> None:
    pr_id = new_request(world)
    assert apply(world, intent_event("payment_intent.succeeded", "pi_1", pr_id)) is Outcome.APPLIED
    stored = world.store.get(pr_id)
    assert stored is not None and stored.status is Status.SUCCEEDED
    assert stored.amount_captured == 8000 and stored.paid_at is not None


def test_failed_event_keeps_the_decline_code(world: World) -> None:
    pr_id = new_request(world)
    event = intent_event(
        "payment_intent.payment_failed", "pi_1", pr_id, decline_code="expired_card"
    )
    apply(world, event)
    stored = world.store.get(pr_id)
    assert stored is not None and stored.failure is not None
    assert stored.failure.code == "expired_card"


def test_missing_metadata_falls_back_to_the_intent_id(world: World) -> None:
    pr_id = new_request(world)
    assert apply(world, intent_event("payment_intent.succeeded", "pi_1", None)) is Outcome.APPLIED
    assert world.store.get(pr_id).status is Status.SUCCEEDED  # type: ignore[union-attr]


def test_events_that_are_not_ours_are_ignored(world: World) -> None:
    pr_id = new_request(world)
    assert apply(world, intent_event("payment_intent.succeeded", "pi_999", None)) is Outcome.IGNORED
    # metadata naming our request but another intent: not trusted
    assert (
        apply(world, intent_event("payment_intent.succeeded", "pi_999", pr_id)) is Outcome.IGNORED
    )
    other_account = intent_event("payment_intent.succeeded", "pi_1", pr_id, account="acct_other")
    assert apply(world, other_account) is Outcome.IGNORED
    assert apply(world, intent_event("payment_intent.created", "pi_1", pr_id)) is Outcome.IGNORED
    assert world.store.get(pr_id).status is Status.REQUESTED  # type: ignore[union-attr]
    assert world.store.events == set()


def test_duplicate_event_is_applied_once(world: World) -> None:
    pr_id = new_request(world)
    event = intent_event("payment_intent.succeeded", "pi_1", pr_id)
    assert apply(world, event) is Outcome.APPLIED
    assert apply(world, event) is Outcome.DUPLICATE
    assert [a.action for a in world.store.audit_trail(pr_id)] == ["created", "status.succeeded"]


def test_late_failure_after_success_is_stale_and_recorded_once(world: World) -> None:
    pr_id = new_request(world)
    apply(world, intent_event("payment_intent.succeeded", "pi_1", pr_id, created=200))
    late = intent_event("payment_intent.payment_failed", "pi_1", pr_id, created=100)
    assert apply(world, late) is Outcome.STALE
    assert apply(world, late) is Outcome.DUPLICATE
    assert world.store.get(pr_id).status is Status.SUCCEEDED  # type: ignore[union-attr]


def charge_refunded(created: int, refunded: int, **kw: object) -> dict[str, object]:
    charge = charge_object("pi_1", captured=8000, refunded=refunded, **kw)  # type: ignore[arg-type]
    return event("charge.refunded", charge, created=created, api_version="2025-03-31.basil")


def test_dashboard_refunds_and_disputes_move_a_paid_request_forward(world: World) -> None:
    pr_id = new_request(world)
    apply(world, intent_event("payment_intent.succeeded", "pi_1", pr_id, created=100))
    full = charge_refunded(300, 8000)
    partial = charge_refunded(200, 3000)
    assert apply(world, full) is Outcome.APPLIED
    assert apply(world, partial) is Outcome.STALE  # older and smaller: never back
    stored = world.store.get(pr_id)
    assert stored is not None and stored.status is Status.REFUNDED
    assert stored.amount_refunded == 8000
    dispute = event("charge.dispute.created", dispute_object("pi_1"), created=400)
    assert apply(world, dispute) is Outcome.APPLIED
    stored = world.store.get(pr_id)
    assert stored is not None and stored.status is Status.DISPUTED
    assert stored.amount_refunded == 8000  # the dispute changes no refund


def test_charge_events_for_unknown_intents_are_ignored(world: World) -> None:
    new_request(world)
    other = charge_object("pi_other", captured=8000, refunded=1)
    assert apply(world, event("charge.refunded", other, created=300)) is Outcome.IGNORED
    captured = charge_object("pi_1", captured=8000)
    assert apply(world, event("charge.captured", captured, created=300)) is Outcome.IGNORED
