"""Every route x every kind of caller, with the status each must get.

The table of routes below is checked against the API's route tables, so a new route
cannot be added without saying here who may call it. Calls go through the real handlers
(as the Lambda sees them: at the gateway, a JWT-authorized route would refuse a missing
or non-IdP token with 401 even before the Lambda).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from callpay.api_models import PaymentRequestIn
from callpay.domain.access import SCOPES, Clinician
from callpay.domain.invoice import Invoice
from callpay.domain.payment_request import CardConsent, LineItem
from callpay.domain.saved_card import SavedCard
from callpay.domain.stripe_objects import StripeEvent
from clinic_admin.handler import lambda_handler as clinic_admin
from infra.http_api import (
    CLINIC_ROUTES,
    PAYMENT_REQUEST_ROUTES,
    PLATFORM_ROUTES,
    STRIPE_WEBHOOK_ROUTES,
)
from platform_api import composition as platform_api_parts
from platform_api.handler import lambda_handler as platform_api
from request_payment.handler import lambda_handler as request_payment
from stripe_webhook.handler import lambda_handler as stripe_webhook
from tests.support.events import LambdaContext, clinician_claims, http_event
from tests.support.fakes import tokens
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World


@dataclass(frozen=True)
class RouteCase:
    key: str  # "METHOD /path/{param}" as in the route tables
    who: str  # the policy: see expected()
    success: int
    body: Any = None
    target: str = "open"  # which payment request {id} names: "open", "paid" or "held"
    variant: str = ""


INVOICE = {"patient": "pat-1", "issued_on": "2026-11-01", "currency": "aud",
           "lines": [{"description": "Consultation", "amount": 8000}], "total": 8000}  # fmt: skip

ROUTES = [
    RouteCase("POST /calls/{call_id}/patient-access", "clinician", 201, {"clinic_id": "clinic-1"}),
    RouteCase("POST /calls/{call_id}/payment-requests", "clinician", 201,
              {"clinic_id": "clinic-1", "amount": 5000, "currency": "aud", "description": "x"}),
    RouteCase("GET /calls/{call_id}/payment-requests", "viewer", 200),
    RouteCase("GET /payment-requests/{id}", "viewer", 200),
    RouteCase("POST /payment-requests/{id}/checkout", "patient", 200, {"email": "p@example.com"}),
    RouteCase("POST /payment-requests/{id}/cancel", "clinician", 200),
    RouteCase("POST /payment-requests/{id}/capture", "clinician", 200, {"amount": 6000},
              target="held"),
    RouteCase("POST /payment-requests/{id}/reauthorize", "clinician", 200, target="held"),
    RouteCase("POST /payment-requests/{id}/pay-link", "pay_link", 202,
              {"email": "p@example.com"}),
    RouteCase("POST /calls/{call_id}/no-show-fees", "clinician", 201,
              {"clinic_id": "clinic-1", "patient_ref": "patient-1"}),
    RouteCase("POST /payment-requests/{id}/refunds", "admin", 200, {"reason": "duplicate"},
              target="paid"),
    RouteCase("GET /payment-requests/{id}/receipt", "viewer", 200, target="paid"),
    RouteCase("POST /webhooks/stripe", "stripe", 400, {"id": "evt_1"}),
    RouteCase("GET /clinics/{clinic_id}/settings", "admin", 200),
    RouteCase("PUT /clinics/{clinic_id}/settings", "admin", 200, {"legal_name": "Harbour"}),
    RouteCase("PUT /clinics/{clinic_id}/settings", "org_admin", 200, {"enabled": True},
              variant="enable"),
    RouteCase("POST /clinics/{clinic_id}/stripe-account/link", "admin", 200),
    RouteCase("GET /clinics/{clinic_id}/stripe-account", "admin", 200),
    RouteCase("DELETE /clinics/{clinic_id}/stripe-account", "admin", 200),
    RouteCase("GET /clinics/{clinic_id}/payments", "admin", 200),
    RouteCase("GET /clinics/{clinic_id}/audit", "admin", 200),
    RouteCase("GET /payment-requests/{id}/audit", "admin", 200, target="paid"),
    RouteCase("PUT /clinics/{clinic_id}/invoices/{invoice_id}", "invoices_write", 201, INVOICE,
              variant="new"),
    RouteCase("GET /clinics/{clinic_id}/invoices", "invoices_read", 200),
    RouteCase("GET /clinics/{clinic_id}/invoices/{invoice_id}", "invoices_read", 200,
              target="invoice"),
    RouteCase("POST /orgs/{org_id}/webhook-endpoints", "endpoints", 201,
              {"url": "https://emr.example.com/hooks"}),
    RouteCase("GET /orgs/{org_id}/webhook-endpoints", "endpoints", 200),
    RouteCase("DELETE /orgs/{org_id}/webhook-endpoints/{endpoint_id}", "endpoints", 204),
    RouteCase("POST /orgs/{org_id}/webhook-endpoints/{endpoint_id}/replay", "endpoints", 202),
]  # fmt: skip

# Callers: role and where they stand relative to clinic-1 (org-1), which owns call-1.
PLACES = (("own", "org-1", "clinic-1"), ("other_clinic", "org-1", "clinic-2"),
          ("other_org", "org-2", "clinic-x"))  # fmt: skip
CLINICIANS = {
    f"{role}/{place}": clinician_claims(sub=f"{role}-{place}", role=role, org_id=org, clinics=c)
    for role in ("team_member", "team_admin", "org_admin")
    for place, org, c in PLACES
}
# The platform's backend (client credentials): its organisation and its scopes.
BACKENDS = {
    "backend/all_scopes": {
        "sub": "emr",
        "client_id": "emr",
        "org_id": "org-1",
        "scope": " ".join(SCOPES),
    },
    "backend/no_scope": {"sub": "emr", "client_id": "emr", "org_id": "org-1", "scope": "openid"},
    "backend/other_org": {
        "sub": "emr2",
        "client_id": "emr2",
        "org_id": "org-2",
        "scope": " ".join(SCOPES),
    },
}
CALLERS = [*CLINICIANS, *BACKENDS, "patient", "patient/other_call", "no_token"]


def expected(case: RouteCase, caller: str) -> int:
    if case.who == "stripe":
        return case.success  # no signature: 400 whoever calls
    if caller == "no_token":
        return 401
    if caller.startswith("backend/"):
        # Only platform routes take the backend; its own organisation, with the scope.
        if case.who not in BACKEND_POLICIES:
            return 400 if case.who == "stripe" else 403
        return case.success if caller == "backend/all_scopes" else 403
    if caller.startswith("patient"):
        if case.who not in {"patient", "viewer"}:
            return 403
        if caller == "patient":
            return case.success
        # another call's patient: a request of this call is "not found" for them
        return 404 if "/payment-requests/{id}" in case.key else 403
    role, place = caller.split("/")
    acts_for_clinic_1 = place == "own" or (role == "org_admin" and place == "other_clinic")
    allowed = {
        "clinician": True,
        "pay_link": True,  # the call's clinicians, or the backend (callpay/pay-links.write)
        "viewer": True,
        "patient": False,
        "admin": role in {"team_admin", "org_admin"},
        "org_admin": role == "org_admin",
        "endpoints": role == "org_admin",
        # Invoices come from the platform's backend; the clinic's people read them.
        "invoices_write": False,
        "invoices_read": True,
    }[case.who]
    return case.success if allowed and acts_for_clinic_1 else 403


# Policies of routes a platform backend may call (with its organisation and scope).
BACKEND_POLICIES = {"endpoints", "invoices_write", "invoices_read", "pay_link"}


def test_the_matrix_covers_every_route_of_the_api() -> None:
    routed = {r.key for r in (*PAYMENT_REQUEST_ROUTES, *CLINIC_ROUTES, *STRIPE_WEBHOOK_ROUTES,
                              *PLATFORM_ROUTES)}  # fmt: skip
    assert {case.key for case in ROUTES} == routed


def prepared(world: World) -> dict[str, str]:
    """call-1 (clinic-1) with an open, a paid and a held request; a token for call-1's
    patient; a card patient-1 agreed to keep under clinic-1's no-show policy."""
    world.service.patient_page_url = "https://pay.example.com/pay/"
    world.store.clinics["clinic-1"] = world.store.clinics["clinic-1"].model_copy(
        update={"no_show_fee": 4500, "no_show_policy": "45 for a no-show.",
                "no_show_policy_version": 1}
    )  # fmt: skip
    consent = CardConsent(
        policy_version=1, policy_sha256="0" * 64, fee=4500, currency="aud",
        agreed_at=datetime.now(UTC), payment_request_id="pr_old",
    )  # fmt: skip
    world.store.saved_cards[("clinic-1", "patient-1")] = SavedCard(
        clinic_id="clinic-1", patient_ref="patient-1", customer_id="cus_1",
        payment_method_id="pm_1", consent=consent, saved_at=datetime.now(UTC),
        receipt_email="p@example.com",
    )  # fmt: skip
    clinician = Clinician(
        sub="c", org_id="org-1", role="team_member", clinic_ids=frozenset({"clinic-1"})
    )
    body = PaymentRequestIn(clinic_id="clinic-1", amount=8000, currency="aud", description="x")
    open_request, _ = world.service.create(clinician, "call-1", body, None)
    paid_request, _ = world.service.create(clinician, "call-1", body, None)
    hold = body.model_copy(update={"capture_method": "manual"})
    held_request, _ = world.service.create(clinician, "call-1", hold, None)
    authorized = intent_event(
        "payment_intent.amount_capturable_updated", str(held_request.payment_intent_id),
        held_request.id,
    )  # fmt: skip
    world.events.apply(StripeEvent.model_validate(authorized))
    event = intent_event(
        "payment_intent.succeeded", str(paid_request.payment_intent_id), paid_request.id
    )
    world.events.apply(StripeEvent.model_validate(event))
    now = datetime.now(UTC)
    boss = Clinician(sub="boss", org_id="org-1", role="org_admin", clinic_ids=frozenset())
    endpoint, _ = platform_api_parts.webhook_endpoints().register(
        boss, "org-1", "https://emr.example.com/hooks", None, []
    )
    world.store.invoices[("clinic-1", "inv-1")] = Invoice(
        clinic_id="clinic-1", id="inv-1", patient="pat-1", issued_on=now.date(), currency="aud",
        lines=(LineItem(description="Consultation", amount=8000),), total=8000,
        created_at=now, updated_at=now,
    )  # fmt: skip
    return {
        "invoice": "inv-1",
        "endpoint": endpoint.id,
        "open": open_request.id,
        "paid": paid_request.id,
        "held": held_request.id,
        "patient": tokens().mint("call-1", "clinic-1", now)[0],
        "patient/other_call": tokens().mint("call-2", "clinic-1", now)[0],
    }


