"""The HTTP contract's request and response bodies and query strings (DESIGN.md, "HTTP
contract"). Every value a client sends is bounded here: ids, text, amounts, dates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from callpay.domain.clinic import Clinic, ClinicAuditEntry
from callpay.domain.invoice import Invoice, InvoiceStatus
from callpay.domain.money import STRIPE_MAXIMUM
from callpay.domain.payment_request import (
    AuditEntry,
    Dispute,
    Failure,
    LineItem,
    PaymentRequest,
    Status,
)
from callpay.domain.period import EARLIEST, LATEST
from callpay.domain.policy import MAX_POLICY_CHARS, NoShowPolicy
from callpay.domain.receipt_details import RECEIPT_DETAILS, ReceiptDetails
from callpay.domain.receipt_job import receipt_number
from callpay.domain.transitions import PAID
from callpay.domain.webhook_endpoint import WebhookEndpoint
from callpay.http_api import ID_PATTERN, Query
from callpay.logic.stripe_events import Outcome

MAX_INVOICES_PER_REQUEST = 20
DEFAULT_AUDIT_PAGE = 50
DEFAULT_INVOICE_PAGE = 100
MAX_INVOICE_PAGE = 200
MAX_AUDIT_PAGE = 200
# Stripe's largest amount (in any currency's minor unit) bounds invoice lines too.
MAX_MINOR_UNITS = STRIPE_MAXIMUM
Id = Annotated[str, StringConstraints(strip_whitespace=True, pattern=ID_PATTERN.pattern)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Locale = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")]


def _chargeable_size(amount: int) -> int:
    # Its own error type: the boundary answers it with the code `amount_too_large`.
    if amount > STRIPE_MAXIMUM:
        raise PydanticCustomError(
            "amount_too_large", "Input should be at most {maximum} (Stripe's maximum)",
            {"maximum": STRIPE_MAXIMUM},
        )  # fmt: skip
    return amount


# Minor units; Stripe charges at most eight digits, so nothing above is ever valid here.
Amount = Annotated[StrictInt, Field(ge=0), AfterValidator(_chargeable_size)]
PositiveAmount = Annotated[StrictInt, Field(gt=0), AfterValidator(_chargeable_size)]


class Body(BaseModel):
    # Built on first use, like every model here: a function builds the ones its routes
    # use, not every API model (docs/performance.md).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class View(BaseModel):
    """An answer's model; built on first use, as Body."""

    model_config = ConfigDict(defer_build=True)


class EmptyBody(Body):
    """A route that takes no fields: `{}` or no body at all."""


class LineItemIn(Body):
    description: Text
    amount: Amount


class PaymentRequestIn(Body):
    """An amount (with line items, optionally), or the platform's invoices to bill
    (`invoice_ids`: the amount and the line items are then the invoices')."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "clinic_id": "clinic-1",
                    "amount": 8000,
                    "currency": "aud",
                    "description": "Telehealth consultation",
                }
            ]
        }
    )

    clinic_id: Id
    amount: Amount | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
    description: Text
    capture_method: Literal["automatic", "manual"] = "automatic"
    line_items: Annotated[list[LineItemIn], Field(max_length=100)] = []
    invoice_ids: Annotated[list[Id], Field(max_length=MAX_INVOICES_PER_REQUEST)] = []

    @model_validator(mode="after")
    def _amount_or_invoices(self) -> PaymentRequestIn:
        if self.invoice_ids:
            if self.amount is not None or self.line_items:
                raise ValueError("with invoice_ids, the invoices give the amount and lines")
            if len(set(self.invoice_ids)) != len(self.invoice_ids):
                raise ValueError("invoice_ids must not repeat an invoice")
        elif self.amount is None:
            raise ValueError("amount is required (or invoice_ids)")
        return self


class InvoiceLineIn(Body):
    description: Text
    # A line may be negative (a discount or a credit); the invoice's total may not.
    amount: Annotated[StrictInt, Field(ge=-MAX_MINOR_UNITS, le=MAX_MINOR_UNITS)]


class InvoiceIn(Body):
    """The platform's invoice, as its billing system has it (an upsert: the whole invoice)."""

    patient: Id
    issued_on: date
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
    lines: Annotated[list[InvoiceLineIn], Field(min_length=1, max_length=100)]
    total: Annotated[StrictInt, Field(gt=0, le=MAX_MINOR_UNITS)]
    # True: the invoice is void (no longer to be paid); false brings it back.
    void: StrictBool = False


