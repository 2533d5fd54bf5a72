"""Invoices, with the network off: the platform's upserts, billing them in a call, and
their settlement with the payment request (paid, released, refunded), exactly once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from callpay.domain.invoice import InvoiceStatus
from callpay.domain.stripe_objects import StripeEvent
from callpay.ports import Intent
from platform_api.handler import lambda_handler as platform_api
from tests.support.events import LambdaContext, clinician_claims, http_event, reply
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World
from tests.unit.test_refunds import refund
from tests.unit.test_request_payment_api import call, create

BACKEND = {"sub": "emr", "client_id": "emr", "org_id": "org-1",
           "scope": "callpay/invoices.write callpay/invoices.read"}  # fmt: skip


def invoice_body(total: int = 8000, patient: str = "pat-1", **changes: Any) -> dict[str, Any]:
    lines = [{"description": "Consultation", "amount": total - 1000},
             {"description": "Pathology", "amount": 1000}]  # fmt: skip
    return {"patient": patient, "issued_on": "2026-11-01", "currency": "aud", "lines": lines,
            "total": total} | changes  # fmt: skip


def put(invoice_id: str, body: dict[str, Any], claims: Any = BACKEND) -> tuple[int, Any]:
    path = f"/clinics/clinic-1/invoices/{invoice_id}"
    return reply(platform_api(http_event("PUT", path, body, claims=claims), LambdaContext()))


def get(path: str, claims: Any = BACKEND, query: str = "") -> tuple[int, Any]:
    event = http_event("GET", path, claims=claims)
    event["rawQueryString"] = query
    event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&") if p)
    return reply(platform_api(event, LambdaContext()))


def bill(*invoice_ids: str, **kw: Any) -> tuple[int, Any]:
    body = {"clinic_id": "clinic-1", "currency": "aud", "description": "Outstanding invoices",
            "invoice_ids": list(invoice_ids)}  # fmt: skip
    return create(body, **kw)


def status_of(world: World, invoice_id: str) -> InvoiceStatus:
    return world.store.invoices[("clinic-1", invoice_id)].status


def stripe(world: World, event_type: str, pr_id: str, **kw: Any) -> str:
    request = world.store.requests[pr_id]
    event = intent_event(event_type, str(request.payment_intent_id), pr_id, **kw)
    return world.events.apply(StripeEvent.model_validate(event)).outcome.value


# -- the platform's upserts -----------------------------------------------------------


def test_the_backend_upserts_an_invoice_and_a_repeat_changes_nothing(world: World) -> None:
    status, created = put("inv-1", invoice_body())
    assert status == 201 and created["status"] == "unpaid" and created["total"] == 8000
    assert put("inv-1", invoice_body())[0] == 200
    assert world.store.invoices[("clinic-1", "inv-1")].version == 1
    status, changed = put("inv-1", invoice_body(9000))
    assert status == 200 and changed["total"] == 9000
    assert world.store.invoices[("clinic-1", "inv-1")].version == 2
    status, voided = put("inv-1", invoice_body(9000, void=True))
    assert status == 200 and voided["status"] == "void"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (invoice_body() | {"total": 7999}, "invoice_total_mismatch"),
        (invoice_body() | {"currency": "nzd"}, "currency_not_accepted"),
        (invoice_body() | {"total": 0}, "invalid_request"),
        (invoice_body() | {"lines": []}, "invalid_request"),
        (invoice_body() | {"email": "a@b.c"}, "invalid_request"),
    ],
)
def test_bad_invoices_are_422_and_store_nothing(
    world: World, body: dict[str, Any], code: str
) -> None:
    status, answer = put("inv-1", body)
    assert (status, answer["error"]["code"]) == (422, code)
    assert world.store.invoices == {}


def test_only_the_backend_writes_and_people_of_the_clinic_read(world: World) -> None:
    admin = clinician_claims(role="org_admin")
    assert put("inv-1", invoice_body(), claims=admin)[1]["error"]["code"] == "platform_backend_only"
    put("inv-1", invoice_body())
    member = clinician_claims()
    assert get("/clinics/clinic-1/invoices/inv-1", claims=member)[0] == 200
    other = clinician_claims(sub="x", clinics="clinic-2")
    assert get("/clinics/clinic-1/invoices/inv-1", claims=other)[0] == 403
    reader = BACKEND | {"scope": "callpay/invoices.read"}
    assert put("inv-2", invoice_body(), claims=reader)[1]["error"]["code"] == "insufficient_scope"


def test_invoices_are_listed_by_patient_and_status(world: World) -> None:
    put("inv-1", invoice_body())
    put("inv-2", invoice_body(patient="pat-2"))
    put("inv-3", invoice_body())
    bill("inv-3")
    status, page = get("/clinics/clinic-1/invoices", query="patient=pat-1&status=unpaid")
    assert status == 200 and [i["id"] for i in page["invoices"]] == ["inv-1"]
    status, page = get("/clinics/clinic-1/invoices", query="patient=pat-1&status=pending")
    assert [(i["id"], i["payment_request_id"] is not None) for i in page["invoices"]] == [
        ("inv-3", True)
    ]
    status, first = get("/clinics/clinic-1/invoices", query="limit=2")
    status, rest = get("/clinics/clinic-1/invoices", query=f"limit=2&cursor={first['next_cursor']}")
    assert [i["id"] for i in first["invoices"] + rest["invoices"]] == ["inv-1", "inv-3", "inv-2"]
    assert get("/clinics/clinic-1/invoices", query="status=lost")[0] == 400


# -- billing in a call -----------------------------------------------------------------


def test_a_request_bills_the_invoices_line_by_line(world: World) -> None:
    put("inv-1", invoice_body(8000))
    put("inv-2", invoice_body(4500))
    status, created = bill("inv-1", "inv-2")
    assert status == 201 and created["amount"] == 12500
    assert [(line["invoice_id"], line["amount"]) for line in created["line_items"]] == [
        ("inv-1", 7000), ("inv-1", 1000), ("inv-2", 3500), ("inv-2", 1000),
    ]  # fmt: skip
    assert world.gateway.created[-1]["amount"] == 12500
    for invoice_id in ("inv-1", "inv-2"):
        stored = world.store.invoices[("clinic-1", invoice_id)]
        assert stored.status is InvoiceStatus.PENDING
        assert stored.payment_request_id == created["id"]


@pytest.mark.parametrize(
    ("body", "status_code", "code"),
    [
        ({"invoice_ids": ["inv-x"]}, 404, "invoice_not_found"),
        ({"invoice_ids": ["inv-1", "inv-2"]}, 422, "invoices_of_several_patients"),
        ({"invoice_ids": ["inv-1"], "amount": 8000}, 422, "invalid_request"),
        ({"invoice_ids": ["inv-1", "inv-1"]}, 422, "invalid_request"),
    ],
)
def test_bad_invoice_bills_are_refused(
    world: World, body: dict[str, Any], status_code: int, code: str
) -> None:
    put("inv-1", invoice_body())
    put("inv-2", invoice_body(patient="pat-2"))
    request = {"clinic_id": "clinic-1", "currency": "aud", "description": "x"} | body
    status, answer = create(request)
    assert (status, answer["error"]["code"]) == (status_code, code)
    assert world.store.requests == {} and world.gateway.created == []


def test_an_invoice_in_an_open_request_cannot_be_billed_again(world: World) -> None:
    put("inv-1", invoice_body())
    assert bill("inv-1")[0] == 201
    status, answer = bill("inv-1", call_id="call-2")
    assert (status, answer["error"]["code"]) == (409, "invoice_not_payable")
    assert len(world.gateway.created) == 1
    # ...nor changed by the platform meanwhile, unless it says the same again.
    assert put("inv-1", invoice_body(9000))[1]["error"]["code"] == "invoice_locked"
    assert put("inv-1", invoice_body())[0] == 200


def test_a_retry_with_the_same_key_answers_the_same_request(world: World) -> None:
    put("inv-1", invoice_body())
    headers = {"idempotency-key": "k-1"}
    first = bill("inv-1", headers=headers)
    again = bill("inv-1", headers=headers)
    assert first[0] == again[0] == 201 and first[1]["id"] == again[1]["id"]


def test_the_race_for_an_invoice_has_one_winner_and_the_loser_cancels_its_intent(
    world: World,
) -> None:
    """Two requests read the invoice unpaid; the second commits while the first is at
    Stripe: the first's conditional write is refused (409) and its PaymentIntent canceled."""
    put("inv-1", invoice_body())
    gateway = world.gateway
    create_intent = gateway.create_intent
    answers: list[tuple[int, Any]] = []

    def racing(*args: Any, **kwargs: Any) -> Intent:
        intent = create_intent(*args, **kwargs)
        if not answers:
            gateway.create_intent = create_intent  # type: ignore[method-assign]
            answers.append(bill("inv-1", call_id="call-2"))
        return intent

    gateway.create_intent = racing  # type: ignore[method-assign]
    first = bill("inv-1")
    assert answers[0][0] == 201
    assert (first[0], first[1]["error"]["code"]) == (409, "invoice_not_payable")
    assert gateway.canceled == ["pi_1"]
    winner = answers[0][1]["id"]
    assert world.store.invoices[("clinic-1", "inv-1")].payment_request_id == winner
    assert list(world.store.requests) == [winner]


