"""The local gateway answers like API Gateway where frontends notice: routes, CORS, JWKS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from devtools.local_client import direct_session
from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """Plain HTTP to the stack, never through a proxy from the environment."""
    with direct_session() as session:
        yield session


def test_a_browser_on_a_local_origin_passes_the_cors_preflight(
    stack: LocalStack, http: requests.Session
) -> None:
    answer = http.options(
        f"{stack.endpoints.http_url}/calls/call-1/payment-requests",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=5,
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert "authorization" in answer.headers["Access-Control-Allow-Headers"]

    foreign = http.options(
        f"{stack.endpoints.http_url}/calls/call-1/payment-requests",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_answers_carry_cors_headers_for_local_origins(stack: LocalStack) -> None:
    answer = stack.api(stack.clinician_token()).get(
        "/calls/call-cors/payment-requests", headers={"Origin": "http://127.0.0.1:3000"}
    )
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
    assert "location" in answer.headers["Access-Control-Expose-Headers"]


def test_routes_not_in_the_http_api_are_not_found(
    stack: LocalStack, http: requests.Session
) -> None:
    """In callpay's envelope (tests/e2e/test_input_boundary.py has the 405s)."""
    for method, path in (("GET", "/nowhere"), ("PUT", "/payment-requests"), ("GET", "/")):
        answer = http.request(method, f"{stack.endpoints.http_url}{path}", timeout=5)
        assert answer.status_code == 404, answer.text
        assert answer.json() == {"error": {"code": "not_found", "message": "No such route."}}


def test_the_identity_providers_keys_are_served(stack: LocalStack, http: requests.Session) -> None:
    keys = http.get(stack.endpoints.jwks_url, timeout=5).json()["keys"]
    assert [key["kid"] for key in keys] == [stack.identity.kid]
    assert keys[0]["kty"] == "RSA" and "d" not in keys[0]


def test_query_strings_and_non_json_answers_pass_through(stack: LocalStack) -> None:
    admin = stack.api(stack.clinician_token("casey-admin", role="team_admin"))
    answer = admin.get(f"/clinics/{stack.clinic_id}/payments?status=succeeded&format=csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.text.splitlines()[0].startswith("id,created_at,paid_at")
    bad = admin.get(f"/clinics/{stack.clinic_id}/payments?status=nonsense")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_status"


def test_the_invoice_upsert_needs_the_scope_at_the_gateway(stack: LocalStack) -> None:
    """A valid token without `callpay/invoices.write` is refused by the (local) JWT
    authorizer itself; the backend's token with it reaches platform_api."""
    path = f"/clinics/{stack.clinic_id}/invoices/inv-e2e-{uuid.uuid4().hex[:6]}"
    body = {"patient": "pat-e2e", "issued_on": "2026-11-01", "currency": "aud", "total": 5000,
            "lines": [{"description": "Consultation", "amount": 5000}]}  # fmt: skip
    org = stack.endpoints.demo_org_id
    admin = stack.clinician_token("olivia", role="org_admin")
    refused = stack.api(admin).request("PUT", path, body)
    assert refused.status_code == 403 and refused.json() == {"message": "Forbidden"}
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    reader = stack.identity.client_token("platform-backend", org, ["callpay/invoices.read"])
    assert stack.api(reader).request("PUT", path, body).status_code == 403
    writer = stack.identity.client_token("platform-backend", org, ["callpay/invoices.write"])
    created = stack.api(writer).request("PUT", path, body)
    assert created.status_code == 201 and created.json()["status"] == "unpaid"
    # Reading is for the clinic's people too: no scope at the gateway for them.
    assert stack.api(stack.clinician_token()).get(path).json()["total"] == 5000
