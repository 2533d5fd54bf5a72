"""What each HTTP operation takes and every answer it can give, as data: the part of the
contract the route tables (infra/http_api.py) do not say. devtools/openapi.py joins the two
into the OpenAPI document (docs/openapi.json); the tests hold every handler's answers to it.

Codes listed here are the ones particular to an operation; those every operation of a kind
shares (a path id, a bearer token, a body, a call to Stripe) are added by `refusals`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from callpay import api_models as m
from callpay.domain.access import (
    INVOICES_READ,
    INVOICES_WRITE,
    PAY_LINKS_WRITE,
    WEBHOOK_ENDPOINTS_WRITE,
)
from callpay.http_api import IDEMPOTENCY_KEY_PATTERN, Query

# Security schemes (their definitions are in devtools/openapi.py).
IDENTITY_PROVIDER = "identityProvider"
# The platform's backend: a client-credentials token of the same identity provider.
PLATFORM_CLIENT = "platformClient"
PATIENT_TOKEN = "patientToken"  # noqa: S105 - a security scheme's name
STRIPE_SIGNATURE = "stripeSignature"
Security = tuple[str, ...]  # alternatives: any one of them

JSON = "application/json"
NO_CONTENT = ""  # a 204: no body at all


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="For programs: stable, one of the operation's codes.")
    message: str = Field(description="For people: what went wrong, never echoing input.")


class Error(BaseModel):
    """Every refusal of callpay's: a 4xx the client can act on, or a 503 to retry."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


class InternalErrorDetail(ErrorDetail):
    code: Literal["internal_error"]
    error_id: str = Field(description="Quote it to support: it names our log line.")


class InternalError(BaseModel):
    """Our fault (500): the error id is in the answer and in our log."""

    model_config = ConfigDict(extra="forbid")

    error: InternalErrorDetail


class GatewayMessage(BaseModel):
    """An answer of API Gateway itself, not of callpay (its JWT authorizer's 401)."""

    message: str


@dataclass(frozen=True)
class Success:
    status: int
    description: str
    model: type[BaseModel] | None = None
    content_type: str = JSON
    # Response headers: name -> description.
    headers: Mapping[str, str] = field(default_factory=dict)
    # Operations that take the answer's `id` as their path's {id} (OpenAPI links).
    links: tuple[str, ...] = ()
    # Other statuses answered with the same body (an upsert: 201 new, 200 changed).
    also: tuple[int, ...] = ()


@dataclass(frozen=True)
class Operation:
    operation_id: str
    summary: str
    description: str
    tag: str
    security: Security
    success: Success
    body: type[BaseModel] | None = None
    query: type[Query] | None = None
    idempotency_key: Literal["optional", "required"] | None = None
    accept_language: bool = False
    calls_stripe: bool = False
    # The platform client's scopes, any one of which admits it (with PLATFORM_CLIENT).
    scopes: tuple[str, ...] = ()
    # Status -> codes particular to this operation.
    refusals: Mapping[int, tuple[str, ...]] = field(default_factory=dict)


VIEWERS: Security = (IDENTITY_PROVIDER, PATIENT_TOKEN)
CLINICIANS: Security = (IDENTITY_PROVIDER,)
PEOPLE_OR_PLATFORM: Security = (IDENTITY_PROVIDER, PLATFORM_CLIENT)
ENDPOINT_REFUSALS: Mapping[int, tuple[str, ...]] = {
    403: ("org_admin_only", "insufficient_scope", "not_your_organisation"),
}
REQUEST_VIEW = "The payment request as clinicians and patients see it."
NOT_FOUND = {404: ("payment_request_not_found",)}

