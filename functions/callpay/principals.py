"""Who is calling: a clinician from the JWT authorizer's claims, a patient's access token,
or (on the platform routes) the platform's backend by its client-credentials token."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import jwt

from callpay.adapters.patient_tokens import ISSUER as PATIENT_TOKEN_ISSUER
from callpay.domain.access import (
    ROLES,
    Clinician,
    Patient,
    PlatformBackend,
    PlatformCaller,
    Principal,
    Role,
)
from callpay.domain.errors import Forbidden, Unauthenticated
from callpay.ports import ClinicianTokens, PatientTokens


def clinic_ids_of(claim: object) -> frozenset[str]:
    """`clinic_ids` is space-separated; API Gateway renders array claims as "[a b]" too."""
    if isinstance(claim, list):
        return frozenset(str(c) for c in claim if c)
    text = str(claim or "").strip().strip("[]")
    return frozenset(part for part in re.split(r"[\s,]+", text) if part)


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """OAuth scopes: `scope` space-separated (RFC 9068), or `scp` as a list or a string
    (Okta, Azure); the JWT authorizer renders a list as "[a b]"."""
    claim = claims.get("scope", claims.get("scp"))
    if isinstance(claim, list):
        return frozenset(str(s) for s in claim if s)
    return frozenset(part for part in str(claim or "").strip("[]").split() if part)


def is_client_credentials(claims: Mapping[str, Any]) -> bool:
    """A token issued to a client (no person behind it): scopes and no `role`."""
    return "role" not in claims and bool(scopes_of(claims))


def platform_backend_of(claims: Mapping[str, Any]) -> PlatformBackend:
    """The client's id is `client_id` (Cognito, Okta), else `azp`, else `sub`; `org_id` is
    the organisation the identity provider issued the client's credentials for."""
    client_id = claims.get("client_id") or claims.get("azp") or claims.get("sub")
    org_id = claims.get("org_id")
    if not client_id or not org_id:
        raise Unauthenticated("invalid_token", "The token has no client or organisation.")
    return PlatformBackend(client_id=str(client_id), org_id=str(org_id), scopes=scopes_of(claims))


def clinician_of(claims: Mapping[str, Any]) -> Clinician:
    sub, org_id, role = claims.get("sub"), claims.get("org_id"), claims.get("role")
    if not sub or not org_id:
        raise Unauthenticated("invalid_token", "The token has no subject or organisation.")
    if role not in ROLES:
        raise Forbidden("unknown_role", "This role cannot use payments.")
    return Clinician(
        sub=str(sub),
        org_id=str(org_id),
        role=cast(Role, role),
        clinic_ids=clinic_ids_of(claims.get("clinic_ids")),
    )


def bearer_token(headers: Mapping[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def is_patient_token(token: str) -> bool:
    """Patient tokens are ours (issuer `callpay`); anything else is the IdP's to judge."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return bool(unverified.get("iss") == PATIENT_TOKEN_ISSUER)


def principal_of(
    event: Mapping[str, Any], patients: PatientTokens, clinicians: ClinicianTokens | None
) -> Principal:
    """The caller of an API Gateway HTTP API (v2) event.

    Routes behind the JWT authorizer carry the verified claims in the request context.
    On routes shared with patients there is no authorizer: the bearer token is either the
    call-scoped patient token (`POST /calls/{id}/patient-access`) or a clinician's JWT,
    verified here against the identity provider's keys.
    """
    context = event.get("requestContext") or {}
    claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims")
    if claims:
        return clinician_of(claims)
    token = bearer_token(event.get("headers") or {})
    if token is None:
        raise Unauthenticated("missing_token", "Send an access token as 'Authorization: Bearer'.")
    return principal_of_token(token, patients, clinicians)


def principal_of_token(
    token: str, patients: PatientTokens, clinicians: ClinicianTokens | None
) -> Principal:
    """A patient's call-scoped token, or a clinician's identity provider JWT."""
    if is_patient_token(token) or clinicians is None:
        call_id, clinic_id, token_id = patients.verify(token)
        return Patient(call_id=call_id, clinic_id=clinic_id, token_id=token_id)
    return clinician_of(clinicians.verify(token))


def platform_caller_of(
    event: Mapping[str, Any], clinicians: ClinicianTokens | None
) -> PlatformCaller:
    """The caller of a platform route (invoices, webhook endpoints): an admin's JWT or the
    platform backend's client-credentials token, never a patient."""
    context = event.get("requestContext") or {}
    claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims")
    if not claims:
        # Behind the JWT authorizer in AWS; verified here when the event comes without it.
        token = bearer_token(event.get("headers") or {})
        if token is None:
            raise Unauthenticated(
                "missing_token", "Send an access token as 'Authorization: Bearer'."
            )
        if is_patient_token(token) or clinicians is None:
            raise Forbidden("clinician_only", "Patients cannot use this route.")
        claims = clinicians.verify(token)
    if is_client_credentials(claims):
        return platform_backend_of(claims)
    return clinician_of(claims)
