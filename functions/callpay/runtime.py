"""The objects a Lambda needs, built lazily on first use and reused across invocations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from callpay.config import ConfigurationError, Settings, StripeKeys, TokenKey, WebhookSecrets

if TYPE_CHECKING:
    import stripe

    from callpay.adapters.clinician_tokens import IdentityProviderTokens
    from callpay.adapters.dynamodb_clinics import DynamoDBClinicStore
    from callpay.adapters.dynamodb_connections import DynamoDBConnectionStore
    from callpay.adapters.dynamodb_endpoints import DynamoDBEndpointStore
    from callpay.adapters.dynamodb_store import DynamoDBPaymentStore
    from callpay.adapters.kms_endpoint_secrets import KmsEndpointSecrets
    from callpay.adapters.patient_tokens import SignedPatientTokens
    from callpay.adapters.sqs_delivery_queue import SqsDeliveryQueue
    from callpay.adapters.sqs_receipt_queue import SqsReceiptQueue
    from callpay.adapters.websocket_notifier import WebSocketNotifier
    from callpay.domain.access import PlatformCaller, Principal
    from callpay.logic.audit import AuditTrail
    from callpay.logic.clinics import ClinicAdmin
    from callpay.logic.connect_events import ConnectEvents
    from callpay.logic.hold_sweeper import HoldSweeper
    from callpay.logic.invoices import Invoices
    from callpay.logic.no_show import NoShowFees
    from callpay.logic.payment_requests import PaymentRequests
    from callpay.logic.platform_events import EventDelivery, EventFanOut
    from callpay.logic.realtime import Realtime
    from callpay.logic.receipts import ReceiptBook, ReceiptMailing
    from callpay.logic.stripe_events import StripeEvents
    from callpay.logic.webhook_endpoints import WebhookEndpoints
    from callpay.ports import ConnectOnboarding


STRIPE_TIMEOUT_SECONDS = 4


def now() -> datetime:
    return datetime.now(UTC)


@cache
def settings() -> Settings:
    return Settings.from_env()


def _secret(secret_id: str | None, variable: str) -> object:
    # Powertools caches each secret for max_age seconds, so rotation is picked up.
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

    return parameters.get_secret(
        required(secret_id, variable), transform="json", max_age=settings().secret_max_age_seconds
    )


def stripe_keys() -> StripeKeys:
    return StripeKeys.model_validate(_secret(settings().stripe_secret_id, "STRIPE_SECRET_ID"))


def webhook_secrets() -> list[str]:
    value = _secret(settings().webhook_secret_id, "WEBHOOK_SECRET_ID")
    return WebhookSecrets.model_validate(value).webhook_secrets


def token_key() -> str:
    return TokenKey.model_validate(
        _secret(settings().token_secret_id, "TOKEN_SECRET_ID")
    ).patient_token_key


@cache
def store() -> DynamoDBPaymentStore:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.dynamodb_store import DynamoDBPaymentStore  # noqa: PLC0415

    return DynamoDBPaymentStore(aws.client("dynamodb"), settings().table_name, now)


def stripe_client() -> stripe.StripeClient:
    return _stripe_client(stripe_keys().stripe_api_key)


@cache
def _stripe_client(api_key: str) -> stripe.StripeClient:
    import stripe  # noqa: PLC0415

    from callpay.adapters.stripe_gateway import STRIPE_API_VERSION  # noqa: PLC0415

    base = settings().stripe_api_base
    return stripe.StripeClient(
        api_key,
        stripe_version=STRIPE_API_VERSION,
        base_addresses={"api": base} if base else None,
        # Well inside the API functions' 10 s: a slow Stripe answers 503 (retry with the
        # same key) instead of the Lambda timing out after Stripe may have acted.
        http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT_SECONDS),
        max_network_retries=1,
    )


@cache
def patient_tokens() -> SignedPatientTokens:
    from callpay.adapters.patient_tokens import SignedPatientTokens  # noqa: PLC0415

    return SignedPatientTokens(token_key, timedelta(hours=settings().patient_token_hours))


@cache
def clinician_tokens() -> IdentityProviderTokens | None:
    """The identity provider's verifier, or None where it is not configured."""
    from callpay.adapters.clinician_tokens import IdentityProviderTokens  # noqa: PLC0415

    config = settings()
    if not (config.jwt_issuer and config.jwt_audience and config.jwks_url):
        return None
    return IdentityProviderTokens(config.jwt_issuer, config.jwt_audience, config.jwks_url)


@cache
def payment_requests() -> PaymentRequests:
    from callpay.adapters.stripe_gateway import StripeGateway  # noqa: PLC0415
    from callpay.logic.payment_requests import PaymentRequests  # noqa: PLC0415

    return PaymentRequests(
        store=store(),
        gateway=StripeGateway(stripe_client),
        tokens=patient_tokens(),
        notifier=notifier(),
        receipts=receipt_queue(),
        publishable_key=lambda: stripe_keys().stripe_publishable_key,
        clock=now,
        patient_page_url=settings().patient_page_url,
        pay_link_lifetime=timedelta(hours=settings().pay_link_hours),
    )