# -- settlement ------------------------------------------------------------------------


def test_paid_once_with_the_receipt_number_however_often_stripe_says_so(world: World) -> None:
    put("inv-1", invoice_body())
    _, created = bill("inv-1")
    world.store.announced.clear()
    assert stripe(world, "payment_intent.succeeded", created["id"]) == "applied"
    invoice = world.store.invoices[("clinic-1", "inv-1")]
    assert invoice.status is InvoiceStatus.PAID and invoice.paid_at is not None
    assert invoice.receipt_number and invoice.receipt_number.startswith("R-")
    paid_version = invoice.version
    assert stripe(world, "payment_intent.succeeded", created["id"]) in {"stale", "duplicate"}
    assert world.store.invoices[("clinic-1", "inv-1")].version == paid_version
    assert [e.type for e in world.store.announced] == [
        "payment_request.succeeded", "invoice.paid"
    ]  # fmt: skip
    assert put("inv-1", invoice_body(9000))[1]["error"]["code"] == "invoice_locked"


@pytest.mark.parametrize("ending", ["clinician", "stripe", "released_hold"])
def test_a_request_that_ends_unpaid_releases_its_invoices(world: World, ending: str) -> None:
    put("inv-1", invoice_body())
    hold = {"capture_method": "manual"} if ending == "released_hold" else {}
    body = {"clinic_id": "clinic-1", "currency": "aud", "description": "x",
            "invoice_ids": ["inv-1"]} | hold  # fmt: skip
    _, created = create(body)
    pr_id = created["id"]
    if ending == "clinician":
        assert stripe(world, "payment_intent.payment_failed", pr_id) == "applied"
        assert status_of(world, "inv-1") is InvoiceStatus.PENDING  # the patient may retry
        path = f"/payment-requests/{pr_id}/cancel"
        assert call(http_event("POST", path, claims=clinician_claims()))[0] == 200
    elif ending == "stripe":
        assert stripe(world, "payment_intent.canceled", pr_id) == "applied"
    else:
        assert stripe(world, "payment_intent.amount_capturable_updated", pr_id) == "applied"
        path = f"/payment-requests/{pr_id}/capture"
        assert call(http_event("POST", path, {"amount": 0}, claims=clinician_claims()))[0] == 200
    invoice = world.store.invoices[("clinic-1", "inv-1")]
    assert invoice.status is InvoiceStatus.UNPAID and invoice.payment_request_id is None
    assert [e.type for e in world.store.announced][-1] == "invoice.released"
    assert bill("inv-1", call_id="call-2")[0] == 201  # billable again


