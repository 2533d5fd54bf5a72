"""Money back on the local stack: holds captured in part, refunds, their keys, disputes.

Real handlers, moto (DynamoDB, SQS, SES) and localstripe. localstripe behaves like Stripe
before API version 2025-03-31.basil (a partial capture is a refund of the remainder) and
ignores idempotency keys, so what is checked here is callpay's own doing.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from callpay import runtime
from callpay.domain.clinic import Clinic
from callpay.domain.payment_request import Status
from tests.integration.conftest import ACCOUNT_SECRET, CONNECT_SECRET, Stack, claims_for, deliver
from tests.integration.test_payment_loop import GOOD_CARD, api, patient_checkout, pay, stored
from tests.integration.test_receipt_emails import emails_to
from tests.support.events import http_event
from tests.support.servers import wait_until
from tests.support.stripe_events import (
    BASIL,
    charge_object,
    dispute_object,
    encode,
    event,
    signature,
)

pytestmark = pytest.mark.integration


def held_and_authorised(stack: Stack, clinic: Clinic, email: str) -> tuple[str, str]:
    """A hold of 100.00 AUD, authorised on localstripe: (request id, intent id)."""
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    body = {"clinic_id": clinic.clinic_id, "amount": 10_000, "currency": "aud",
            "description": "Consultation (hold)", "capture_method": "manual"}  # fmt: skip
    status, created = api(
        http_event("POST", f"/calls/{call_id}/payment-requests", body, claims=claims_for(clinic))
    )
    assert status == 201
    patient_checkout(clinic, call_id, created["id"], email=email)
    intent_id = stored(created["id"]).payment_intent_id
    assert intent_id
    pay(stack, intent_id, GOOD_CARD)
    wait_until(lambda: stored(created["id"]).status is Status.AUTHORIZED, what="the hold")
    return created["id"], intent_id


def capture(clinic: Clinic, pr_id: str, amount: int) -> dict[str, Any]:
    path = f"/payment-requests/{pr_id}/capture"
    status, body = api(http_event("POST", path, {"amount": amount}, claims=claims_for(clinic)))
    assert status == 200, body
    return body


def refund(clinic: Clinic, pr_id: str, amount: int, key: str) -> tuple[int, Any]:
    admin = claims_for(clinic, sub="admin-1", role="team_admin")
    return api(
        http_event(
            "POST", f"/payment-requests/{pr_id}/refunds",
            {"amount": amount, "reason": "requested_by_customer"}, claims=admin,
            headers={"idempotency-key": key},
        )
    )  # fmt: skip


def our_refunds_on_stripe(stack: Stack, intent_id: str, pr_id: str) -> list[int]:
    """The refunds localstripe holds for the payment that callpay made (by metadata)."""
    listed = stack.stripe().v1.refunds.list(params={"payment_intent": intent_id, "limit": 100})
    return sorted(
        r.amount
        for r in listed.data
        if (r.metadata.to_dict() if r.metadata else {}).get("payment_request_id") == pr_id
    )


def test_hold_capture_part_then_refund_all_of_it_in_two_refunds(
    stack: Stack, clinic: Clinic
) -> None:
    email = f"patient-{uuid.uuid4().hex[:6]}@example.com"
    pr_id, intent_id = held_and_authorised(stack, clinic, email)
    captured = capture(clinic, pr_id, 6000)
    assert (captured["status"], captured["amount_captured"]) == ("succeeded", 6000)
    # localstripe (like Stripe before basil) now says 40.00 of the charge is "refunded".
    charge = (
        stack.stripe()
        .v1.payment_intents.retrieve(intent_id, params={"expand": ["latest_charge"]})
        .latest_charge
    )
    assert charge.amount_refunded == 4000  # type: ignore[union-attr]

    status, first = refund(clinic, pr_id, 1000, f"r1-{pr_id}")
    assert status == 200, first
    assert (first["status"], first["amount_refunded"]) == ("partially_refunded", 1000)
    status, second = refund(clinic, pr_id, 5000, f"r2-{pr_id}")
    assert status == 200, second
    assert (second["status"], second["amount_refunded"]) == ("refunded", 6000)
    assert our_refunds_on_stripe(stack, intent_id, pr_id) == [1000, 5000]

    stack.receipt_worker.drain()
    subjects = [m["subject"] for m in emails_to(stack, email)]
    assert len(subjects) == 3 and sum("RF-" in s for s in subjects) == 2
    status, report = api(http_event("GET", f"/payment-requests/{pr_id}", claims=claims_for(clinic)))
    assert report["amount_refunded"] == 6000 and report["amount_captured"] == 6000


def test_the_same_refund_sent_twice_with_one_key_refunds_once(stack: Stack, clinic: Clinic) -> None:
    email = f"patient-{uuid.uuid4().hex[:6]}@example.com"
    pr_id, intent_id = held_and_authorised(stack, clinic, email)
    capture(clinic, pr_id, 10_000)
    key = f"once-{pr_id}"
    first = refund(clinic, pr_id, 2500, key)
    again = refund(clinic, pr_id, 2500, key)
    assert first == again and first[0] == 200
    assert first[1]["amount_refunded"] == 2500
    assert our_refunds_on_stripe(stack, intent_id, pr_id) == [2500]
    assert stored(pr_id).amount_refunded == 2500
    assert [r.amount for r in stored(pr_id).refunds] == [2500]
    stack.receipt_worker.drain()
    assert sum("RF-" in m["subject"] for m in emails_to(stack, email)) == 1


@pytest.mark.parametrize("version", ["2022-11-15", "2025-03-31.basil"])
def test_stripes_events_for_the_same_flow_change_nothing_in_either_api_version(
    stack: Stack, clinic: Clinic, version: str
) -> None:
    """What Stripe would deliver for that flow, rendered in the endpoint's API version."""
    email = f"patient-{uuid.uuid4().hex[:6]}@example.com"
    pr_id, intent_id = held_and_authorised(stack, clinic, email)
    capture(clinic, pr_id, 6000)
    refund(clinic, pr_id, 1000, f"r1-{pr_id}")
    refund(clinic, pr_id, 5000, f"r2-{pr_id}")
    stack.receipt_worker.drain()
    before = stored(pr_id)
    now = int(time.time())
    folds = version[:10] < BASIL
    # The partial capture (a "refund" of 40.00 before basil), then each refund.
    steps = [(6000, 0)] if folds else []
    steps += [(6000, 1000), (6000, 6000)]
    for at, (captured, refunded) in enumerate(steps):
        obj = charge_object(intent_id, amount=10_000, captured=captured, refunded=refunded,
                            api_version=version)  # fmt: skip
        stripe_event = event("charge.refunded", obj, api_version=version, created=now + at)
        body = encode(stripe_event)
        status, answer = deliver(body, {"stripe-signature": signature(body, ACCOUNT_SECRET)})
        assert (status, json.loads(answer)["outcome"]) == (200, "stale")
    after = stored(pr_id)
    assert (after.status, after.amount_refunded, after.version) == (
        Status.REFUNDED, 6000, before.version,
    )  # fmt: skip
    stack.receipt_worker.drain()
    assert len(emails_to(stack, email)) == 3


