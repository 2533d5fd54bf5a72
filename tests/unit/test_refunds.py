"""Refunds through the API: who may refund, how much, and the refund receipt it queues."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from callpay.domain.errors import UpstreamUnavailable
from callpay.domain.payment_request import Status
from callpay.domain.stripe_objects import StripeEvent
from request_payment.handler import lambda_handler
from tests.support.events import LambdaContext, clinician_claims, http_event
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World
from tests.unit.test_capture import capture
from tests.unit.test_request_payment_api import BODY, call, create

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


# -- callpay's own record of a refund's Idempotency-Key -------------------------------------


def refund_response(
    pr_id: str, body: dict[str, Any], key: str, claims: dict[str, str] = ADMIN
) -> dict[str, Any]:
    event = http_event(
        "POST", f"/payment-requests/{pr_id}/refunds", body, claims=claims,
        headers={"idempotency-key": key},
    )  # fmt: skip
    return lambda_handler(event, LambdaContext())


def test_the_same_key_replays_the_first_answer_exactly_and_refunds_once(world: World) -> None:
    pr_id = paid(world)
    body = {"amount": 8000, "reason": "requested_by_customer"}
    first = refund_response(pr_id, body, "key-1")
    world.clock.tick(60)
    again = refund_response(pr_id, body, "key-1")
    assert (again["statusCode"], again["body"]) == (first["statusCode"], first["body"])
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first["headers"]
    assert json.loads(again["body"])["status"] == "refunded"  # not 409 not_refundable
    assert world.gateway.refunded == {"pi_1": 8000}
    # The refund receipt is queued again on the replay (the worker sends it once).
    jobs = [j for j in world.queue.jobs if j.kind == "refund"]
    assert len(jobs) == 2 and jobs[0] == jobs[1]


def test_the_same_key_with_another_body_is_refused_and_refunds_nothing(world: World) -> None:
    pr_id = paid(world)
    refund_response(pr_id, {"amount": 1000, "reason": "duplicate"}, "key-1")
    other = refund_response(pr_id, {"amount": 2000, "reason": "duplicate"}, "key-1")
    assert other["statusCode"] == 422
    assert json.loads(other["body"])["error"]["code"] == "idempotency_key_reused"
    assert world.gateway.refunded == {"pi_1": 1000}


def test_keys_are_scoped_to_the_request_and_the_caller(world: World) -> None:
    pr_id = paid(world)
    body = {"amount": 1000, "reason": "duplicate"}
    refund_response(pr_id, body, "key-1")
    other_admin = clinician_claims(sub="admin-2", role="team_admin")
    assert refund_response(pr_id, body, "key-1", other_admin)["statusCode"] == 200
    assert world.gateway.refunded == {"pi_1": 2000}


def test_a_refused_refund_leaves_the_key_free(world: World) -> None:
    pr_id = paid(world)
    too_much = refund_response(pr_id, {"amount": 9000, "reason": "duplicate"}, "key-1")
    assert too_much["statusCode"] == 422
    assert refund_response(pr_id, {"amount": 100, "reason": "duplicate"}, "key-1")[
        "statusCode"
    ] == 200  # fmt: skip


def test_a_refund_being_made_under_the_key_is_a_409(world: World) -> None:
    pr_id = paid(world)
    body = {"amount": 1000, "reason": "duplicate"}
    # Another attempt holds the key (claimed a moment ago, not answered yet).
    refund_response(pr_id, body, "key-1")
    held = next(iter(world.store.refund_keys.values()))
    del held["answer"]
    held["lease"] = world.clock.now + timedelta(seconds=30)
    busy = refund_response(pr_id, body, "key-1")
    assert busy["statusCode"] == 409
    assert json.loads(busy["body"])["error"]["code"] == "refund_in_progress"
    assert world.gateway.refunded == {"pi_1": 1000}


def test_a_retry_after_a_crash_finishes_the_refund_stripe_made(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    pr_id = paid(world)
    body = {"amount": 1000, "reason": "duplicate"}
    save = world.store.save

    def crash(*args: Any, **kwargs: Any) -> None:
        raise UpstreamUnavailable("store_busy", "Please try again.")

    monkeypatch.setattr(world.store, "save", crash)
    assert refund_response(pr_id, body, "key-1")["statusCode"] == 503
    assert world.gateway.refunded == {"pi_1": 1000}  # Stripe refunded, we did not record it
    monkeypatch.setattr(world.store, "save", save)
    world.gateway.fail_with = RuntimeError("Stripe must not be called again")
    retried = refund_response(pr_id, body, "key-1")
    assert retried["statusCode"] == 200 and json.loads(retried["body"])["amount_refunded"] == 1000
    world.gateway.fail_with = None
    assert world.gateway.refunded == {"pi_1": 1000}
    assert [j.refund_id for j in world.queue.jobs if j.kind == "refund"] == ["re_1"]


# -- Stripe's own keys for cancel and capture -------------------------------------------------


def test_cancel_and_capture_keys_carry_the_records_version_and_the_amount(world: World) -> None:
    _, created = create(BODY | {"capture_method": "manual"})
    event = intent_event("payment_intent.amount_capturable_updated", "pi_1", created["id"])
    world.events.apply(StripeEvent.model_validate(event))
    version = world.store.get(created["id"]).version  # type: ignore[union-attr]
    world.gateway.fail_with = UpstreamUnavailable("stripe_unavailable", "Stripe is busy.")
    assert capture(created["id"], {"amount": 6000})[0] == 503
    assert capture(created["id"], {"amount": 5000})[0] == 200  # another amount: another key
    assert world.gateway.keys == [f"{created['id']}:capture:v{version}:5000"]