# Keyed by route key, as infra/http_api.py names the routes.
OPERATIONS: Mapping[str, Operation] = {
    "POST /calls/{call_id}/patient-access": Operation(
        "grantPatientAccess",
        "Let the call's patient in",
        "A call-scoped token for the patient's app, and the hosted pay page's link with the "
        "token in its fragment. The first use of a call binds it to the clinic named.",
        "payment requests",
        CLINICIANS,
        Success(201, "The patient's access.", m.PatientAccessOut),
        body=m.PatientAccessIn,
        refusals={
            403: ("not_your_clinic", "call_of_another_clinic"),
            409: ("payments_not_enabled",),
        },
    ),
    "POST /calls/{call_id}/payment-requests": Operation(
        "createPaymentRequest",
        "Ask the patient for a payment",
        "Creates the payment request (and its PaymentIntent on the clinic's Stripe account). "
        "The same Idempotency-Key returns the same request, never a second charge.",
        "payment requests",
        CLINICIANS,
        Success(
            201,
            "Created (or replayed for the same Idempotency-Key).",
            m.PaymentRequestOut,
            headers={
                "Location": "The new request's path.",
                "Idempotent-Replayed": "`true` when the key's request is returned.",
            },
            links=(
                "getPaymentRequest",
                "checkout",
                "cancelPaymentRequest",
                "capturePayment",
                "refundPayment",
                "getReceipt",
            ),
        ),
        body=m.PaymentRequestIn,
        idempotency_key="optional",
        calls_stripe=True,
        refusals={
            403: ("not_your_clinic", "call_of_another_clinic"),
            404: ("invoice_not_found",),
            409: (
                "payments_not_enabled",
                "stripe_account_not_linked",
                "stripe_account_not_ready",
                "invoice_not_payable",
            ),
            422: (
                "invoices_of_several_patients",
                "invoice_currency_mismatch",
                "unsupported_currency",
                "currency_not_accepted",
                "amount_too_small",
                "amount_too_large",
                "amount_below_clinic_minimum",
                "amount_above_clinic_maximum",
                "invalid_amount",
                "whole_units_only",
                "line_items_mismatch",
                "idempotency_key_reused",
            ),
            503: ("store_busy",),
        },
    ),
    "GET /calls/{call_id}/payment-requests": Operation(
        "listPaymentRequests",
        "A call's payment requests",
        "Newest first.",
        "payment requests",
        VIEWERS,
        Success(200, "The call's payment requests.", m.PaymentRequestsOut),
        refusals={403: ("not_your_call", "not_your_clinic", "clinician_only")},
    ),
    "GET /payment-requests/{id}": Operation(
        "getPaymentRequest",
        "One payment request",
        "A patient of another call gets 404, as for a request that does not exist.",
        "payment requests",
        VIEWERS,
        Success(200, REQUEST_VIEW, m.PaymentRequestOut),
        refusals={403: ("not_your_clinic", "not_your_call"), **NOT_FOUND},
    ),
    "POST /payment-requests/{id}/checkout": Operation(
        "checkout",
        "Pay now (the patient)",
        "The PaymentIntent's client secret for Stripe.js, on the clinic's account "
        "(`stripeAccount`); the email is where the receipt goes.",
        "payment requests",
        (PATIENT_TOKEN,),
        Success(200, "What Stripe.js needs to confirm the payment.", m.CheckoutOut),
        body=m.CheckoutIn,
        calls_stripe=True,
        refusals={
            403: ("patient_only", "not_your_call"),
            **NOT_FOUND,
            409: (
                "payment_in_progress",
                "already_paid",
                "payment_canceled",
                "not_payable",
                "stripe_account_removed",
                "concurrent_update",
                "card_cannot_be_kept",
                "policy_changed",
            ),
        },
    ),
    "POST /payment-requests/{id}/cancel": Operation(
        "cancelPaymentRequest",
        "Cancel before payment",
        "",
        "payment requests",
        CLINICIANS,
        Success(200, REQUEST_VIEW, m.PaymentRequestOut),
        calls_stripe=True,
        refusals={
            403: ("clinician_only", "not_your_clinic"),
            **NOT_FOUND,
            409: ("not_cancelable", "concurrent_update"),
        },
    ),
    "POST /payment-requests/{id}/capture": Operation(
        "capturePayment",
        "Capture a hold",
        "Charges at most what was authorised (default: all of it; a hold with line items is "
        "captured whole); `amount: 0` releases the hold.",
        "payment requests",
        CLINICIANS,
        Success(200, REQUEST_VIEW, m.PaymentRequestOut),
        body=m.CaptureIn,
        calls_stripe=True,
        refusals={
            403: ("clinician_only", "not_your_clinic"),
            **NOT_FOUND,
            409: ("not_a_hold", "not_cancelable", "concurrent_update", "no_show_policy_not_shown"),
            422: (
                "capture_too_large",
                "capture_with_line_items",
                "amount_too_large",
                "invalid_amount",
                "whole_units_only",
            ),
        },
    ),
    "POST /payment-requests/{id}/reauthorize": Operation(
        "reauthorizePayment",
        "Ask the patient for a fresh hold",
        "For a hold that is held or lapsed: the old hold is released and the patient is "
        "asked to authorise again, on the same request and history.",
        "payment requests",
        CLINICIANS,
        Success(200, REQUEST_VIEW, m.PaymentRequestOut),
        body=m.EmptyBody,
        calls_stripe=True,
        refusals={
            403: ("clinician_only", "not_your_clinic"),
            **NOT_FOUND,
            409: ("not_reauthorizable", "stripe_account_removed", "concurrent_update"),
        },
    ),
    "POST /payment-requests/{id}/pay-link": Operation(
        "sendPayLink",
        "E-mail the patient a link to pay later",
        "The hosted pay page for this one request, its token in the link's fragment, valid "
        "for PAY_LINK_HOURS (72 by default); the e-mail is queued (202). A clinician of the "
        "call, or the platform's backend for its organisation's clinics.",
        "payment requests",
        PEOPLE_OR_PLATFORM,
        Success(202, REQUEST_VIEW, m.PaymentRequestOut),
        body=m.PayLinkIn,
        scopes=(PAY_LINKS_WRITE,),
        refusals={
            403: ("clinician_only", "insufficient_scope", "not_your_clinic"),
            **NOT_FOUND,
            409: ("not_payable", "no_pay_page", "concurrent_update"),
            422: ("email_required",),
        },
    ),
    "POST /calls/{call_id}/no-show-fees": Operation(
        "chargeNoShowFee",
        "Charge the clinic's no-show fee on a kept card",
        "Off-session, on the card the patient agreed to keep with the clinic. A card that "
        "needs the patient's authentication turns into a pay-later link and an alert.",
        "payment requests",
        CLINICIANS,
        Success(
            201,
            "The fee's payment request (or the one this Idempotency-Key made).",
            m.PaymentRequestOut,
            headers={
                "Location": "The request's path.",
                "Idempotent-Replayed": "`true` when the key's request is returned.",
            },
        ),
        body=m.NoShowFeeIn,
        idempotency_key="optional",
        calls_stripe=True,
        refusals={
            403: ("not_your_clinic", "call_of_another_clinic"),
            409: (
                "payments_not_enabled",
                "stripe_account_not_linked",
                "stripe_account_not_ready",
                "no_show_fee_not_set",
                "no_saved_card",
            ),
            422: ("idempotency_key_reused",),
        },
    ),
    "POST /payment-requests/{id}/refunds": Operation(
        "refundPayment",
        "Refund (admins)",
        "Default amount: what is left. A retry with the same Idempotency-Key never refunds twice.",
        "payment requests",
        CLINICIANS,
        Success(
            200,
            REQUEST_VIEW,
            m.PaymentRequestOut,
            headers={"Idempotent-Replayed": "`true` when the key's first answer is repeated."},
        ),
        body=m.RefundIn,
        idempotency_key="required",
        calls_stripe=True,
        refusals={
            400: ("idempotency_key_required",),
            403: ("clinician_only", "admin_only", "not_your_clinic"),
            **NOT_FOUND,
            409: ("not_refundable", "concurrent_update", "refund_in_progress"),
            422: (
                "refund_too_large",
                "amount_too_large",
                "whole_units_only",
                "idempotency_key_reused",
            ),
            503: ("store_busy",),
        },
    ),
    "GET /payment-requests/{id}/receipt": Operation(
        "getReceipt",
        "The receipt page",
        "HTML, in `?locale=`, else the patient's checkout locale, else the best of "
        "Accept-Language, else the clinic's default; `Content-Language` says which.",
        "payment requests",
        VIEWERS,
        Success(
            200,
            "The receipt as an HTML page.",
            content_type="text/html; charset=utf-8",
            headers={"Content-Language": "The receipt's language."},
        ),
        query=m.ReceiptQuery,
        accept_language=True,
        calls_stripe=True,
        refusals={
            400: ("invalid_query",),
            403: ("not_your_clinic", "not_your_call"),
            **NOT_FOUND,
            409: ("not_paid",),
        },
    ),
    "POST /webhooks/stripe": Operation(
        "receiveStripeEvent",
        "Stripe's events",
        "Signed with the endpoint's secret. Events we do not act on, or about payments that "
        "are not ours, are a 200; a refund or dispute before the payment is a 409, so Stripe "
        "delivers it again.",
        "stripe",
        (STRIPE_SIGNATURE,),
        Success(200, "Taken (applied, or nothing to do).", m.WebhookReceivedOut),
        body=None,
        refusals={
            400: ("malformed_body", "invalid_signature", "malformed_event"),
            409: ("not_yet_paid",),
        },
    ),
    "GET /clinics/{clinic_id}/settings": Operation(
        "getClinicSettings",
        "A clinic's settings",
        "",
        "clinics",
        CLINICIANS,
        Success(200, "The clinic's settings.", m.ClinicSettingsOut),
        refusals={403: ("admin_only", "not_your_clinic"), 404: ("clinic_not_set_up",)},
    ),
    "PUT /clinics/{clinic_id}/settings": Operation(
        "updateClinicSettings",
        "Change a clinic's settings",
        'A partial update: fields left out stay; `null` or `""` clears a receipt detail. '
        "Only an organisation admin changes `enabled` (and creates the clinic's record).",
        "clinics",
        CLINICIANS,
        Success(200, "The clinic's settings.", m.ClinicSettingsOut),
        body=m.ClinicSettingsIn,
        refusals={
            403: ("admin_only", "org_admin_only", "not_your_clinic"),
            404: ("clinic_not_set_up",),
            409: ("concurrent_update",),
            422: (
                "unsupported_currency",
                "invalid_limits",
                "unknown_time_zone",
                "amount_too_large",
                "amount_too_small",
                "no_show_policy_incomplete",
            ),
        },
    ),
    "POST /clinics/{clinic_id}/stripe-account/link": Operation(
        "linkStripeAccount",
        "Go to Stripe",
        "Stripe's onboarding for the clinic's account (created on first use).",
        "clinics",
        CLINICIANS,
        Success(200, "Send the admin there.", m.StripeAccountLinkOut),
        calls_stripe=True,
        refusals={
            403: ("admin_only", "not_your_clinic"),
            404: ("clinic_not_set_up",),
            409: ("payments_not_enabled", "concurrent_update"),
            503: ("store_busy",),
        },
    ),
    "GET /clinics/{clinic_id}/stripe-account": Operation(
        "getStripeAccount",
        "The clinic's Stripe account",
        "",
        "clinics",
        CLINICIANS,
        Success(200, "Linked or not, and what Stripe still needs.", m.StripeAccountOut),
        refusals={403: ("admin_only", "not_your_clinic"), 404: ("clinic_not_set_up",)},
    ),
    "DELETE /clinics/{clinic_id}/stripe-account": Operation(
        "unlinkStripeAccount",
        "Remove the clinic's Stripe account",
        "Forgets the account here (history stays); open requests can no longer be paid.",
        "clinics",
        CLINICIANS,
        Success(200, "The account, now unlinked.", m.StripeAccountOut),
        refusals={
            403: ("admin_only", "not_your_clinic"),
            404: ("clinic_not_set_up",),
            409: ("stripe_account_not_linked", "concurrent_update"),
        },
    ),
    "GET /clinics/{clinic_id}/payments": Operation(
        "listClinicPayments",
        "Payments report",
        "The payment requests created in the period, oldest first; `format=csv` for a "
        "spreadsheet (cells a spreadsheet would run as formulas start with `'`).",
        "clinics",
        CLINICIANS,
        Success(200, "The report (JSON, or CSV with `format=csv`).", m.ReportOut),
        query=m.ReportQuery,
        refusals={
            400: ("invalid_date", "invalid_status", "invalid_format", "invalid_query"),
            403: ("admin_only", "not_your_clinic"),
            404: ("clinic_not_set_up",),
            422: ("invalid_period",),
        },
    ),
    "GET /payment-requests/{id}/audit": Operation(
        "getPaymentRequestAudit",
        "A payment request's audit trail",
        "Who or what changed it (clinician, patient, Stripe event, scheduler), when, from "
        "which status to which; oldest first, a page at a time.",
        "audit",
        CLINICIANS,
        Success(200, "A page of the trail.", m.AuditPageOut),
        query=m.AuditQuery,
        refusals={
            400: ("invalid_query", "invalid_cursor"),
            403: ("admin_only", "not_your_clinic"),
            **NOT_FOUND,
        },
    ),
    "GET /clinics/{clinic_id}/audit": Operation(
        "getClinicAudit",
        "A clinic's audit trail",
        "Every change of the clinic's payment requests and of its own settings and Stripe "
        "account in the period (read as the payments report reads it), by time.",
        "audit",
        CLINICIANS,
        Success(200, "A page of the trail.", m.AuditPageOut),
        query=m.ClinicAuditQuery,
        refusals={
            400: ("invalid_date", "invalid_query", "invalid_cursor"),
            403: ("admin_only", "not_your_clinic"),
            404: ("clinic_not_set_up",),
            422: ("invalid_period",),
        },
    ),
    "PUT /clinics/{clinic_id}/invoices/{invoice_id}": Operation(
        "putInvoice",
        "Upsert a patient's invoice (the platform's backend)",
        "The whole invoice as the platform's billing has it: 201 when new, 200 when changed "
        "or the same again. An invoice being paid, paid or refunded cannot change.",
        "invoices",
        (PLATFORM_CLIENT,),
        Success(200, "The invoice (201 when it is new).", m.InvoiceOut, also=(201,)),
        body=m.InvoiceIn,
        scopes=(INVOICES_WRITE,),
        refusals={
            403: ("platform_backend_only", "insufficient_scope", "not_your_clinic"),
            404: ("clinic_not_set_up",),
            409: ("invoice_locked", "concurrent_update"),
            422: ("unsupported_currency", "currency_not_accepted", "invoice_total_mismatch"),
        },
    ),
    "GET /clinics/{clinic_id}/invoices": Operation(
        "listInvoices",
        "A clinic's invoices",
        "By patient and id, a page at a time; the clinic's clinicians and admins, or the "
        "platform's backend.",
        "invoices",
        PEOPLE_OR_PLATFORM,
        Success(200, "A page of invoices.", m.InvoicesOut),
        query=m.InvoiceQuery,
        scopes=(INVOICES_READ, INVOICES_WRITE),
        refusals={
            400: ("invalid_status", "invalid_cursor", "invalid_query"),
            403: ("insufficient_scope", "not_your_clinic"),
            404: ("clinic_not_set_up",),
        },
    ),
    "GET /clinics/{clinic_id}/invoices/{invoice_id}": Operation(
        "getInvoice",
        "One invoice",
        "Its status, the payment request it is pending for or paid by, the receipt number.",
        "invoices",
        PEOPLE_OR_PLATFORM,
        Success(200, "The invoice.", m.InvoiceOut),
        scopes=(INVOICES_READ, INVOICES_WRITE),
        refusals={
            403: ("insufficient_scope", "not_your_clinic"),
            404: ("clinic_not_set_up", "invoice_not_found"),
        },
    ),
    "POST /orgs/{org_id}/webhook-endpoints": Operation(
        "registerWebhookEndpoint",
        "Register an endpoint for signed events",
        "The signing secret (Standard Webhooks) is in this answer only: keep it.",
        "platform events",
        PEOPLE_OR_PLATFORM,
        Success(
            201,
            "The endpoint, with its secret.",
            m.WebhookEndpointCreatedOut,
            headers={"Cache-Control": "`no-store`: the answer carries the secret."},
        ),
        body=m.WebhookEndpointIn,
        scopes=(WEBHOOK_ENDPOINTS_WRITE,),
        refusals={
            **ENDPOINT_REFUSALS,
            409: ("too_many_endpoints",),
            422: ("invalid_endpoint_url", "unknown_event_type"),
        },
    ),
    "GET /orgs/{org_id}/webhook-endpoints": Operation(
        "listWebhookEndpoints",
        "The organisation's endpoints",
        "Never their secrets.",
        "platform events",
        PEOPLE_OR_PLATFORM,
        Success(200, "The endpoints.", m.WebhookEndpointsOut),
        scopes=(WEBHOOK_ENDPOINTS_WRITE,),
        refusals=ENDPOINT_REFUSALS,
    ),
    "DELETE /orgs/{org_id}/webhook-endpoints/{endpoint_id}": Operation(
        "removeWebhookEndpoint",
        "Remove an endpoint",
        "Nothing more is sent to it.",
        "platform events",
        PEOPLE_OR_PLATFORM,
        Success(204, "Removed.", content_type=NO_CONTENT),
        scopes=(WEBHOOK_ENDPOINTS_WRITE,),
        refusals={**ENDPOINT_REFUSALS, 404: ("endpoint_not_found",)},
    ),
    "POST /orgs/{org_id}/webhook-endpoints/{endpoint_id}/replay": Operation(
        "replayWebhookDeliveries",
        "Send an endpoint's failed deliveries again",
        "The deliveries that gave up, oldest first.",
        "platform events",
        PEOPLE_OR_PLATFORM,
        Success(202, "How many were queued again.", m.ReplayedOut),
        scopes=(WEBHOOK_ENDPOINTS_WRITE,),
        refusals={**ENDPOINT_REFUSALS, 404: ("endpoint_not_found",)},
    ),
    "GET /openapi.json": Operation(
        "getOpenApiDocument",
        "This document",
        "",
        "contract",
        (),
        Success(200, "The OpenAPI document of the HTTP API."),
    ),
}


