"""The audit trail read back through the admin routes, over moto and localstripe: a payment
through create -> decline -> retry -> success -> partial refund, entry by entry, and the
clinic's whole trail a page at a time."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from callpay import runtime
from callpay.domain.clinic import Clinic
from clinic_admin import composition as clinic_admin_parts
from clinic_admin.handler import lambda_handler as clinic_admin
from request_payment.handler import lambda_handler as request_payment_handler
from tests.integration.conftest import Stack, claims_for
from tests.integration.test_payment_loop import (
    DECLINED_CARD,
    GOOD_CARD,
    patient_checkout,
    pay,
    request_payment,
    stored,
)
from tests.support.events import LambdaContext, http_event, reply
from tests.support.servers import wait_until

pytestmark = pytest.mark.integration


def admin_get(clinic: Clinic, path: str, query: str = "") -> tuple[int, Any]:
    event = http_event("GET", path, claims=claims_for(clinic, "admin-1", "team_admin"))
    event["rawQueryString"] = query
    event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&") if p)
    response = clinic_admin(event, LambdaContext())
    if response["headers"].get("Content-Type", "").startswith("text/csv"):
        return response["statusCode"], response["body"]
    return reply(response)


def paid_declined_then_refunded(stack: Stack, clinic: Clinic) -> tuple[str, str]:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    created = request_payment(clinic, call_id)
    pr_id = created["id"]
    patient_checkout(clinic, call_id, pr_id)
    intent_id = stored(pr_id).payment_intent_id
    assert intent_id
    with pytest.raises(stripe.CardError):
        pay(stack, intent_id, DECLINED_CARD)
    wait_until(lambda: stack.receiver.delivered("payment_intent.payment_failed", intent_id))
    patient_checkout(clinic, call_id, pr_id)
    pay(stack, intent_id, GOOD_CARD)
    wait_until(lambda: stack.receiver.delivered("payment_intent.succeeded", intent_id))
    refund = http_event(
        "POST", f"/payment-requests/{pr_id}/refunds",
        {"amount": 3000, "reason": "requested_by_customer"},
        claims=claims_for(clinic, "admin-1", "team_admin"),
        headers={"idempotency-key": f"refund-{pr_id}"},
    )  # fmt: skip
    status, refunded = reply(request_payment_handler(refund, LambdaContext()))
    assert status == 200 and refunded["status"] == "partially_refunded", refunded
    return pr_id, intent_id


def test_a_payments_trail_is_read_back_entry_by_entry(stack: Stack, clinic: Clinic) -> None:
    pr_id, _ = paid_declined_then_refunded(stack, clinic)
    status, page = admin_get(clinic, f"/payment-requests/{pr_id}/audit")
    assert status == 200 and page["next_cursor"] is None
    rows = [
        (e["action"], e["from_status"], e["to_status"], e["actor"]["type"]) for e in page["entries"]
    ]
    assert rows == [
        ("created", None, "requested", "clinician"),
        ("checkout", "requested", "requested", "patient"),
        ("status.failed", "requested", "failed", "stripe"),
        ("checkout", "failed", "failed", "patient"),
        ("status.succeeded", "failed", "succeeded", "stripe"),
        ("status.partially_refunded", "succeeded", "partially_refunded", "clinician"),
    ]
    entries = page["entries"]
    assert entries[0]["actor"]["id"] == "clin-1"
    assert entries[1]["actor"]["id"].startswith("patient:")
    # Stripe's changes name the event that made them, and its type.
    assert entries[2]["actor"]["id"].startswith("evt_")
    assert entries[2]["detail"] == "payment_intent.payment_failed"
    assert entries[5]["actor"]["id"] == "admin-1"
    assert "requested_by_customer" in entries[5]["detail"]
    assert [e["version"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert all(e["clinic_id"] == clinic.clinic_id for e in entries)

    # A page at a time: the cursors walk the same trail.
    walked: list[str] = []
    cursor = ""
    while True:
        status, page = admin_get(clinic, f"/payment-requests/{pr_id}/audit", f"limit=4{cursor}")
        assert status == 200 and len(page["entries"]) <= 4
        walked += [e["action"] for e in page["entries"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert walked == [row[0] for row in rows]


@pytest.fixture(autouse=True)
def settings_route(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """clinic_admin as the local stack configures it (no Connect return URLs needed)."""
    monkeypatch.setenv("LOCAL_ONBOARDING_URL", "http://127.0.0.1:9/onboarding")
    runtime.settings.cache_clear()
    clinic_admin_parts.clinic_admin.cache_clear()
    yield
    monkeypatch.undo()
    runtime.settings.cache_clear()
    clinic_admin_parts.clinic_admin.cache_clear()


def test_the_clinics_trail_holds_its_payments_and_settings_by_time(
    stack: Stack, clinic: Clinic
) -> None:
    pr_id, _ = paid_declined_then_refunded(stack, clinic)
    settings = http_event(
        "PUT", f"/clinics/{clinic.clinic_id}/settings", {"legal_name": "Harbour Health"},
        claims=claims_for(clinic, "admin-1", "team_admin"),
    )  # fmt: skip
    assert clinic_admin(settings, LambdaContext())["statusCode"] == 200

    def whole_trail() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = ""
        while True:
            status, page = admin_get(
                clinic, f"/clinics/{clinic.clinic_id}/audit", f"limit=3{cursor}"
            )
            assert status == 200
            found += page["entries"]
            if page["next_cursor"] is None:
                return found
            cursor = f"&cursor={page['next_cursor']}"

    # The index is eventually consistent: wait until the last change shows.
    entries = wait_until(lambda: (t := whole_trail()) and len(t) == 7 and t, what="the trail")
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert [e["payment_request_id"] for e in entries[:6]] == [pr_id] * 6
    last = entries[6]
    assert last["payment_request_id"] is None and last["action"] == "settings"
    assert last["actor"] == {"type": "admin", "id": "admin-1"}
    assert last["changes"] == {"legal_name": [None, "Harbour Health"]}


def test_the_payments_report_carries_the_trail_on_request(stack: Stack, clinic: Clinic) -> None:
    pr_id, _ = paid_declined_then_refunded(stack, clinic)
    status, text = admin_get(
        clinic, f"/clinics/{clinic.clinic_id}/payments", "format=csv&audit=true"
    )
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["audit_action"] for r in rows] == [
        "created", "checkout", "status.failed", "checkout", "status.succeeded",
        "status.partially_refunded",
    ]  # fmt: skip
    assert {r["id"] for r in rows} == {pr_id}
    assert rows[2]["actor"] == "stripe" and rows[2]["actor_id"].startswith("evt_")
    status, plain = admin_get(clinic, f"/clinics/{clinic.clinic_id}/payments", "format=csv")
    assert len(list(csv.DictReader(io.StringIO(plain)))) == 1 and "audit_action" not in plain


def test_a_cursor_from_elsewhere_is_400(stack: Stack, clinic: Clinic) -> None:
    status, body = admin_get(clinic, f"/clinics/{clinic.clinic_id}/audit", "cursor=bm90LWpzb24")
    assert status == 400 and body["error"]["code"] == "invalid_cursor"
