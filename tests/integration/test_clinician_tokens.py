"""Clinician JWTs checked in the Lambda against the identity provider's JWKS (over HTTP)."""

from __future__ import annotations

import uuid

import pytest

from callpay.domain.clinic import Clinic
from tests.integration.conftest import Stack, claims_for
from tests.integration.test_payment_loop import api, request_payment
from tests.support.events import http_event
from tests.support.identity_provider import IdentityProvider

pytestmark = pytest.mark.integration


def list_with(token: str, call_id: str) -> tuple[int, dict[str, object]]:
    return api(http_event("GET", f"/calls/{call_id}/payment-requests", token=token))


def test_clinician_jwt_is_accepted_on_a_route_shared_with_patients(
    stack: Stack, clinic: Clinic
) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    created = request_payment(clinic, call_id)
    status, body = list_with(stack.identity.token(claims_for(clinic)), call_id)
    assert status == 200
    assert [r["id"] for r in body["payment_requests"]] == [created["id"]]  # type: ignore[attr-defined]


def test_clinician_of_another_clinic_with_a_valid_jwt_is_403(stack: Stack, clinic: Clinic) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    request_payment(clinic, call_id)
    stranger = claims_for(clinic) | {"sub": "other", "clinic_ids": "clinic-elsewhere"}
    assert list_with(stack.identity.token(stranger), call_id)[0] == 403


@pytest.mark.parametrize("flaw", ["expired", "audience", "issuer", "other_key", "no_sub"])
def test_unverifiable_clinician_jwt_is_401(stack: Stack, clinic: Clinic, flaw: str) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    request_payment(clinic, call_id)
    claims = claims_for(clinic)
    if flaw == "expired":
        token = stack.identity.token(claims, expires_in=-60)
    elif flaw == "audience":
        token = stack.identity.token(claims, aud="someone-else")
    elif flaw == "issuer":
        token = stack.identity.token(claims, iss="https://evil.example/")
    elif flaw == "other_key":
        impostor = IdentityProvider()
        impostor.kid = stack.identity.kid  # same key id, different key
        token = impostor.token(claims)
        impostor.close()
    else:
        token = stack.identity.token({k: v for k, v in claims.items() if k != "sub"})
    status, body = list_with(token, call_id)
    assert status == 401, body
