"""Disputes: the lifecycle never freezes the record, arrives in any order, and is shown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from callpay.domain.payment_request import PaymentRequest, Status
from callpay.domain.stripe_objects import StripeEvent
from callpay.logic.stripe_events import StripeEvents
from tests.support.events import clinician_claims, http_event
from tests.support.fakes import InMemoryStore, RecordingNotifier, RecordingQueue
from tests.support.stripe_events import (
    charge_object,
    dispute_object,
    event,
    intent_event,
)
from tests.unit.conftest import World
from tests.unit.test_refunds import refund
from tests.unit.test_request_payment_api import call, create
from tests.unit.test_review_fixes import deliver

VERSION = "2025-03-31.basil"


def paid(world: World) -> str:
    _, created = create()
    status, _ = deliver(
        intent_event("payment_intent.succeeded", "pi_1", created["id"], created=100)
    )
    assert status == 200
    return str(created["id"])


def dispute_event(kind: str, at: int, **dispute: Any) -> dict[str, Any]:
    return event(f"charge.dispute.{kind}", dispute_object("pi_1", **dispute), created=at,
                 api_version=VERSION)  # fmt: skip


def stored(world: World, pr_id: str) -> PaymentRequest:
    request = world.store.get(pr_id)
    assert request is not None
    return request


# A chargeback as Stripe runs it: opened (funds taken), evidence under review, then closed.
WON = [
    ("created", 200, {"status": "needs_response"}),
    ("funds_withdrawn", 200, {"status": "needs_response"}),
    ("updated", 300, {"status": "under_review"}),
    ("closed", 400, {"status": "won"}),
    ("funds_reinstated", 400, {"status": "won"}),
]
LOST = [*WON[:3], ("closed", 400, {"status": "lost"})]


def test_a_won_dispute_is_shown_all_along_and_gives_the_payment_back(world: World) -> None:
    pr_id = paid(world)
    for kind, at, dispute in WON[:2]:
        assert deliver(dispute_event(kind, at, **dispute))[0] == 200
    status, view = call(http_event("GET", f"/payment-requests/{pr_id}", claims=clinician_claims()))
    assert status == 200 and view["status"] == "disputed"
    assert view["dispute"] == {"status": "needs_response", "reason": "fraudulent",
                               "amount": 8000, "funds_withdrawn": True,
                               "funds_reinstated": False}  # fmt: skip
    # The clinician's feed was told at once, with the dispute.
    assert world.notifier.pushed[-1].dispute is not None
    assert world.notifier.pushed[-1].status is Status.DISPUTED
    for kind, at, dispute in WON[2:]:
        assert deliver(dispute_event(kind, at, **dispute))[0] == 200
    won = stored(world, pr_id)
    assert won.status is Status.SUCCEEDED and won.dispute is not None
    assert won.dispute.status == "won" and won.dispute.funds_reinstated_at == 400
    actions = [a.action for a in world.store.audit_trail(pr_id)]
    assert actions == ["created", "status.succeeded", "status.disputed", "dispute.needs_response",
                       "dispute.under_review", "status.succeeded", "dispute.won"]  # fmt: skip


def test_a_lost_dispute_stays_disputed(world: World) -> None:
    pr_id = paid(world)
    for kind, at, dispute in LOST:
        deliver(dispute_event(kind, at, **dispute))
    lost = stored(world, pr_id)
    assert lost.status is Status.DISPUTED and lost.dispute and lost.dispute.status == "lost"


def test_a_refund_that_lands_while_disputed_still_counts(world: World) -> None:
    pr_id = paid(world)
    deliver(dispute_event("created", 200, status="needs_response"))
    charge = charge_object("pi_1", captured=8000, refunded=3000, api_version=VERSION)
    assert deliver(event("charge.refunded", charge, created=250, api_version=VERSION))[0] == 200
    disputed = stored(world, pr_id)
    assert disputed.status is Status.DISPUTED and disputed.amount_refunded == 3000
    deliver(dispute_event("closed", 400, status="won"))
    after = stored(world, pr_id)
    assert after.status is Status.PARTIALLY_REFUNDED and after.amount_refunded == 3000


def test_an_inquiry_can_still_be_refunded_through_callpay_a_chargeback_cannot(
    world: World,
) -> None:
    pr_id = paid(world)
    deliver(dispute_event("created", 200, status="warning_needs_response", refundable=True))
    status, body = refund(pr_id, {"amount": 1000, "reason": "requested_by_customer"})
    assert status == 200 and body["amount_refunded"] == 1000 and body["status"] == "disputed"
    deliver(dispute_event("updated", 300, status="needs_response", refundable=False))
    status, body = refund(pr_id, {"amount": 1000, "reason": "requested_by_customer"})
    assert status == 409 and body["error"]["code"] == "not_refundable"
    assert world.gateway.refunded == {"pi_1": 1000}


def test_a_dispute_before_the_payment_is_known_is_retried_not_lost(world: World) -> None:
    _, created = create()
    early = dispute_event("created", 200)
    status, body = deliver(early)
    assert status == 409 and body["error"]["code"] == "not_yet_paid"
    assert early["id"] not in world.store.events
    deliver(intent_event("payment_intent.succeeded", "pi_1", created["id"], created=100))
    assert deliver(early)[0] == 200
    assert stored(world, created["id"]).status is Status.DISPUTED


def test_duplicates_change_nothing(world: World) -> None:
    pr_id = paid(world)
    opened = dispute_event("created", 200)
    assert deliver(opened)[1]["outcome"] == "applied"
    assert deliver(opened)[1]["outcome"] == "duplicate"
    assert deliver(dispute_event("updated", 100, status="warning_needs_response"))[1] == {
        "received": True, "outcome": "stale",
    }  # fmt: skip
    assert stored(world, pr_id).dispute.status == "needs_response"  # type: ignore[union-attr]


def paid_in_fresh_store() -> tuple[StripeEvents, InMemoryStore]:
    now = datetime(2026, 11, 21, tzinfo=UTC)
    request = PaymentRequest(
        id="pr_1", call_id="call-1", clinic_id="clinic-1", amount=8000, currency="aud",
        description="x", created_at=now, updated_at=now, requested_by="clin-1",
        payment_intent_id="pi_1", stripe_account="acct_clinic1",
        status=Status.SUCCEEDED, amount_captured=8000, paid_at=now,
    )  # fmt: skip
    store = InMemoryStore(requests={"pr_1": request}, audits={"pr_1": []})
    events = StripeEvents(store, RecordingNotifier(), RecordingQueue(), clock=lambda: now)
    return events, store


def final_state(events: list[dict[str, Any]], twice: bool = False) -> tuple[object, ...]:
    logic, store = paid_in_fresh_store()
    for each in events:
        for _ in range(2 if twice else 1):
            logic.apply(StripeEvent.model_validate(each))
    request, dispute = store.requests["pr_1"], store.requests["pr_1"].dispute
    assert dispute is not None
    return request.status, dispute.status, dispute.funds_withdrawn_at, dispute.funds_reinstated_at


@settings(max_examples=300)
@given(st.sampled_from(["won", "lost"]), st.permutations(range(5)))
def test_any_delivery_order_ends_where_the_true_order_ends(outcome: str, order: list[int]) -> None:
    lifecycle = WON if outcome == "won" else LOST
    events = [dispute_event(kind, at, **dispute) for kind, at, dispute in lifecycle]
    expected = final_state(events)
    shuffled = [events[i] for i in order if i < len(events)]
    assert final_state(shuffled, twice=True) == expected