def test_refunds_reach_the_invoices_in_the_order_they_were_billed(world: World) -> None:
    put("inv-1", invoice_body(5000))
    put("inv-2", invoice_body(3000))
    _, created = bill("inv-1", "inv-2")
    stripe(world, "payment_intent.succeeded", created["id"], amount=8000)
    key = {"idempotency-key": uuid.uuid4().hex}
    assert refund(created["id"], {"amount": 2000, "reason": "duplicate"}, headers=key)[0] == 200
    first, second = (world.store.invoices[("clinic-1", i)] for i in ("inv-1", "inv-2"))
    assert (first.status, first.amount_refunded) == (InvoiceStatus.PARTIALLY_REFUNDED, 2000)
    assert second.status is InvoiceStatus.PAID
    key = {"idempotency-key": uuid.uuid4().hex}
    assert refund(created["id"], {"amount": 4000, "reason": "duplicate"}, headers=key)[0] == 200
    first, second = (world.store.invoices[("clinic-1", i)] for i in ("inv-1", "inv-2"))
    assert (first.status, first.amount_refunded) == (InvoiceStatus.REFUNDED, 5000)
    assert (second.status, second.amount_refunded) == (InvoiceStatus.PARTIALLY_REFUNDED, 1000)
    refunded = [e for e in world.store.announced if e.type == "invoice.refunded"]
    assert [(e.data["id"], e.data["status"]) for e in refunded] == [
        ("inv-1", "partially_refunded"), ("inv-1", "refunded"), ("inv-2", "partially_refunded"),
    ]  # fmt: skip


def test_the_receipt_lists_each_invoice_line(world: World) -> None:
    from callpay import runtime  # noqa: PLC0415

    put("inv-1", invoice_body(8000))
    _, created = bill("inv-1")
    stripe(world, "payment_intent.succeeded", created["id"])
    page = runtime.receipt_book().rendered(world.store.requests[created["id"]], choice="en")
    assert "inv-1 · Consultation" in page.text and "inv-1 · Pathology" in page.text