@cache
def no_show_fees() -> NoShowFees:
    from callpay.logic.no_show import NoShowFees  # noqa: PLC0415

    return NoShowFees(payment_requests())


@cache
def hold_sweeper() -> HoldSweeper:
    from callpay.adapters.stripe_gateway import StripeGateway  # noqa: PLC0415
    from callpay.logic.hold_sweeper import HoldSweeper  # noqa: PLC0415

    return HoldSweeper(
        store=store(),
        gateway=StripeGateway(stripe_client),
        notifier=notifier(),
        receipts=receipt_queue(),
        clock=now,
        warn_before=timedelta(hours=settings().hold_warning_hours),
    )


@cache
def stripe_events() -> StripeEvents:
    from callpay.logic.stripe_events import StripeEvents  # noqa: PLC0415

    return StripeEvents(store=store(), notifier=notifier(), receipts=receipt_queue(), clock=now)


def required(value: str | None, variable: str) -> str:
    if not value:
        raise ConfigurationError(f"{variable} is not set.")
    return value


@cache
def receipt_queue() -> SqsReceiptQueue:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.sqs_receipt_queue import SqsReceiptQueue  # noqa: PLC0415

    client = aws.client("sqs")
    url = required(settings().receipt_queue_url, "RECEIPT_QUEUE_URL")
    return SqsReceiptQueue(lambda: client, url)


@cache
def receipt_book() -> ReceiptBook:
    from callpay.adapters.stripe_gateway import StripeGateway  # noqa: PLC0415
    from callpay.logic.receipts import ReceiptBook  # noqa: PLC0415
    from callpay.receipts.locales import negotiate  # noqa: PLC0415
    from callpay.receipts.render import render  # noqa: PLC0415

    return ReceiptBook(
        store=store(),
        gateway=StripeGateway(stripe_client),
        render=render,
        negotiate=negotiate,
        clock=now,
    )


@cache
def receipts() -> ReceiptMailing:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.dynamodb_receipts import DynamoDBReceiptLedger  # noqa: PLC0415
    from callpay.adapters.ses_mailer import SesReceiptMailer  # noqa: PLC0415
    from callpay.logic.receipts import PayLinkMail, ReceiptMailing  # noqa: PLC0415
    from callpay.receipts.locales import negotiate  # noqa: PLC0415
    from callpay.receipts.pay_link import render_pay_link  # noqa: PLC0415

    config = settings()
    ses = aws.client("ses")
    links = None
    if config.patient_page_url:
        links = PayLinkMail(
            tokens=patient_tokens(), page_url=config.patient_page_url,
            render=render_pay_link, negotiate=negotiate,
        )  # fmt: skip
    return ReceiptMailing(
        book=receipt_book(),
        ledger=DynamoDBReceiptLedger(aws.client("dynamodb"), config.table_name),
        mailer=SesReceiptMailer(
            lambda: ses,
            required(config.receipt_sender, "RECEIPT_SENDER"),
            config.ses_configuration_set,
        ),
        clock=now,
        links=links,
    )


@cache
def connections() -> DynamoDBConnectionStore:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.dynamodb_connections import DynamoDBConnectionStore  # noqa: PLC0415

    return DynamoDBConnectionStore(aws.client("dynamodb"), settings().table_name)


@cache
def notifier() -> WebSocketNotifier:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.websocket_notifier import (  # noqa: PLC0415
        ApiGatewayConnections,
        WebSocketNotifier,
    )

    url = required(settings().websocket_callback_url, "WEBSOCKET_CALLBACK_URL")
    client = aws.client("apigatewaymanagementapi", endpoint_url=url)
    return WebSocketNotifier(connections(), ApiGatewayConnections(lambda: client).post)


@cache
def realtime() -> Realtime:
    from callpay.logic.realtime import Realtime  # noqa: PLC0415

    return Realtime(store=store(), connections=connections(), clock=now)


@cache
def clinic_store() -> DynamoDBClinicStore:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.dynamodb_clinics import DynamoDBClinicStore  # noqa: PLC0415

    return DynamoDBClinicStore(aws.client("dynamodb"), settings().table_name)


def connect_onboarding() -> ConnectOnboarding:
    from callpay.adapters.stripe_connect import LocalConnect, StripeConnect  # noqa: PLC0415

    config = settings()
    if config.local_onboarding_url:
        return LocalConnect(config.local_onboarding_url)
    return StripeConnect(
        stripe_client,
        required(config.connect_return_url, "CONNECT_RETURN_URL"),
        required(config.connect_refresh_url, "CONNECT_REFRESH_URL"),
    )