class InvoiceQuery(Query):
    """GET /clinics/{clinic_id}/invoices: a page, a patient's, in one status."""

    error_codes: ClassVar[Mapping[str, str]] = {
        "patient": "invalid_id", "status": "invalid_status",
        "cursor": "invalid_cursor", "limit": "invalid_query",
    }  # fmt: skip

    patient: Id | None = None
    status: Annotated[InvoiceStatus | None, BeforeValidator(_blank_is_absent)] = None
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_INVOICE_PAGE)] = DEFAULT_INVOICE_PAGE


class InvoiceOut(View):
    id: str
    clinic_id: str
    patient: str
    issued_on: date
    currency: str
    lines: list[LineItem]
    total: int
    status: str
    payment_request_id: str | None
    paid_at: datetime | None
    receipt_number: str | None
    amount_refunded: int
    updated_at: datetime

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        return cls.model_validate(
            invoice.model_dump(include=set(cls.model_fields) - {"lines"})
            | {"lines": list(invoice.lines)}
        )


class CaptureIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"amount": 6000}]})

    # Default: the whole hold. 0 releases the hold without charging.
    amount: Amount | None = None
    # `no_show`: the patient did not come; the clinic's no-show fee (as the patient was
    # shown it when authorising) is captured, so no amount is sent.
    reason: Literal["final_amount", "no_show"] = "final_amount"

    @model_validator(mode="after")
    def _no_show_has_no_amount(self) -> CaptureIn:
        if self.reason == "no_show" and self.amount is not None:
            raise ValueError("a no-show capture takes the clinic's fee: send no amount")
        return self


class PayLinkIn(Body):
    """Where to send the link: the patient's e-mail if the request has none yet (or another
    one), and their language; by default what the patient gave at checkout."""

    email: Annotated[EmailStr, StringConstraints(max_length=254)] | None = None
    locale: Locale | None = None


class NoShowFeeIn(Body):
    """Charge the clinic's no-show fee to the card this patient agreed to keep."""

    clinic_id: Id
    patient_ref: Id
    description: Text | None = None


class RefundIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"amount": 2000, "reason": "requested_by_customer"}]}
    )

    # Default: whatever is left to refund.
    amount: PositiveAmount | None = None
    # Stripe's reasons; kept in our audit trail, not sent to Stripe (it does not need it).
    reason: Literal["requested_by_customer", "duplicate", "fraudulent"]


# Settings that null (or "") clears; the others cannot be null.
CLEARABLE = frozenset({*RECEIPT_DETAILS, "default_locale", "minimum_amount", "maximum_amount",
                       "country", "no_show_fee", "no_show_policy"})  # fmt: skip
PolicyText = (
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_POLICY_CHARS)] | None
)


class ClinicSettingsIn(ReceiptDetails, Body):
    """A partial update: fields left out stay as they are; null (or "") clears a detail.
    The receipt details (legal name, address, tax id...) are ReceiptDetails' fields."""

    enabled: StrictBool | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] | None = None
    default_currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")] | None = None
    minimum_amount: PositiveAmount | None = None
    maximum_amount: PositiveAmount | None = None
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    default_locale: Locale | None = None
    share_description_with_stripe: StrictBool | None = None
    share_description_with_platform: StrictBool | None = None
    no_show_fee: PositiveAmount | None = None
    no_show_policy: PolicyText = None

    @model_validator(mode="after")
    def _nulls_only_clear(self) -> ClinicSettingsIn:
        kept = sorted(n for n in self.model_fields_set - CLEARABLE if getattr(self, n) is None)
        if kept:
            raise ValueError(f"{', '.join(kept)} cannot be null")
        return self