def refusals(operation: Operation, path: str, *, gateway_jwt: bool) -> dict[int, set[str]]:
    """Every code the operation can answer, by status: its own and those of its kind.
    `gateway_jwt`: API Gateway's JWT authorizer admits the request, not the Lambda."""
    codes: dict[int, set[str]] = {}

    def add(status: int, *names: str) -> None:
        codes.setdefault(status, set()).update(names)

    for status, names in operation.refusals.items():
        add(status, *names)
    if "{" in path:
        add(400, "invalid_id")
    if operation.security and STRIPE_SIGNATURE not in operation.security:
        add(401, "missing_token", "invalid_token", "token_expired")
        add(403, "unknown_role")
        if PATIENT_TOKEN not in operation.security:
            add(403, "clinician_only")  # a patient's token (API Gateway's authorizer: 401)
        if PLATFORM_CLIENT not in operation.security:
            add(403, "person_only")  # the platform backend's token, on a route for people
        if not gateway_jwt:
            # The Lambda verifies a token that is not a patient's against the IdP's JWKS.
            add(503, "identity_provider_unreachable")
    if operation.body is not None:
        add(400, "malformed_json", "malformed_body")
        add(413, "body_too_large")
        add(422, "invalid_request")
    if operation.idempotency_key:
        add(400, "invalid_idempotency_key")
    if operation.security:
        add(503, "store_busy")  # DynamoDB too busy to answer in time: retry
    if operation.calls_stripe:
        add(409, "stripe_access_revoked", "stripe_rejected", "stripe_busy")
        add(422, "amount_too_small")
        add(503, "stripe_unavailable")
    return codes


# 402 carries Stripe's decline code (an open set), on every operation that calls Stripe.
DECLINE_CODE_PATTERN = r"^[a-z0-9_]+$"
IDEMPOTENCY_KEY = IDEMPOTENCY_KEY_PATTERN.pattern
