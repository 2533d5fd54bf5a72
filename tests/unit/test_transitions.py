from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callpay.domain.payment_request import Cause, Failure, PaymentRequest, Refund, Status
from callpay.domain.transitions import AFTER_PAYMENT, FORWARD, RANK, StatusChange, transition

S = Status
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
STRIPE = Cause(actor="stripe", subject="evt")


def request(status: Status = S.REQUESTED, last_event_at: int = 0) -> PaymentRequest:
    return PaymentRequest(
        id="pr_1",
        call_id="call-1",
        clinic_id="clinic-1",
        amount=8000,
        currency="aud",
        description="Telehealth consultation",
        status=status,
        created_at=NOW,
        updated_at=NOW,
        requested_by="clin-1",
        last_event_at=last_event_at,
    )


def event(status: Status, at: int, **amounts: int) -> StatusChange:
    failure = Failure(code="card_declined", message="declined") if status is S.FAILED else None
    return StatusChange(status=status, cause=STRIPE, event_created=at, failure=failure, **amounts)


def apply_all(changes: list[StatusChange]) -> PaymentRequest:
    current = request()
    for change in changes:
        step = transition(current, change, NOW)
        if step is not None:
            assert RANK[step.after.status] >= RANK[current.status]
            assert step.after.version == current.version + 1
            current = step.after
    return current


# Lifecycles as Stripe would emit them, in true order (event time in seconds).
LIFECYCLES = {
    "paid": [event(S.PROCESSING, 10), event(S.SUCCEEDED, 11, amount_captured=8000)],
    "declined_then_paid": [
        event(S.FAILED, 10),
        event(S.PROCESSING, 20),
        event(S.SUCCEEDED, 21, amount_captured=8000),
    ],
    "three_d_secure": [
        event(S.REQUIRES_ACTION, 10),
        event(S.FAILED, 12),
        event(S.REQUIRES_ACTION, 20),
        event(S.SUCCEEDED, 25, amount_captured=8000),
    ],
    "hold_captured": [
        event(S.AUTHORIZED, 10, amount_capturable=8000),
        event(S.SUCCEEDED, 50, amount_captured=6000),
    ],
    "hold_released": [event(S.AUTHORIZED, 10, amount_capturable=8000), event(S.CANCELED, 50)],
    "abandoned": [event(S.FAILED, 10), event(S.CANCELED, 100)],
}


@pytest.mark.parametrize("name", LIFECYCLES)
def test_lifecycle_in_order_ends_in_its_final_status(name: str) -> None:
    changes = LIFECYCLES[name]
    assert apply_all(changes).status is changes[-1].status


@pytest.mark.parametrize(
    ("name", "first", "second"),
    [
        (name, i, j)
        for name, changes in LIFECYCLES.items()
        for i, j in itertools.combinations(range(len(changes)), 2)
    ],
)
def test_every_out_of_order_pair_leaves_the_later_state(name: str, first: int, second: int) -> None:
    """Delivering a later event before an earlier one never moves the payment back."""
    changes = LIFECYCLES[name]
    later, earlier = changes[second], changes[first]
    after_later = apply_all([later])
    assert apply_all([later, earlier]).status is after_later.status


@given(st.sampled_from(sorted(LIFECYCLES)), st.randoms(use_true_random=False))
def test_any_delivery_order_reaches_the_terminal_status(name: str, rnd: object) -> None:
    changes = list(LIFECYCLES[name])
    rnd.shuffle(changes)  # type: ignore[attr-defined]
    assert apply_all(changes).status is LIFECYCLES[name][-1].status


LIFECYCLE = [s for s in Status if s not in AFTER_PAYMENT]


@given(st.lists(st.sampled_from(LIFECYCLE), max_size=12), st.lists(st.integers(0, 50)))
def test_rank_never_decreases_whatever_arrives(statuses: list[Status], times: list[int]) -> None:
    times = times or [0]
    changes = [event(s, times[i % len(times)]) for i, s in enumerate(statuses)]
    apply_all(changes)  # asserts monotonic rank at every step


def test_duplicate_event_changes_nothing() -> None:
    paid = apply_all([event(S.SUCCEEDED, 10, amount_captured=8000)])
    assert transition(paid, event(S.SUCCEEDED, 10, amount_captured=8000), NOW) is None