@cache
def clinic_admin() -> ClinicAdmin:
    from callpay.logic.clinics import ClinicAdmin  # noqa: PLC0415

    return ClinicAdmin(clinics=clinic_store(), connect=connect_onboarding(), clock=now)


@cache
def audit_trail() -> AuditTrail:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.dynamodb_audit import DynamoDBAuditLog  # noqa: PLC0415
    from callpay.logic.audit import AuditTrail  # noqa: PLC0415

    log = DynamoDBAuditLog(aws.client("dynamodb"), settings().table_name)
    return AuditTrail(log=log, payments=store(), clinics=clinic_store(), clock=now)


@cache
def connect_events() -> ConnectEvents:
    from callpay.logic.connect_events import ConnectEvents  # noqa: PLC0415

    return ConnectEvents(clinics=clinic_store(), events=store(), clock=now)


def caller_of(event: Mapping[str, Any]) -> Principal:
    """The caller of an HTTP API event, checked with this function's token verifiers."""
    from callpay.principals import principal_of  # noqa: PLC0415

    return principal_of(event, patient_tokens(), clinician_tokens())


def staff_caller_of(event: Mapping[str, Any]) -> Principal:
    """The caller of a route for clinicians and admins only: a patient token is refused
    without the patient token key, which such a function is not granted."""
    from callpay.adapters.patient_tokens import NoPatientTokens  # noqa: PLC0415
    from callpay.principals import principal_of  # noqa: PLC0415

    return principal_of(event, NoPatientTokens(), clinician_tokens())


@cache
def invoices() -> Invoices:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.dynamodb_invoices import DynamoDBInvoiceStore  # noqa: PLC0415
    from callpay.logic.invoices import Invoices  # noqa: PLC0415

    store = DynamoDBInvoiceStore(aws.client("dynamodb"), settings().table_name)
    return Invoices(invoices=store, clinic_of=clinic_store().get_clinic, clock=now)


@cache
def endpoint_store() -> DynamoDBEndpointStore:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.dynamodb_endpoints import DynamoDBEndpointStore  # noqa: PLC0415

    return DynamoDBEndpointStore(aws.client("dynamodb"), settings().table_name)


@cache
def delivery_queue() -> SqsDeliveryQueue:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.sqs_delivery_queue import SqsDeliveryQueue  # noqa: PLC0415

    client = aws.client("sqs")
    url = required(settings().platform_event_queue_url, "PLATFORM_EVENT_QUEUE_URL")
    return SqsDeliveryQueue(lambda: client, url)


@cache
def endpoint_secrets() -> KmsEndpointSecrets:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.kms_endpoint_secrets import KmsEndpointSecrets  # noqa: PLC0415

    client = aws.client("kms")
    key_id = required(settings().endpoint_secret_key_id, "ENDPOINT_SECRET_KEY_ID")
    return KmsEndpointSecrets(lambda: client, key_id)


@cache
def webhook_endpoints() -> WebhookEndpoints:
    from callpay.logic.webhook_endpoints import WebhookEndpoints  # noqa: PLC0415

    return WebhookEndpoints(
        endpoints=endpoint_store(), secrets=endpoint_secrets(), queue=delivery_queue(),
        clock=now, allow_loopback=settings().allow_loopback_endpoints,
    )  # fmt: skip


@cache
def event_fan_out() -> EventFanOut:
    from callpay.logic.platform_events import EventFanOut  # noqa: PLC0415

    return EventFanOut(
        clinic_of=clinic_store().get_clinic, endpoints=endpoint_store(), queue=delivery_queue()
    )


@cache
def event_delivery() -> EventDelivery:
    from callpay.adapters.http_event_sender import HttpEventSender, signed_headers  # noqa: PLC0415
    from callpay.logic.platform_events import EventDelivery  # noqa: PLC0415

    return EventDelivery(
        endpoints=endpoint_store(), secrets=endpoint_secrets(),
        sender=HttpEventSender(allow_loopback=settings().allow_loopback_endpoints),
        sign=signed_headers, clock=now,
    )  # fmt: skip


def platform_caller_of(event: Mapping[str, Any]) -> PlatformCaller:
    """The caller of a platform route: an admin or the platform's backend."""
    from callpay.principals import platform_caller_of as caller  # noqa: PLC0415

    return caller(event, clinician_tokens())


def reset() -> None:
    """Forget everything built so far (tests change the environment between cases)."""
    for built in (
        settings, store, _stripe_client, patient_tokens, clinician_tokens, payment_requests,
        stripe_events, connections, notifier, realtime, receipt_queue, receipt_book, receipts,
        clinic_store, clinic_admin, connect_events, audit_trail, invoices, endpoint_store,
        delivery_queue, endpoint_secrets, webhook_endpoints, event_fan_out, event_delivery,
        no_show_fees, hold_sweeper,
    ):  # fmt: skip
        built.cache_clear()
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

    parameters.clear_caches()  # type: ignore[no-untyped-call]
