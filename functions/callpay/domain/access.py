"""Who may act on what: clinicians by their clinics, patients by the one call they were let
into, the platform's own backend by its organisation and the scopes it was granted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from callpay.domain.errors import Forbidden

Role = Literal["team_member", "team_admin", "org_admin"]
ROLES: frozenset[str] = frozenset({"team_member", "team_admin", "org_admin"})
ADMIN_ROLES: frozenset[str] = frozenset({"team_admin", "org_admin"})


@dataclass(frozen=True, slots=True)
class Clinician:
    """A clinician or admin, as the video platform's identity provider describes them."""

    sub: str
    org_id: str
    role: Role
    clinic_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class Patient:
    """The patient of one call, holding a call-scoped access token; with a pay-later link,
    scoped further to one payment request of that call."""

    call_id: str
    clinic_id: str
    token_id: str
    payment_request_id: str | None = None
    # The platform's reference of the patient, when the clinician named them.
    patient_ref: str | None = None

    def may_see(self, call_id: str, payment_request_id: str) -> bool:
        return self.call_id == call_id and self.payment_request_id in {None, payment_request_id}

    @property
    def sub(self) -> str:
        return f"patient:{self.token_id}"


@dataclass(frozen=True, slots=True)
class PlatformBackend:
    """The video platform's own backend, by a client-credentials token from the same
    identity provider: acts for its organisation's clinics within its scopes."""

    client_id: str
    org_id: str
    scopes: frozenset[str]

    @property
    def sub(self) -> str:
        return f"client:{self.client_id}"


Principal = Clinician | Patient
# Who may call the platform routes (invoices, webhook endpoints): people or the backend.
PlatformCaller = Clinician | PlatformBackend

# The scopes a platform backend's token carries (docs/http-api.md, "Platform backends").
INVOICES_WRITE = "callpay/invoices.write"
INVOICES_READ = "callpay/invoices.read"
WEBHOOK_ENDPOINTS_WRITE = "callpay/webhook-endpoints.write"
PAY_LINKS_WRITE = "callpay/pay-links.write"
SCOPES = frozenset({INVOICES_WRITE, INVOICES_READ, WEBHOOK_ENDPOINTS_WRITE, PAY_LINKS_WRITE})


def acts_for_clinic(clinician: Clinician, clinic_id: str, clinic_org_id: str | None) -> bool:
    """Members and clinic admins act for their own clinics; org admins for any of their org's."""
    if clinic_id in clinician.clinic_ids:
        return clinic_org_id is None or clinic_org_id == clinician.org_id
    return clinician.role == "org_admin" and clinic_org_id == clinician.org_id


def require_clinician(principal: Principal) -> Clinician:
    if not isinstance(principal, Clinician):
        raise Forbidden("clinician_only", "Only a clinician of this call can do this.")
    return principal


def require_admin(principal: Principal) -> Clinician:
    """Refunds and clinic settings: clinic admins and organisation admins only."""
    clinician = require_clinician(principal)
    if clinician.role not in ADMIN_ROLES:
        raise Forbidden("admin_only", "Only a clinic or organisation admin can do this.")
    return clinician


def require_patient(principal: Principal) -> Patient:
    if not isinstance(principal, Patient):
        raise Forbidden("patient_only", "Only the patient of this call can do this.")
    return principal


def check_clinic(clinician: Clinician, clinic_id: str, clinic_org_id: str | None) -> None:
    if not acts_for_clinic(clinician, clinic_id, clinic_org_id):
        raise Forbidden("not_your_clinic", "You do not belong to this call's clinic.")


def check_call(
    principal: Principal, call_id: str, call_clinic_id: str, clinic_org_id: str | None
) -> None:
    """Anyone acting on a call must belong to the clinic it is bound to (or be its patient)."""
    if isinstance(principal, Patient):
        if principal.call_id != call_id or principal.clinic_id != call_clinic_id:
            raise Forbidden("not_your_call", "This access token is for another call.")
        return
    check_clinic(principal, call_clinic_id, clinic_org_id)


def check_backend_clinic(backend: PlatformBackend, org_id: str | None, *accepted: str) -> None:
    """The platform's backend acts for the clinics of its own organisation (`org_id`: the
    clinic's), with one of `accepted` in its token."""
    if backend.org_id != org_id:
        raise Forbidden("not_your_clinic", "This clinic is another organisation's.")
    require_scope(backend, *accepted)


def require_scope(backend: PlatformBackend, *accepted: str) -> None:
    """The backend's token must carry one of `accepted` (API Gateway checks the same on the
    routes only backends call; on routes shared with people the Lambda checks it)."""
    if not backend.scopes & set(accepted):
        raise Forbidden(
            "insufficient_scope", f"This needs a token with the scope {' or '.join(accepted)}."
        )
