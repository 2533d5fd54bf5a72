"""The audit routes over in-memory ports: who may read, pages, bad queries."""

from __future__ import annotations

from typing import Any

from callpay.api_models import ClinicSettingsIn
from callpay.domain.stripe_objects import StripeEvent
from callpay.principals import clinician_of
from clinic_admin.handler import lambda_handler
from tests.support.events import LambdaContext, clinician_claims, http_event, reply
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World
from tests.unit.test_request_payment_api import create

ADMIN = clinician_claims(sub="admin-1", role="team_admin")


def get(path: str, query: str = "", claims: dict[str, str] = ADMIN) -> tuple[int, Any]:
    event = http_event("GET", path, claims=claims)
    event["rawQueryString"] = query
    event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&") if p)
    return reply(lambda_handler(event, LambdaContext()))


def paid(world: World) -> str:
    _, created = create()
    request = world.store.requests[created["id"]]
    event = intent_event("payment_intent.succeeded", str(request.payment_intent_id), request.id)
    world.events.apply(StripeEvent.model_validate(event))
    return request.id


def test_a_request_trail_names_who_did_what(world: World) -> None:
    pr_id = paid(world)
    status, page = get(f"/payment-requests/{pr_id}/audit")
    assert status == 200 and page["next_cursor"] is None
    created, succeeded = page["entries"]
    assert (created["action"], created["to_status"], created["actor"]) == (
        "created", "requested", {"type": "clinician", "id": "clin-1"},
    )  # fmt: skip
    assert succeeded["from_status"] == "requested" and succeeded["to_status"] == "succeeded"
    assert succeeded["actor"]["type"] == "stripe" and succeeded["actor"]["id"].startswith("evt_")
    assert succeeded["detail"] == "payment_intent.succeeded"


def test_pages_follow_their_cursor(world: World) -> None:
    pr_id = paid(world)
    status, first = get(f"/payment-requests/{pr_id}/audit", "limit=1")
    assert status == 200 and [e["action"] for e in first["entries"]] == ["created"]
    status, second = get(
        f"/payment-requests/{pr_id}/audit", f"limit=1&cursor={first['next_cursor']}"
    )
    assert [e["action"] for e in second["entries"]] == ["status.succeeded"]
    assert second["next_cursor"] is None


def test_the_clinic_trail_holds_payments_and_settings(world: World) -> None:
    pr_id = paid(world)
    world.clock.tick()
    world.clinics.update_settings(
        clinician_of(ADMIN), "clinic-1", ClinicSettingsIn(legal_name="Harbour")
    )
    status, page = get("/clinics/clinic-1/audit", "from=2020-01-01&to=2100-01-01")
    assert status == 200
    assert [(e["payment_request_id"], e["action"]) for e in page["entries"]] == [
        (pr_id, "created"), (pr_id, "status.succeeded"), (None, "settings"),
    ]  # fmt: skip
    assert page["entries"][2]["changes"] == {"legal_name": [None, "Harbour"]}


def test_who_may_not_read_a_trail(world: World) -> None:
    pr_id = paid(world)
    member = clinician_claims(sub="m", role="team_member")
    other = clinician_claims(sub="o", role="team_admin", clinics="clinic-2")
    for claims, code in ((member, "admin_only"), (other, "not_your_clinic")):
        for path in (f"/payment-requests/{pr_id}/audit", "/clinics/clinic-1/audit"):
            status, body = get(path, claims=claims)
            assert (status, body["error"]["code"]) == (403, code)
    status, body = get("/payment-requests/pr_nope/audit")
    assert (status, body["error"]["code"]) == (404, "payment_request_not_found")


def test_bad_queries_are_4xx(world: World) -> None:
    pr_id = paid(world)
    for query, status_code, code in (
        ("limit=0", 400, "invalid_query"),
        ("limit=999", 400, "invalid_query"),
        ("limit=x", 400, "invalid_query"),
        ("cursor=zz", 400, "invalid_cursor"),
    ):
        status, body = get(f"/payment-requests/{pr_id}/audit", query)
        assert (status, body["error"]["code"]) == (status_code, code), query
    status, body = get("/clinics/clinic-1/audit", "from=2026-02-01&to=2026-01-01")
    assert (status, body["error"]["code"]) == (422, "invalid_period")
    status, body = get("/clinics/clinic-1/payments", "format=csv&audit=maybe")
    assert (status, body["error"]["code"]) == (400, "invalid_query")