def test_failure_after_success_is_ignored() -> None:
    paid = apply_all([event(S.SUCCEEDED, 20, amount_captured=8000)])
    assert transition(paid, event(S.FAILED, 30), NOW) is None


def test_success_records_amount_and_paid_time_and_clears_failure() -> None:
    failed = apply_all([event(S.FAILED, 10)])
    assert failed.failure == Failure(code="card_declined", message="declined")
    step = transition(failed, event(S.SUCCEEDED, 20, amount_captured=8000), NOW)
    assert step is not None
    assert step.after.amount_captured == 8000
    assert step.after.paid_at == NOW
    assert step.after.failure is None
    assert step.audit.from_status is S.FAILED and step.audit.to_status is S.SUCCEEDED


def test_a_second_decline_on_retry_is_recorded() -> None:
    failed = apply_all([event(S.FAILED, 10)])
    assert transition(failed, event(S.FAILED, 30), NOW) is not None
    assert transition(failed, event(S.FAILED, 5), NOW) is None


def test_canceled_and_succeeded_exclude_each_other() -> None:
    assert S.SUCCEEDED not in FORWARD[S.CANCELED]
    assert S.CANCELED not in FORWARD[S.SUCCEEDED]


def facts(at: int, **kw: object) -> StatusChange:
    return StatusChange(status=None, cause=STRIPE, event_created=at, **kw)  # type: ignore[arg-type]


def test_refunds_only_grow_and_count_each_refund_once() -> None:
    paid = apply_all([event(S.SUCCEEDED, 10, amount_captured=8000)])
    partly = transition(paid, facts(20, refund=Refund(id="re_1", amount=1000)), NOW)
    assert partly is not None and partly.after.status is S.PARTIALLY_REFUNDED
    assert partly.audit.action == "status.partially_refunded"
    assert transition(partly.after, facts(21, refund=Refund(id="re_1", amount=1000)), NOW) is None
    more = transition(partly.after, facts(30, reported_refunded=3000), NOW)
    assert more is not None and more.after.amount_refunded == 3000
    assert more.audit.action == "refund"
    assert transition(more.after, facts(40, reported_refunded=1000), NOW) is None  # older figure
    full = transition(more.after, facts(50, refund=Refund(id="re_2", amount=7000)), NOW)
    assert full is not None and full.after.amount_refunded == 8000  # 1000 + 7000, not 3000 + 7000
    assert full.after.status is S.REFUNDED


def test_refunded_never_exceeds_what_was_captured() -> None:
    paid = apply_all([event(S.SUCCEEDED, 10, amount_captured=6000)])
    step = transition(paid, facts(20, reported_refunded=10**12), NOW)
    assert step is not None and step.after.amount_refunded == 6000
    assert step.after.status is S.REFUNDED


def test_a_failed_refund_does_not_count() -> None:
    paid = apply_all([event(S.SUCCEEDED, 10, amount_captured=8000)])
    step = transition(paid, facts(20, refund=Refund(id="re_1", amount=1000, status="failed")), NOW)
    assert step is not None and step.after.amount_refunded == 0
    assert step.after.status is S.SUCCEEDED


def test_after_payment_statuses_are_not_named_by_a_change() -> None:
    for status in AFTER_PAYMENT:
        with pytest.raises(ValueError, match="follows from"):
            event(status, 1)


def test_facts_before_the_payment_never_make_it_paid() -> None:
    held = apply_all([event(S.AUTHORIZED, 10, amount_capturable=8000)])
    step = transition(held, facts(20, reported_refunded=0), NOW)
    assert step is None and held.status is S.AUTHORIZED


def test_a_dispute_recorded_without_its_details_stays_disputed() -> None:
    # Records written before disputes were kept as a sub-record have only the status.
    legacy = apply_all([event(S.SUCCEEDED, 10, amount_captured=8000)]).model_copy(
        update={"status": S.DISPUTED}
    )
    step = transition(legacy, facts(20, reported_refunded=1000), NOW)
    assert step is not None and step.after.status is S.DISPUTED
    assert step.after.amount_refunded == 1000