HANDLERS = {
    **{route.key: request_payment for route in PAYMENT_REQUEST_ROUTES},
    **{route.key: stripe_webhook for route in STRIPE_WEBHOOK_ROUTES},
    **{route.key: clinic_admin for route in CLINIC_ROUTES},
    **{route.key: platform_api for route in PLATFORM_ROUTES},
}


def handler_for(key: str) -> Any:
    """The function infra routes the key to."""
    return HANDLERS[key]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("case", ROUTES, ids=lambda c: f"{c.key} {c.variant}".strip())
def test_who_gets_what(world: World, case: RouteCase, caller: str) -> None:
    ids = prepared(world)
    method, template = case.key.split(" ")
    path = (
        template.replace("{call_id}", "call-1")
        .replace("{clinic_id}", "clinic-1")
        .replace("{id}", ids[case.target])
        .replace("{org_id}", "org-1")
        .replace("{endpoint_id}", ids["endpoint"])
        .replace("{invoice_id}", "inv-new" if case.variant == "new" else ids["invoice"])
    )
    kw: dict[str, Any] = {"headers": {"idempotency-key": f"key-{caller}"}}
    if caller in CLINICIANS:
        kw["claims"] = CLINICIANS[caller]
    elif caller in BACKENDS:
        kw["claims"] = BACKENDS[caller]
    elif caller.startswith("patient"):
        kw["token"] = ids[caller]
    response = handler_for(case.key)(http_event(method, path, case.body, **kw), LambdaContext())
    assert response["statusCode"] == expected(case, caller), response.get("body")
