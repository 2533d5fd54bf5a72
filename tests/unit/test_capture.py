"""Holds: capture the final amount (at most what was authorised), or release with 0."""

from __future__ import annotations

from typing import Any

import pytest

from callpay.domain.payment_request import Status
from callpay.domain.stripe_objects import StripeEvent
from tests.support.events import http_event
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World
from tests.unit.test_request_payment_api import BODY, CLINICIAN, call, create


def held(world: World) -> str:
    _, created = create(BODY | {"capture_method": "manual"})
    event = intent_event("payment_intent.amount_capturable_updated", "pi_1", created["id"])
    world.events.apply(StripeEvent.model_validate(event))
    assert world.store.get(created["id"]).status is Status.AUTHORIZED  # type: ignore[union-attr]
    return str(created["id"])


def capture(pr_id: str, body: Any) -> tuple[int, Any]:
    return call(http_event("POST", f"/payment-requests/{pr_id}/capture", body, claims=CLINICIAN))


def test_capture_less_than_the_hold(world: World) -> None:
    pr_id = held(world)
    status, body = capture(pr_id, {"amount": 6000})
    assert status == 200 and body["status"] == "succeeded" and body["amount_captured"] == 6000
    assert world.gateway.captured == {"pi_1": 6000}
    assert [j.payment_request_id for j in world.queue.jobs] == [pr_id]  # the receipt


def test_capture_zero_releases_the_hold(world: World) -> None:
    pr_id = held(world)
    status, body = capture(pr_id, {"amount": 0})
    assert status == 200 and body["status"] == "canceled"
    assert world.gateway.canceled == ["pi_1"] and world.gateway.captured == {}


@pytest.mark.parametrize(
    ("body", "code"),
    [({"amount": 9000}, "capture_too_large"), ({"amount": 10}, "amount_too_small"),
     ({"amount": -1}, "invalid_request"), ({"amount": "all"}, "invalid_request")],
)  # fmt: skip
def test_bad_captures_change_nothing(world: World, body: dict[str, Any], code: str) -> None:
    pr_id = held(world)
    status, answer = capture(pr_id, body)
    assert status == 422 and answer["error"]["code"] == code
    assert world.store.get(pr_id).status is Status.AUTHORIZED  # type: ignore[union-attr]
    assert world.gateway.captured == {}


def test_only_a_hold_can_be_captured(world: World) -> None:
    _, created = create()
    status, body = capture(created["id"], {})
    assert status == 409 and body["error"]["code"] == "not_a_hold"
