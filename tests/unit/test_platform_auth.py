"""Service-to-service auth: the platform backend's client-credentials token, its scopes,
checked by the (local) JWT authorizer on backend-only routes and by the Lambda elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callpay.domain.access import (
    INVOICES_WRITE,
    WEBHOOK_ENDPOINTS_WRITE,
    Clinician,
    PlatformBackend,
    require_scope,
)
from callpay.domain.errors import Forbidden, Unauthenticated
from callpay.principals import platform_backend_of, platform_caller_of
from devtools.identity import AUDIENCE, ISSUER, LocalIdentityProvider
from devtools.jwt_authorizer import InsufficientScope, JwtAuthorizer
from tests.support.events import clinician_claims, http_event
from tests.support.fakes import tokens

BACKEND = {"sub": "platform-be", "client_id": "platform-be", "org_id": "org-1",
           "scope": f"{INVOICES_WRITE} openid"}  # fmt: skip


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"scope": "a b"}, {"a", "b"}),
        ({"scp": ["a", "b"]}, {"a", "b"}),
        ({"scp": "[a b]"}, {"a", "b"}),  # an array as API Gateway renders it
        ({}, set()),
    ],
)
def test_scopes_are_read_from_scope_or_scp(claims: dict[str, object], expected: set[str]) -> None:
    backend = platform_backend_of({"client_id": "platform-be", "org_id": "org-1", **claims})
    assert backend.scopes == expected


@pytest.mark.parametrize(
    "claims",
    [
        {"client_id": ["a"], "org_id": "org-1", "scope": "x"},
        {"client_id": "c", "org_id": {"o": 1}, "scope": "x"},
        {"client_id": "c", "org_id": "org-1", "scope": {"x": 1}},
        {"client_id": "c", "scope": "x"},
        {"org_id": "org-1", "scope": "x"},
    ],
)
def test_a_client_token_with_claims_missing_or_of_the_wrong_type_is_invalid(
    claims: dict[str, object],
) -> None:
    with pytest.raises(Unauthenticated) as refused:
        platform_backend_of(claims)
    assert refused.value.code == "invalid_token"


def test_a_token_with_scopes_and_no_role_is_the_platform_backend() -> None:
    caller = platform_caller_of(http_event("GET", "/x", claims=BACKEND), None)
    assert caller == PlatformBackend(
        client_id="platform-be", org_id="org-1", scopes=frozenset({INVOICES_WRITE, "openid"})
    )
    assert caller.sub == "client:platform-be"


def test_a_person_is_a_clinician_even_with_scopes() -> None:
    claims = clinician_claims(role="org_admin") | {"scope": INVOICES_WRITE}
    assert isinstance(platform_caller_of(http_event("GET", "/x", claims=claims), None), Clinician)


def test_a_backend_token_without_an_organisation_is_refused() -> None:
    claims = {k: v for k, v in BACKEND.items() if k != "org_id"}
    with pytest.raises(Unauthenticated):
        platform_caller_of(http_event("GET", "/x", claims=claims), None)


def test_patients_and_anonymous_callers_never_reach_platform_routes() -> None:
    with pytest.raises(Unauthenticated):
        platform_caller_of(http_event("GET", "/x"), None)
    patient, _ = tokens().mint("call-1", "clinic-1", datetime.now(UTC))
    with pytest.raises(Forbidden):
        platform_caller_of(http_event("GET", "/x", token=patient), None)


def test_require_scope_names_what_is_missing() -> None:
    backend = PlatformBackend("c", "org-1", frozenset({INVOICES_WRITE}))
    require_scope(backend, INVOICES_WRITE)
    with pytest.raises(Forbidden) as refused:
        require_scope(backend, WEBHOOK_ENDPOINTS_WRITE)
    assert refused.value.code == "insufficient_scope"


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> LocalIdentityProvider:
    return LocalIdentityProvider.in_dir(tmp_path_factory.mktemp("idp"))


def test_the_local_authorizer_admits_a_token_with_one_of_the_routes_scopes(
    identity: LocalIdentityProvider,
) -> None:
    authorizer = JwtAuthorizer(ISSUER, [AUDIENCE], identity.jwks())
    token = identity.client_token("platform-be", "org-1", [INVOICES_WRITE])
    claims = authorizer.authorize(f"Bearer {token}", (INVOICES_WRITE, "other"))
    assert claims["scope"] == INVOICES_WRITE and claims["client_id"] == "platform-be"


def test_the_local_authorizer_refuses_a_valid_token_without_the_scope_as_403(
    identity: LocalIdentityProvider,
) -> None:
    authorizer = JwtAuthorizer(ISSUER, [AUDIENCE], identity.jwks())
    people = identity.token("admin", "org-1", "org_admin", ["clinic-1"])
    backend = identity.client_token("platform-be", "org-1", ["callpay/invoices.read"])
    for token in (people, backend):
        with pytest.raises(InsufficientScope) as refused:
            authorizer.authorize(f"Bearer {token}", (INVOICES_WRITE,))
        assert 'error="insufficient_scope"' in refused.value.www_authenticate
        assert INVOICES_WRITE in refused.value.www_authenticate
    # Routes that name no scope admit both.
    assert authorizer.authorize(f"Bearer {people}")["role"] == "org_admin"
