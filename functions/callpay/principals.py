"""Who is calling: a clinician from the identity provider's claims, a patient's access
token, or (on the platform routes) the platform's backend by its client-credentials token.
Claims are parsed into a strict model: a claim missing or of the wrong type is a 401
`invalid_token`, never a crash further in.

The claims come two ways. API Gateway's JWT authorizer hands them on as strings (an array
as "[a b]", an object as JSON); the Lambda's own verification (routes shared with patients,
`$connect`) gives them as the token has them. Both read the same here; a scalar claim that
arrives as a rendered array or object is the wrong type either way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StrictStr,
    StringConstraints,
    ValidationError,
)

from callpay.adapters.patient_tokens import ISSUER as PATIENT_TOKEN_ISSUER
from callpay.domain.access import (
    ROLES,
    Clinician,
    PlatformBackend,
    PlatformCaller,
    Principal,
    Role,
)
from callpay.domain.errors import Forbidden, Unauthenticated
from callpay.ports import ClinicianTokens, PatientTokens

MAX_CLINICS = 1000
# A JWT is a few hundred bytes to a few KB; API Gateway takes at most 10 KB of headers.
MAX_TOKEN_CHARS = 10 * 1024


def _not_rendered(value: str) -> str:
    if value[:1] + value[-1:] in {"[]", "{}"}:
        raise ValueError("an array or object where a string belongs")
    return value


def _not_an_object(value: str | list[str] | None) -> str | list[str] | None:
    # "[a b]" is how the authorizer renders the array form of clinic_ids: that one is fine.
    if isinstance(value, str) and value[:1] + value[-1:] == "{}":
        raise ValueError("an object where clinic ids belong")
    return value


# No control characters: these end up in audit trails and composite keys.
ClaimText = Annotated[
    StrictStr,
    StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$"),
    AfterValidator(_not_rendered),
]
ClinicIds = Annotated[
    StrictStr | list[Annotated[StrictStr, StringConstraints(max_length=256)]] | None,
    AfterValidator(_not_an_object),
]


class ClinicianClaims(BaseModel):
    """The claims callpay reads (DESIGN.md, "Auth"); any other claim is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sub: ClaimText
    org_id: ClaimText
    role: ClaimText
    clinic_ids: ClinicIds = None


def clinic_ids_of(claim: str | list[str] | None) -> frozenset[str]:
    """`clinic_ids` is space-separated; API Gateway renders array claims as "[a b]" too."""
    if isinstance(claim, list):
        parts = claim
    else:
        parts = re.split(r"[\s,]+", (claim or "").strip().strip("[]"))
    ids = frozenset(part for part in parts if part)
    if len(ids) > MAX_CLINICS:
        raise Unauthenticated("invalid_token", f"The token names over {MAX_CLINICS} clinics.")
    return ids


Scopes = Annotated[
    StrictStr | list[Annotated[StrictStr, StringConstraints(max_length=256)]] | None,
    AfterValidator(_not_an_object),
]


class PlatformClaims(BaseModel):
    """The claims of a client-credentials token: the client's id is `client_id` (Cognito,
    Okta), else `azp`, else `sub`; `org_id` is the organisation the identity provider
    issued the credentials for; scopes are `scope` (RFC 9068) or `scp` (Okta, Azure)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    client_id: ClaimText | None = None
    azp: ClaimText | None = None
    sub: ClaimText | None = None
    org_id: ClaimText
    scope: Scopes = None
    scp: Scopes = None


def scopes_of(claim: str | list[str] | None) -> frozenset[str]:
    """Scopes space-separated, or a list; the JWT authorizer renders a list as "[a b]"."""
    if isinstance(claim, list):
        return frozenset(s for s in claim if s)
    return frozenset(part for part in (claim or "").strip("[]").split() if part)


def is_client_credentials(claims: Mapping[str, Any]) -> bool:
    """A token issued to a client (no person behind it): scopes and no `role`."""
    return "role" not in claims and bool(claims.get("scope") or claims.get("scp"))


def platform_backend_of(claims: Mapping[str, Any]) -> PlatformBackend:
    try:
        parsed = PlatformClaims.model_validate(claims)
    except ValidationError as error:
        names = ", ".join(sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]}))
        message = f"The token's claims are missing or of the wrong type: {names or 'all'}."
        raise Unauthenticated("invalid_token", message) from None
    client_id = parsed.client_id or parsed.azp or parsed.sub
    if client_id is None:
        raise Unauthenticated("invalid_token", "The token names no client.")
    scopes = scopes_of(parsed.scope if parsed.scope is not None else parsed.scp)
    return PlatformBackend(client_id=client_id, org_id=parsed.org_id, scopes=scopes)


def clinician_of(claims: Mapping[str, Any]) -> Clinician:
    if is_client_credentials(claims):
        # A valid token, but a machine's: the platform backend has routes of its own.
        raise Forbidden("person_only", "The platform backend's token cannot be used here.")
    try:
        parsed = ClinicianClaims.model_validate(claims)
    except ValidationError as error:
        names = ", ".join(sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]}))
        message = f"The token's claims are missing or of the wrong type: {names or 'all'}."
        raise Unauthenticated("invalid_token", message) from None
    if parsed.role not in ROLES:
        raise Forbidden("unknown_role", "This role cannot use payments.")
    return Clinician(
        sub=parsed.sub,
        org_id=parsed.org_id,
        role=cast(Role, parsed.role),
        clinic_ids=clinic_ids_of(parsed.clinic_ids),
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
    import jwt  # noqa: PLC0415 - only for bearer tokens: claims from API Gateway need none

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
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated("invalid_token", "The access token is too long to be one.")
    if is_patient_token(token) or clinicians is None:
        return patients.verify(token)
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