def test_a_dispute_lifecycle_on_the_real_store(stack: Stack, clinic: Clinic) -> None:
    email = f"patient-{uuid.uuid4().hex[:6]}@example.com"
    pr_id, intent_id = held_and_authorised(stack, clinic, email)
    capture(clinic, pr_id, 10_000)
    now = int(time.time())

    def send(kind: str, at: int, **dispute: Any) -> tuple[int, str]:
        obj = dispute_object(intent_id, **dispute)
        body = encode(
            event(
                f"charge.dispute.{kind}",
                obj,
                created=now + at,
                api_version="2025-03-31.basil",
                account=clinic.stripe_account_id,
            )
        )
        status, answer = deliver(body, {"stripe-signature": signature(body, CONNECT_SECRET)})
        return status, json.loads(answer).get("outcome", "")  # fmt: skip

    assert send("created", 1, status="needs_response") == (200, "applied")
    assert send("funds_withdrawn", 1, status="needs_response") == (200, "applied")
    status, view = api(http_event("GET", f"/payment-requests/{pr_id}", claims=claims_for(clinic)))
    assert (
        status == 200
        and view["status"] == "disputed"
        and view["dispute"]["funds_withdrawn"] is True
    )
    # A refund made in Stripe's dashboard meanwhile still counts.
    refunded = charge_object(intent_id, amount=10_000, captured=10_000, refunded=2000)
    body = encode(
        event("charge.refunded", refunded, created=now + 2, api_version="2025-03-31.basil")
    )
    assert deliver(body, {"stripe-signature": signature(body, ACCOUNT_SECRET)})[0] == 200
    assert send("closed", 3, status="won") == (200, "applied")
    assert send("funds_reinstated", 3, status="won") == (200, "applied")
    assert send("updated", 2, status="under_review") == (200, "stale")  # late: never back
    final = stored(pr_id)
    assert (final.status, final.amount_refunded) == (Status.PARTIALLY_REFUNDED, 2000)
    assert final.dispute is not None and final.dispute.status == "won"
    actions = [a.action for a in runtime.store().audit_trail(pr_id)]
    assert actions[-5:] == ["status.disputed", "dispute.needs_response", "refund",
                            "status.partially_refunded", "dispute.won"]  # fmt: skip
