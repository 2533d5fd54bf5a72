"""Refunds through the API: who may refund, how much, and the refund receipt it queues."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from callpay.domain.payment_request import Status
from callpay.domain.stripe_objects import StripeEvent
from tests.support.events import clinician_claims, http_event
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World
from tests.unit.test_request_payment_api import call, create

ADMIN = clinician_claims(sub="admin-1", role="team_admin")
MEMBER = clinician_claims()


def paid(world: World) -> str:
    _, created = create()
    event = intent_event("payment_intent.succeeded", "pi_1", created["id"], amount=8000)
    world.events.apply(StripeEvent.model_validate(event))
    return str(created["id"])


def refund(
    pr_id: str, body: dict[str, Any], claims: dict[str, str] = ADMIN, **kw: Any
) -> tuple[int, Any]:
    kw.setdefault("headers", {"idempotency-key": uuid.uuid4().hex})
    return call(http_event("POST", f"/payment-requests/{pr_id}/refunds", body, claims=claims, **kw))


def test_a_refund_without_an_idempotency_key_is_refused(world: World) -> None:
    pr_id = paid(world)
    status, body = refund(pr_id, {"reason": "duplicate"}, headers={})
    assert status == 400 and body["error"]["code"] == "idempotency_key_required"
    assert world.gateway.refunded == {}


def test_partial_then_full_refund(world: World) -> None:
    pr_id = paid(world)
    status, body = refund(pr_id, {"amount": 3000, "reason": "requested_by_customer"})
    assert status == 200 and body["status"] == "partially_refunded"
    assert body["amount_refunded"] == 3000
    status, body = refund(pr_id, {"reason": "requested_by_customer"})  # the rest
    assert status == 200 and body["status"] == "refunded" and body["amount_refunded"] == 8000
    jobs = [j for j in world.queue.jobs if j.kind == "refund"]
    assert [(j.refund_id, j.refunded_total) for j in jobs] == [("re_1", 3000), ("re_2", 8000)]
    assert len({j.key for j in jobs}) == 2  # one receipt per refund
    trail = world.store.audit_trail(pr_id)
    assert trail[-1].cause.subject == "admin-1" and "re_2" in trail[-1].cause.detail


def test_a_retried_refund_with_the_same_key_refunds_once(world: World) -> None:
    pr_id = paid(world)
    headers = {"idempotency-key": "refund-1"}
    refund(pr_id, {"amount": 1000, "reason": "duplicate"}, headers=headers)
    status, body = refund(pr_id, {"amount": 1000, "reason": "duplicate"}, headers=headers)
    assert status == 200 and body["amount_refunded"] == 1000
    assert world.gateway.refunded == {"pi_1": 1000}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": 9000, "reason": "duplicate"}, 422, "refund_too_large"),
        ({"amount": 0, "reason": "duplicate"}, 422, "invalid_request"),
        ({"amount": 100, "reason": "because"}, 422, "invalid_request"),
        ({"amount": 100}, 422, "invalid_request"),
    ],
)
def test_bad_refunds_are_refused_and_change_nothing(
    world: World, body: dict[str, Any], status: int, code: str
) -> None:
    pr_id = paid(world)
    got, answer = refund(pr_id, body)
    assert (got, answer["error"]["code"]) == (status, code)
    assert world.store.get(pr_id).amount_refunded == 0  # type: ignore[union-attr]
    assert world.gateway.refunded == {}


def test_team_members_and_patients_cannot_refund(world: World) -> None:
    pr_id = paid(world)
    status, body = refund(pr_id, {"reason": "duplicate"}, claims=MEMBER)
    assert status == 403 and body["error"]["code"] == "admin_only"
    other_admin = clinician_claims(sub="admin-2", role="team_admin", clinics="clinic-2")
    assert refund(pr_id, {"reason": "duplicate"}, claims=other_admin)[0] == 403
    assert world.gateway.refunded == {}


def test_an_unpaid_request_cannot_be_refunded(world: World) -> None:
    _, created = create()
    status, body = refund(created["id"], {"reason": "duplicate"})
    assert status == 409 and body["error"]["code"] == "not_refundable"
    assert world.store.get(created["id"]).status is Status.REQUESTED  # type: ignore[union-attr]
