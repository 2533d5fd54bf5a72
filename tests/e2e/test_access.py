"""Who may see and do what, end to end: other calls, other clinics, bad and expired tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from devtools.identity import LocalIdentityProvider
from devtools.local_client import set_up_clinic
from tests.e2e.conftest import Call, LocalStack, start_call

pytestmark = pytest.mark.e2e

OTHER = "clinic-elsewhere"


def refused_socket(
    stack: LocalStack, call_id: str, token: str, clinic_id: str | None = None
) -> int:
    with pytest.raises(InvalidStatus) as refused:
        stack.feed(call_id, token, clinic_id).open()
    status: int = refused.value.response.status_code
    return status


def test_the_patient_of_one_call_cannot_read_or_pay_another_calls_request(
    stack: LocalStack, call: Call
) -> None:
    other = start_call(stack)
    theirs = other.request_payment(stack.clinic_id)

    assert call.patient.get(f"/payment-requests/{theirs['id']}").status_code in {403, 404}
    assert call.patient.get(f"/calls/{other.call_id}/payment-requests").status_code in {403, 404}
    checkout = call.patient.post(
        f"/payment-requests/{theirs['id']}/checkout", {"email": "nosy@example.com"}
    )
    assert checkout.status_code in {403, 404}
    assert "client_secret" not in checkout.text
    assert refused_socket(stack, other.call_id, call.patient_token) == 403
    # Their own call still works.
    assert call.patient.get(f"/calls/{call.call_id}/payment-requests").status_code == 200


@pytest.fixture(scope="module")
def other_clinic(stack: LocalStack) -> str:
    """A clinic of another organisation, set up by its own admin through the clinic routes."""
    org_admin = stack.identity.token("admin-elsewhere", "org-elsewhere", "org_admin", [OTHER])
    account = set_up_clinic(stack.api(org_admin), OTHER, {"legal_name": "Elsewhere Clinic"})
    assert account["charges_enabled"]
    return OTHER


def test_a_clinician_of_another_clinic_is_refused_whatever_clinic_they_name(
    stack: LocalStack, call: Call, other_clinic: str
) -> None:
    request = call.request_payment(stack.clinic_id)
    token = stack.identity.token("dr-elsewhere", "org-elsewhere", "team_member", [other_clinic])
    stranger = stack.api(token)

    assert stranger.get(f"/payment-requests/{request['id']}").status_code == 403
    assert stranger.get(f"/calls/{call.call_id}/payment-requests").status_code == 403
    for clinic_id in (stack.clinic_id, other_clinic):
        created = stranger.post(
            f"/calls/{call.call_id}/payment-requests",
            {"clinic_id": clinic_id, "amount": 100, "currency": "aud", "description": "x"},
        )
        assert created.status_code == 403, created.text
        access = stranger.post(f"/calls/{call.call_id}/patient-access", {"clinic_id": clinic_id})
        assert access.status_code == 403, access.text
    assert stranger.post(f"/payment-requests/{request['id']}/cancel").status_code == 403
    assert refused_socket(stack, call.call_id, token, other_clinic) == 403


def test_an_expired_token_is_refused_by_the_gateway_the_functions_and_the_socket(
    stack: LocalStack, call: Call
) -> None:
    expired = stack.clinician_token(expires_in=-60)
    api = stack.api(expired)

    # A route behind the JWT authorizer: API Gateway answers, the Lambda never runs.
    answer = api.post(
        f"/calls/{call.call_id}/payment-requests",
        {"clinic_id": stack.clinic_id, "amount": 100, "currency": "aud", "description": "x"},
    )
    assert answer.status_code == 401 and answer.json() == {"message": "Unauthorized"}
    assert "expired" in answer.headers["www-authenticate"]
    # A route shared with patients: the function checks the JWT itself.
    answer = api.get(f"/calls/{call.call_id}/payment-requests")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "token_expired"
    assert refused_socket(stack, call.call_id, expired) == 401


def test_the_gateway_refuses_tokens_of_another_audience_issuer_or_key(
    stack: LocalStack, tmp_path: Path
) -> None:
    path = "/calls/call-any/patient-access"
    body = {"clinic_id": stack.clinic_id}
    foreign_key = LocalIdentityProvider.in_dir(tmp_path)
    for token in (
        stack.clinician_token(aud="another-api"),
        stack.clinician_token(iss="https://elsewhere.example/"),
        foreign_key.token("dr-e2e", stack.endpoints.demo_org_id, clinic_ids=[stack.clinic_id]),
        "not-a-jwt",
    ):
        answer = stack.api(token).post(path, body)
        assert answer.status_code == 401 and answer.json() == {"message": "Unauthorized"}
    assert stack.api(None).post(path, body).status_code == 401
