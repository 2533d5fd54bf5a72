"""Inputs that answered 500 on `make dev` (issues 10 and 17), over HTTP against the local
stack: the real DynamoDB serializer (moto), the gateway's own route misses, the Lambda's
JWKS verification. Each answer is a 4xx with callpay's JSON envelope and stores nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from websockets.exceptions import InvalidStatus

from devtools.local_client import direct_session
from tests.e2e.conftest import Call, LocalStack

pytestmark = pytest.mark.e2e


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with direct_session() as session:
        yield session


def envelope(answer: requests.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"]["code"] == code, answer.text
    assert set(answer.json()["error"]) == {"code", "message"}


def test_an_unknown_route_or_method_gets_the_json_envelope(
    stack: LocalStack, http: requests.Session
) -> None:
    base = stack.endpoints.http_url
    for method, path in (("GET", "/nowhere"), ("GET", "/"), ("POST", "/calls/c1/nothing")):
        envelope(http.request(method, base + path, timeout=5), 404, "not_found")
    wrong_method = http.delete(f"{base}/payment-requests/pr_1", timeout=5)
    envelope(wrong_method, 405, "method_not_allowed")
    assert wrong_method.headers["Allow"] == "GET"


def test_a_path_id_with_a_line_break_reaches_the_route_and_is_400(
    stack: LocalStack, http: requests.Session
) -> None:
    """Regression: aiohttp answered `404 text/plain` before any route was tried."""
    url = f"{stack.endpoints.http_url}/calls/%0D%0A/payment-requests"
    headers = {"Authorization": f"Bearer {stack.clinician_token()}"}
    envelope(http.get(url, headers=headers, timeout=5), 400, "invalid_id")
    envelope(http.get(url, timeout=5), 401, "missing_token")


def test_a_deeply_nested_or_huge_number_body_is_400_and_stores_nothing(
    stack: LocalStack, call: Call
) -> None:
    path = f"/calls/{call.call_id}/payment-requests"
    for body in ("[" * 30_000 + "]" * 30_000, '{"amount": ' + "9" * 5001 + "}"):
        answer = call.clinician.post(
            path, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        envelope(answer, 400, "malformed_json")
    assert call.clinician.get(path).json() == {"payment_requests": []}


def test_clinic_limits_too_large_for_dynamodb_are_422_and_change_nothing(
    stack: LocalStack,
) -> None:
    """Regression: 10**39 overflowed DynamoDB's number type (decimal.Overflow, 500)."""
    admin = stack.api(stack.clinician_token("admin-e2e", role="team_admin"))
    path = f"/clinics/{stack.clinic_id}/settings"
    before = admin.get(path).json()
    for body in ({"maximum_amount": 10**39}, {"minimum_amount": 10**300}):
        answer = admin.request("PUT", path, data=json.dumps(body).encode(),
                               headers={"Content-Type": "application/json"})  # fmt: skip
        envelope(answer, 422, "amount_too_large")
    assert admin.get(path).json() == before


@pytest.mark.parametrize(
    "query",
    ["to=9999-12-31T23:59:59-14:00", "to=0001-01-01", "from=9999-12-31T23:59:59-14:00",
     "from=0001-01-01T00:00:00%2B01:00"],
)  # fmt: skip
def test_report_dates_out_of_range_are_400(stack: LocalStack, query: str) -> None:
    admin = stack.api(stack.clinician_token("admin-e2e", role="team_admin"))
    envelope(admin.get(f"/clinics/{stack.clinic_id}/payments?{query}"), 400, "invalid_date")


def test_a_report_for_one_day_includes_that_days_payments(stack: LocalStack, call: Call) -> None:
    created = call.request_payment(stack.clinic_id)
    admin = stack.api(stack.clinician_token("admin-e2e", role="team_admin"))
    clinic = admin.get(f"/clinics/{stack.clinic_id}/settings").json()
    today = datetime.now(ZoneInfo(clinic["time_zone"])).date().isoformat()
    report = admin.get(f"/clinics/{stack.clinic_id}/payments?from={today}&to={today}")
    assert report.status_code == 200, report.text
    assert created["id"] in [p["id"] for p in report.json()["payments"]]


@pytest.mark.parametrize("role", [["team_admin"], {"role": "team_admin"}])
def test_a_signed_token_whose_role_is_not_a_string_is_401(
    stack: LocalStack, call: Call, role: object
) -> None:
    """Regression (500 before) on the routes the Lambda verifies itself, and the feed."""
    created = call.request_payment(stack.clinic_id)
    token = stack.clinician_token(role=role)
    api = stack.api(token)
    for path in (f"/payment-requests/{created['id']}", f"/calls/{call.call_id}/payment-requests"):
        envelope(api.get(path), 401, "invalid_token")
    with pytest.raises(InvalidStatus) as refused:
        stack.feed(call.call_id, token).open()
    assert refused.value.response.status_code == 401
