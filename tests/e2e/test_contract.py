"""The contract against the running local stack: the document the API serves at
/openapi.json is valid OpenAPI, and schemathesis fuzzes every operation of it with valid
clinician, admin, patient and platform backend tokens. No 5xx; every answer's status,
content type, headers and body are the document's; every 4xx is callpay's JSON error
envelope.

Budget: CONTRACT_EXAMPLES examples per operation (default 12, 26 operations: about 300
requests, about a minute here); CONTRACT_EXAMPLES=500 for a long run before a release.
The fuzzing clinic admin is an `org_admin` of an organisation of its own, so what it changes
(a clinic's settings) never touches the demo clinic the other end-to-end tests use.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devtools.local_client import direct_session, expect, set_up_clinic
from tests.e2e.conftest import GOOD_CARD, LocalStack
from tests.support.contract import Answer, committed

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]  # fmt: skip


@pytest.fixture(scope="session")
def served_document(stack: LocalStack) -> dict[str, Any]:
    with direct_session() as http:
        answer = http.get(f"{stack.endpoints.http_url}/openapi.json", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    document: dict[str, Any] = answer.json()
    return document


def test_the_api_serves_its_document_without_auth_and_it_is_valid_openapi(
    served_document: dict[str, Any],
) -> None:
    validate(served_document)
    assert served_document == committed().document


@dataclass(frozen=True)
class FuzzWorld:
    """A clinic of its own (an organisation of its own too), set up and linked, with a call,
    its patient, and payment requests in several states to aim the fuzzing at."""

    tokens: dict[str, str]
    ids: dict[str, list[str]]  # path parameter -> real values


@pytest.fixture(scope="session")
def fuzz_world(stack: LocalStack) -> FuzzWorld:
    org, clinic = "org-fuzz", "clinic-fuzz"
    admin = stack.identity.token("admin-fuzz", org, "org_admin", (clinic,))
    set_up_clinic(stack.api(admin), clinic, {"default_currency": "aud"})
    clinician = stack.identity.token("dr-fuzz", org, "team_member", (clinic,))
    call_id = f"call-fuzz-{uuid.uuid4().hex[:8]}"
    doctor = stack.api(clinician)
    access = expect(doctor.post(f"/calls/{call_id}/patient-access", {"clinic_id": clinic}),
                    201, "patient access")  # fmt: skip
    patient = stack.api(access["token"])

    def request(method: str, paid_to: str | None) -> str:
        body = {"clinic_id": clinic, "amount": 5000, "currency": "aud",
                "description": "Consultation", "capture_method": method}  # fmt: skip
        created = expect(doctor.post(f"/calls/{call_id}/payment-requests", body), 201, "request")
        if paid_to is not None:
            pay = {"email": "patient-fuzz@example.com"}
            checkout = expect(patient.post(f"/payment-requests/{created['id']}/checkout", pay),
                              200, "checkout")  # fmt: skip
            stack.browser().pay(checkout["client_secret"], GOOD_CARD)
            wait_for_status(doctor, created["id"], paid_to)
        return str(created["id"])

    requests = [request("automatic", None), request("manual", "authorized"),
                request("automatic", "succeeded")]  # fmt: skip
    # The platform's side: its backend, an invoice of the clinic, an endpoint of the
    # organisation (on loopback: deliveries to it fail fast and harmlessly).
    backend = stack.identity.client_token(
        "platform-fuzz", org, ["callpay/invoices.write", "callpay/webhook-endpoints.write"]
    )
    line = {"description": "Consultation", "amount": 5000}
    invoice = {"patient": "patient-fuzz", "issued_on": "2026-12-01", "currency": "aud",
               "lines": [line], "total": 5000}  # fmt: skip
    expect(stack.api(backend).request("PUT", f"/clinics/{clinic}/invoices/inv-fuzz", invoice),
           201, "an invoice")  # fmt: skip
    endpoint = expect(stack.api(admin).post(f"/orgs/{org}/webhook-endpoints",
                                            {"url": "http://127.0.0.1:9/hooks"}),
                      201, "a webhook endpoint")  # fmt: skip
    return FuzzWorld(
        {"clinician": clinician, "admin": admin, "patient": access["token"], "backend": backend},
        {"clinic_id": [clinic], "call_id": [call_id], "id": requests, "org_id": [org],
         "invoice_id": ["inv-fuzz"], "endpoint_id": [endpoint["id"]]},
    )  # fmt: skip


def wait_for_status(api: Any, payment_request_id: str, status: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if api.get(f"/payment-requests/{payment_request_id}").json()["status"] == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"{payment_request_id} never became {status}")


def aim_at(case: Any, world: FuzzWorld, pick: int) -> None:
    """Real path ids (and the clinic in a body) in place of the generated ones."""
    for name in case.path_parameters or {}:
        values = world.ids[name]
        case.path_parameters[name] = values[pick % len(values)]
    if isinstance(case.body, dict) and "clinic_id" in case.body:
        case.body["clinic_id"] = world.ids["clinic_id"][0]
        if "currency" in case.body:
            case.body["currency"] = "aud"


def caller_of(operation: dict[str, Any], path: str) -> str:
    schemes = {name for requirement in operation["security"] for name in requirement}
    if schemes == {"patientToken"}:
        return "patient"
    if schemes == {"platformClient"}:
        return "backend"
    if path.startswith(("/clinics/", "/orgs/")) or path.endswith(("/refunds", "/audit")):
        return "admin"
    return "clinician"


@pytest.fixture(scope="session")
def contract_schema(served_document: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_dict(served_document)


# What ends things goes last (cancelling, removing the clinic's Stripe account): until
# then the routes that pay, capture and refund can succeed.
OPERATIONS = sorted(
    ((method.upper(), path) for path, item in committed().document["paths"].items()
     for method in item),
    key=lambda op: (op[0] == "DELETE", op[1].endswith("/cancel"), op[1]),
)  # fmt: skip


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_keeps_its_contract_under_fuzzing(
    method: str, path: str, contract_schema: Any, stack: LocalStack, fuzz_world: FuzzWorld
) -> None:
    operation = committed().document["paths"][path][method.lower()]
    token = fuzz_world.tokens[caller_of(operation, path)] if operation["security"] else None
    statuses: list[int] = []  # one per example sent

    @given(case=contract_schema[path][method].as_strategy(), aim=st.integers(0, 3))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)  # fmt: skip
    def keeps_the_contract(case: Any, aim: int) -> None:
        if aim:  # most examples at the world's real ids, so they get past "not found"
            aim_at(case, fuzz_world, aim)
        if token:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        with direct_session() as http:
            response = case.call_and_validate(
                base_url=stack.endpoints.http_url, session=http, checks=CHECKS
            )
        content_type = response.headers.get("content-type", [""])
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        if 400 <= response.status_code < 500:
            body = response.json()
            assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        sent_path = urlsplit(response.request.url).path
        answer = Answer(response.status_code, content_type, response.text)
        statuses.append(response.status_code)
        problems = committed().problems(method, sent_path, answer)
        assert not problems, problems

    keeps_the_contract()
    assert statuses, "no example was sent"
    # The figures of the run (pytest -s shows them): examples sent, and their statuses.
    print(f"contract fuzz {method} {path}: {len(statuses)} examples, "
          f"statuses {dict(sorted(Counter(statuses).items()))}")  # fmt: skip