class ClinicSettingsOut(ReceiptDetails):
    clinic_id: str
    org_id: str
    enabled: bool
    country: str | None
    default_currency: str
    minimum_amount: int | None
    maximum_amount: int | None
    time_zone: str
    default_locale: str | None
    share_description_with_stripe: bool
    share_description_with_platform: bool
    no_show_fee: int | None
    no_show_policy: str | None
    no_show_policy_version: int
    stripe_account_linked: bool

    @classmethod
    def of(cls, clinic: Clinic) -> ClinicSettingsOut:
        values = clinic.model_dump(include=set(cls.model_fields) - {"stripe_account_linked"})
        return cls.model_validate(
            values | {"stripe_account_linked": bool(clinic.stripe_account_id)}
        )


class StripeAccountOut(View):
    linked: bool
    stripe_account_id: str | None
    charges_enabled: bool
    details_submitted: bool
    requirements_due: list[str]

    @classmethod
    def of(cls, clinic: Clinic) -> StripeAccountOut:
        return cls(
            linked=bool(clinic.stripe_account_id),
            stripe_account_id=clinic.stripe_account_id,
            charges_enabled=clinic.charges_enabled,
            details_submitted=clinic.details_submitted,
            requirements_due=list(clinic.requirements_due),
        )


class PatientAccessIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"clinic_id": "clinic-1"}]})

    clinic_id: Id
    # The platform's reference of the patient in this call: lets them keep a card with the
    # clinic (a Customer per patient, never found by e-mail).
    patient_ref: Id | None = None


class CheckoutIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "patient@example.com", "locale": "en-AU"}]}
    )

    email: Annotated[EmailStr, StringConstraints(max_length=254)]
    locale: Locale | None = None
    # Keep the card for the clinic's future charges (true) or not after all (false), under
    # the no-show policy of `policy_version`, which the patient was shown; absent: no answer yet.
    save_card: StrictBool | None = None
    policy_version: Annotated[StrictInt, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _consent_names_its_policy(self) -> CheckoutIn:
        if self.save_card and self.policy_version is None:
            raise ValueError("keeping the card needs the policy_version the patient was shown")
        return self


class NoShowPolicyOut(View):
    """The words the patient reads before paying, and the fee they describe."""

    version: int
    text: str
    fee: int
    currency: str

    @classmethod
    def of(cls, policy: NoShowPolicy | None) -> NoShowPolicyOut | None:
        if policy is None:
            return None
        return cls(version=policy.version, text=policy.text, fee=policy.fee,
                   currency=policy.currency)  # fmt: skip


class PayLinkOut(View):
    """A pay-later link was sent (never the address or the link itself)."""

    sent_at: datetime
    expires_at: datetime


class DisputeOut(View):
    """A dispute of the payment by the patient's bank, as Stripe reports it."""

    status: str  # Stripe's: warning_needs_response, needs_response, under_review, won, lost...
    reason: str  # Stripe's: fraudulent, duplicate, product_not_received, general...
    amount: int
    # Stripe took the disputed amount (and fee) from the clinic's balance / gave it back.
    funds_withdrawn: bool
    funds_reinstated: bool

    @classmethod
    def of(cls, dispute: Dispute | None) -> DisputeOut | None:
        if dispute is None:
            return None
        return cls(
            status=dispute.status, reason=dispute.reason, amount=dispute.amount,
            funds_withdrawn=dispute.funds_withdrawn_at is not None,
            funds_reinstated=dispute.funds_reinstated_at is not None,
        )  # fmt: skip


class PaymentRequestOut(View):
    """A payment request as clinicians and patients see it: no Stripe secrets, no email."""

    # Defaults are sent too: the contract's schema lists them as always there.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    call_id: str
    clinic_id: str
    amount: int
    currency: str
    description: str
    status: Status
    capture_method: Literal["automatic", "manual"]
    amount_captured: int
    amount_refunded: int
    line_items: list[LineItem]
    failure: Failure | None
    dispute: DisputeOut | None
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    # Once paid: the number the receipt (email and page) carries, for the confirmation.
    receipt_number: str | None = None
    # Holds: Stripe's deadline for capturing (when the charge said), when the hold lapses
    # (that deadline, else Stripe's default 7 days from authorising), which hold this is
    # (2 and more: asked for again), and when the clinic was warned it is about to lapse.
    capture_before: datetime | None = None
    hold_expires_at: datetime | None = None
    hold_attempt: int = 1
    expiry_warned_at: datetime | None = None
    # canceled: "canceled" (by the clinic or on Stripe), "released" (a hold let go),
    # "expired" (a hold that lapsed). charge_reason "no_show": a no-show fee.
    cancellation_reason: str | None = None
    charge_reason: str | None = None
    # Charged with a card the patient kept with the clinic, without the patient there.
    off_session: bool = False
    # The patient agreed to keep the card, and Stripe kept it.
    card_saved: bool = False
    pay_link: PayLinkOut | None = None
    # The no-show fee the patient was shown while paying (a hold captures it on a no-show).
    no_show_fee: int | None = None

    @classmethod
    def of(cls, request: PaymentRequest) -> PaymentRequestOut:
        number = None
        if request.status in PAID and request.paid_at is not None:
            number = receipt_number(request.id, f"{request.paid_at:%Y%m%d}")
        derived = {"line_items", "dispute", "receipt_number", "hold_expires_at", "card_saved",
                   "pay_link", "no_show_fee"}  # fmt: skip
        link = request.pay_link
        return cls.model_validate(
            request.model_dump(include=set(cls.model_fields) - derived)
            | {
                "line_items": list(request.line_items),
                "dispute": DisputeOut.of(request.dispute),
                "receipt_number": number,
                "hold_expires_at": request.hold_deadline,
                "card_saved": request.saved_payment_method is not None,
                "pay_link": PayLinkOut(sent_at=link.sent_at, expires_at=link.expires_at)
                if link
                else None,
                "no_show_fee": request.no_show_policy.fee if request.no_show_policy else None,
            }
        )


class PaymentRequestsOut(View):
    """A call's payment requests, newest first."""

    payment_requests: list[PaymentRequestOut]


class ReportOut(View):
    """A clinic's payment requests created in the period, oldest first."""

    payments: list[PaymentRequestOut]


class StripeAccountLinkOut(View):
    # Stripe's onboarding page for the clinic's account: send the admin there.
    url: str


class CheckoutOut(View):
    # Defaults are sent too: the contract's schema lists them as always there.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    client_secret: str
    publishable_key: str
    stripe_account: str
    # Who the patient is paying, as the receipt names it (the clinic's legal name).
    clinic_name: str | None = None
    # The clinic's no-show policy, to show before the patient pays (or keeps the card).
    no_show_policy: NoShowPolicyOut | None = None
    # Whether the patient may keep the card with the clinic (a policy, and a patient the
    # platform named), and whether they have agreed to for this payment.
    can_save_card: bool = False
    save_card: bool = False


class PatientAccessOut(View):
    # Defaults are sent too: the contract's schema lists them as always there.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    token: str
    expires_at: datetime
    # The hosted pay page for this call, the token in its fragment (never sent to a
    # server, so never in an access log); None where no pay page is configured.
    patient_url: str | None = None


class WebhookReceivedOut(View):
    """A Stripe event taken: what it did (Stripe only needs the 2xx)."""

    # Defaults are sent too: the contract's schema lists them as always there.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    received: Literal[True] = True
    outcome: Literal[Outcome.APPLIED, Outcome.STALE, Outcome.DUPLICATE, Outcome.IGNORED]


def _blank_is_absent(value: Any) -> Any:
    return None if value == "" else value


def _flag(value: Any) -> bool:
    if value in {None, "", "false"}:
        return False
    if value == "true":
        return True
    raise ValueError("must be true or false")


def _moment(value: Any) -> date | datetime | None:
    """A date ("2026-12-01") stays a date, anything with a time is a datetime: a date means
    the whole day in the clinic's time zone, a time means that instant."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("must be an ISO 8601 date or date and time")
    try:
        moment: date | datetime = date.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 date or date and time") from None
    # Checked before any arithmetic: near year 1 or 9999 a time zone shift overflows.
    if not EARLIEST.year <= moment.year <= LATEST.year:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year}")
    return moment


Moment = Annotated[
    date | datetime | None,
    PlainValidator(_moment, json_schema_input_type=str),
    Field(
        description="A date (a whole day in the clinic's time zone) or a date and time "
        "(that instant; UTC without an offset), years 2000-2100.",
        examples=["2026-12-01", "2026-12-01T09:00:00+11:00"],
    ),
]


class ReportQuery(Query):
    """GET /clinics/{clinic_id}/payments: the period, a status, the format."""

    error_codes: ClassVar[Mapping[str, str]] = {
        "from": "invalid_date", "to": "invalid_date",
        "status": "invalid_status", "format": "invalid_format", "audit": "invalid_query",
    }  # fmt: skip

    start: Moment = Field(None, alias="from")
    end: Moment = Field(None, alias="to")
    status: Annotated[Status | None, BeforeValidator(_blank_is_absent)] = None
    format: Annotated[Literal["json", "csv"], BeforeValidator(lambda v: v or "json")] = "json"
    # CSV only: one row per audit entry of each payment.
    audit: Annotated[bool, BeforeValidator(_flag)] = False


class AuditQuery(Query):
    """A page of an audit trail: up to `limit` entries after `cursor` (the last answer's
    `next_cursor`)."""

    error_codes: ClassVar[Mapping[str, str]] = {"cursor": "invalid_query", "limit": "invalid_query"}

    cursor: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_AUDIT_PAGE)] = DEFAULT_AUDIT_PAGE


class ClinicAuditQuery(AuditQuery):
    """GET /clinics/{clinic_id}/audit: a page of what changed in a period."""

    error_codes: ClassVar[Mapping[str, str]] = {
        **AuditQuery.error_codes, "from": "invalid_date", "to": "invalid_date",
    }  # fmt: skip

    start: Moment = Field(None, alias="from")
    end: Moment = Field(None, alias="to")


class ReceiptQuery(Query):
    """GET /payment-requests/{id}/receipt: a language; one we do not have falls back."""

    locale: Annotated[str, StringConstraints(max_length=64)] | None = None


class ActorOut(View):
    """Who or what made a change: a clinician, admin or patient (by subject id), Stripe (by
    the event id), the platform's backend (by client id), a scheduled job."""

    type: str
    id: str


class AuditEntryOut(View):
    at: datetime
    clinic_id: str
    payment_request_id: str | None  # None: a change of the clinic's own settings or account
    version: int
    action: str
    from_status: str | None
    to_status: str | None
    actor: ActorOut
    detail: str | None  # e.g. the Stripe event type, a refund's id and reason
    changes: dict[str, tuple[object, object]] | None  # clinic changes: field -> (before, after)

    @classmethod
    def of(cls, entry: AuditEntry | ClinicAuditEntry, clinic_id: str) -> AuditEntryOut:
        if isinstance(entry, ClinicAuditEntry):
            return cls(
                at=entry.at, clinic_id=entry.clinic_id, payment_request_id=None,
                version=entry.version, action=entry.action, from_status=None, to_status=None,
                actor=ActorOut(type=entry.actor, id=entry.subject), detail=None,
                changes=entry.changes,
            )  # fmt: skip
        cause = entry.cause
        return cls(
            at=entry.at, clinic_id=clinic_id, payment_request_id=entry.payment_request_id,
            version=entry.version, action=entry.action,
            from_status=entry.from_status.value if entry.from_status else None,
            to_status=entry.to_status.value, actor=ActorOut(type=cause.actor, id=cause.subject),
            detail=cause.detail or None, changes=None,
        )  # fmt: skip


class AuditPageOut(View):
    entries: list[AuditEntryOut]
    next_cursor: str | None


class WebhookEndpointIn(Body):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2048)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = (
        None
    )
    # Empty: every event type (docs/platform-events.md).
    event_types: Annotated[list[Annotated[str, StringConstraints(max_length=64)]],
                           Field(max_length=20)] = []  # fmt: skip


class WebhookEndpointOut(View):
    id: str
    org_id: str
    url: str
    description: str | None
    event_types: list[str]
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookEndpointOut:
        return cls.model_validate(
            endpoint.model_dump(include=set(cls.model_fields) - {"event_types"})
            | {"event_types": list(endpoint.event_types)}
        )


class WebhookEndpointsOut(View):
    webhook_endpoints: list[WebhookEndpointOut]


class ReplayedOut(View):
    """How many of the endpoint's failed deliveries were sent again."""

    replayed: int


class InvoicesOut(View):
    invoices: list[InvoiceOut]
    next_cursor: str | None


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    # The signing secret (Standard Webhooks, whsec_...): shown here once, never again.
    secret: str
