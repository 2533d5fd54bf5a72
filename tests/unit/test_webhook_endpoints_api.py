"""The webhook endpoint routes through the platform_api handler, over in-memory ports."""

from __future__ import annotations

from typing import Any

import pytest

from platform_api.handler import lambda_handler
from tests.support.events import LambdaContext, clinician_claims, http_event, reply
from tests.unit.conftest import World

ORG_ADMIN = clinician_claims(sub="boss", role="org_admin")
BACKEND = {"sub": "emr", "client_id": "emr", "org_id": "org-1",
           "scope": "callpay/webhook-endpoints.write"}  # fmt: skip
URL = "https://emr.example.com/callpay"


def call(method: str, path: str, body: Any = None, claims: Any = ORG_ADMIN) -> tuple[int, Any]:
    response = lambda_handler(http_event(method, path, body, claims=claims), LambdaContext())
    if response["statusCode"] == 204:
        return 204, None
    return reply(response)


def test_register_shows_the_secret_once_and_stores_it_sealed(world: World) -> None:
    status, created = call("POST", "/orgs/org-1/webhook-endpoints", {"url": URL})
    assert status == 201 and created["secret"].startswith("whsec_")
    assert created["event_types"] == [] and created["org_id"] == "org-1"
    stored = world.endpoints.get_endpoint("org-1", created["id"])
    assert stored is not None and created["secret"] not in stored.secret_ciphertext
    status, listed = call("GET", "/orgs/org-1/webhook-endpoints")
    assert status == 200 and [e["id"] for e in listed["webhook_endpoints"]] == [created["id"]]
    assert "secret" not in listed["webhook_endpoints"][0]


def test_the_backend_manages_endpoints_with_its_scope(world: World) -> None:
    status, created = call(
        "POST", "/orgs/org-1/webhook-endpoints",
        {"url": URL, "event_types": ["invoice.paid", "payment_request.succeeded"]},
        claims=BACKEND,
    )  # fmt: skip
    assert status == 201 and created["event_types"] == ["invoice.paid", "payment_request.succeeded"]
    assert call("DELETE", f"/orgs/org-1/webhook-endpoints/{created['id']}", claims=BACKEND) == (
        204, None,
    )  # fmt: skip
    without = BACKEND | {"scope": "callpay/invoices.write"}
    status, body = call("GET", "/orgs/org-1/webhook-endpoints", claims=without)
    assert (status, body["error"]["code"]) == (403, "insufficient_scope")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "http://emr.example.com/x"}, "invalid_endpoint_url"),
        ({"url": "https://192.168.1.10/x"}, "invalid_endpoint_url"),
        ({"url": URL, "event_types": ["payment.everything"]}, "unknown_event_type"),
        ({"url": URL, "secret": "mine"}, "invalid_request"),
        ({}, "invalid_request"),
    ],
)
def test_bad_endpoints_are_422_and_store_nothing(
    world: World, body: dict[str, Any], code: str
) -> None:
    status, answer = call("POST", "/orgs/org-1/webhook-endpoints", body)
    assert (status, answer["error"]["code"]) == (422, code)
    assert world.endpoints.endpoints == {}


def test_an_organisation_has_at_most_ten_endpoints(world: World) -> None:
    for _ in range(10):
        assert call("POST", "/orgs/org-1/webhook-endpoints", {"url": URL})[0] == 201
    status, body = call("POST", "/orgs/org-1/webhook-endpoints", {"url": URL})
    assert (status, body["error"]["code"]) == (409, "too_many_endpoints")


def test_unknown_endpoints_are_404(world: World) -> None:
    status, body = call("DELETE", "/orgs/org-1/webhook-endpoints/we_nope")
    assert (status, body["error"]["code"]) == (404, "endpoint_not_found")
    status, body = call("POST", "/orgs/org-1/webhook-endpoints/we_nope/replay")
    assert (status, body["error"]["code"]) == (404, "endpoint_not_found")


def test_replay_sends_failed_deliveries_again_oldest_first(world: World) -> None:
    _, created = call("POST", "/orgs/org-1/webhook-endpoints", {"url": URL})
    from tests.unit.test_platform_events import delivery  # noqa: PLC0415

    for n, at in ((2, 20), (1, 10)):
        failed = delivery().model_copy(
            update={"endpoint_id": created["id"], "event_id": f"evt_{n}", "status": "failed",
                    "occurred_at": delivery().occurred_at.replace(minute=at)}
        )  # fmt: skip
        world.endpoints.save_delivery(failed)
    path = f"/orgs/org-1/webhook-endpoints/{created['id']}/replay"
    assert call("POST", path) == (202, {"replayed": 2})
    assert [d.event_id for d in world.deliveries.sent] == ["evt_1", "evt_2"]
    assert all(d.replays == 1 and d.status == "pending" for d in world.deliveries.sent)
    assert call("POST", path) == (202, {"replayed": 0})
