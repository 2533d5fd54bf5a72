"""Stripe API versions 2020-08-27 to the SDK's: partial captures, released holds, refunds.

Every event is built as Stripe renders it in that version (tests/support/stripe_events.py)
and delivered signed through the webhook handler. Before 2025-03-31.basil Stripe reports
a partial capture and a released hold as refunds; callpay's `amount_refunded` must still
be only money returned to the patient.
"""

from __future__ import annotations

from typing import Any

import pytest

from callpay.domain.payment_request import PaymentRequest, Status
from tests.support.stripe_events import (
    API_VERSIONS,
    charge_object,
    event,
    folds_releases,
    intent_event,
)
from tests.unit.conftest import World
from tests.unit.test_capture import capture
from tests.unit.test_refunds import refund
from tests.unit.test_request_payment_api import BODY, create
from tests.unit.test_review_fixes import deliver

pytestmark = pytest.mark.parametrize("version", API_VERSIONS)


def stored(world: World, pr_id: str) -> PaymentRequest:
    request = world.store.get(pr_id)
    assert request is not None
    return request


def held(world: World, version: str) -> str:
    _, created = create(BODY | {"capture_method": "manual"})
    authorised = intent_event(
        "payment_intent.amount_capturable_updated", "pi_1", created["id"], created=100,
        api_version=version,
    )  # fmt: skip
    assert deliver(authorised)[0] == 200
    assert stored(world, created["id"]).status is Status.AUTHORIZED
    return str(created["id"])


def charge_refunded(version: str, at: int, **charge: Any) -> dict[str, Any]:
    obj = charge_object("pi_1", api_version=version, **charge)
    return event("charge.refunded", obj, api_version=version, created=at)


def test_a_partial_capture_is_not_a_refund(world: World, version: str) -> None:
    pr_id = held(world, version)
    status, body = capture(pr_id, {"amount": 6000})
    assert status == 200 and body["amount_captured"] == 6000 and body["amount_refunded"] == 0
    succeeded = intent_event("payment_intent.succeeded", "pi_1", pr_id, created=200,
                             received=6000, api_version=version)  # fmt: skip
    assert deliver(succeeded)[0] == 200
    if folds_releases(version):
        # Stripe: "refunded" 2,000 of the 8,000 authorised, the remainder released.
        status, body = deliver(charge_refunded(version, 200, captured=6000))
        assert (status, body["outcome"]) == (200, "stale")
    request = stored(world, pr_id)
    assert (request.status, request.amount_captured, request.amount_refunded) == (
        Status.SUCCEEDED, 6000, 0,
    )  # fmt: skip
    # "Refund the rest" refunds what was charged, 6,000, not 4,000.
    status, body = refund(pr_id, {"reason": "requested_by_customer"})
    assert status == 200 and body["status"] == "refunded" and body["amount_refunded"] == 6000
    assert world.gateway.refunded == {"pi_1": 6000}
    # Stripe's own event for that refund (2,000 + 6,000 before basil) changes nothing.
    status, body = deliver(charge_refunded(version, 300, captured=6000, refunded=6000))
    assert (status, body["outcome"]) == (200, "stale")
    assert stored(world, pr_id).amount_refunded == 6000


def test_refunds_after_a_partial_capture_count_only_money_returned(
    world: World, version: str
) -> None:
    pr_id = held(world, version)
    capture(pr_id, {"amount": 6000})
    status, body = refund(pr_id, {"amount": 1000, "reason": "requested_by_customer"})
    assert (status, body["status"], body["amount_refunded"]) == (200, "partially_refunded", 1000)
    deliver(charge_refunded(version, 300, captured=6000, refunded=1000))
    assert stored(world, pr_id).amount_refunded == 1000
    # A refund made in Stripe's dashboard: only its event tells us.
    status, body = deliver(charge_refunded(version, 400, captured=6000, refunded=3500))
    assert (status, body["outcome"]) == (200, "applied")
    request = stored(world, pr_id)
    assert (request.status, request.amount_refunded) == (Status.PARTIALLY_REFUNDED, 3500)
    status, body = refund(pr_id, {"amount": 2501, "reason": "requested_by_customer"})
    assert status == 422 and body["error"]["code"] == "refund_too_large"
    assert "25.00 AUD" in body["error"]["message"]


def test_a_released_hold_is_not_a_refund_nor_an_endless_409(world: World, version: str) -> None:
    pr_id = held(world, version)
    status, body = capture(pr_id, {"amount": 0})
    assert status == 200 and body["status"] == "canceled"
    canceled = intent_event("payment_intent.canceled", "pi_1", pr_id, created=200,
                            api_version=version)  # fmt: skip
    assert deliver(canceled)[1]["outcome"] == "stale"
    if folds_releases(version):
        # Stripe: the whole authorisation "refunded" (refunded: true, nothing captured).
        status, body = deliver(charge_refunded(version, 200, captured=None))
        assert (status, body["outcome"]) == (200, "stale")
    request = stored(world, pr_id)
    assert (request.status, request.amount_refunded) == (Status.CANCELED, 0)


def test_a_hold_that_expires_on_stripe_is_released_in_any_order(world: World, version: str) -> None:
    pr_id = held(world, version)
    if folds_releases(version):
        # The release's "refund" first, while our record is still authorised: not a
        # refund before the payment (that would be 409 until Stripe gives up).
        status, body = deliver(charge_refunded(version, 300, captured=None))
        assert (status, body["outcome"]) == (200, "stale")
    expired = intent_event("payment_intent.canceled", "pi_1", pr_id, created=300,
                           api_version=version)  # fmt: skip
    assert deliver(expired)[1]["outcome"] == "applied"
    assert stored(world, pr_id).status is Status.CANCELED
    assert stored(world, pr_id).amount_refunded == 0


def test_dashboard_refunds_of_a_full_payment(world: World, version: str) -> None:
    _, created = create()
    paid = intent_event("payment_intent.succeeded", "pi_1", created["id"], created=100,
                        api_version=version)  # fmt: skip
    deliver(paid)
    deliver(charge_refunded(version, 200, captured=8000, refunded=3000))
    request = stored(world, created["id"])
    assert (request.status, request.amount_refunded) == (Status.PARTIALLY_REFUNDED, 3000)
    deliver(charge_refunded(version, 300, captured=8000, refunded=8000))
    request = stored(world, created["id"])
    assert (request.status, request.amount_refunded) == (Status.REFUNDED, 8000)


def test_the_card_is_kept_from_whichever_event_carries_it(world: World, version: str) -> None:
    _, created = create()
    paid = intent_event("payment_intent.succeeded", "pi_1", created["id"], created=100,
                        api_version=version)  # fmt: skip
    deliver(paid)
    request = stored(world, created["id"])
    assert request.charge is not None and request.charge.charge_id == "ch_1"
    if version < "2022-11-15":  # the intent carries its charges whole
        assert (request.charge.card_brand, request.charge.card_last4) == ("visa", "4242")
    else:  # only the charge's id: charge.succeeded brings the card
        assert request.charge.card_last4 is None
        charge = charge_object("pi_1", captured=8000, api_version=version)
        deliver(event("charge.succeeded", charge, api_version=version, created=100))
        assert stored(world, created["id"]).charge.card_last4 == "4242"  # type: ignore[union-attr]
