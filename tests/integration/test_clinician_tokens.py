"""Clinician JWTs checked in the Lambda against the identity provider's JWKS (over HTTP)."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

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


@pytest.mark.parametrize(
    "flaw", ["role_list", "role_object", "org_id_number", "alg_es256", "alg_hs256"]
)
def test_a_validly_signed_jwt_of_the_wrong_shape_is_401_over_the_real_jwks(
    stack: Stack, clinic: Clinic, flaw: str
) -> None:
    """Regression (500 before): a list or object `role`, a header `alg` its key does not
    have. On a route shared with patients, and on the feed's `$connect`."""
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    created = request_payment(clinic, call_id)
    claims = claims_for(clinic)
    token = {
        "role_list": lambda: stack.identity.token(claims | {"role": ["team_admin"]}),
        "role_object": lambda: stack.identity.token(claims | {"role": {"name": "team_admin"}}),
        "org_id_number": lambda: stack.identity.token(claims | {"org_id": 1}),
        "alg_es256": lambda: stack.identity.token(claims, headers={"alg": "ES256"}),
        "alg_hs256": lambda: stack.identity.token(claims, headers={"alg": "HS256"}),
    }[flaw]()
    for path in (f"/calls/{call_id}/payment-requests", f"/payment-requests/{created['id']}"):
        status, body = api(http_event("GET", path, token=token))
        assert (status, body["error"]["code"]) == (401, "invalid_token"), body
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{stack.gateway.ws_url}?{urlencode({'call_id': call_id, 'token': token})}")
    assert refused.value.response.status_code == 401
