"""The parts several functions share, built lazily on first use and reused across
invocations: configuration, secrets, AWS clients, the stores, the notifier, the queues,
Stripe, the receipt book, the token verifiers and the callers they make.

What only one function builds is in that function's own `composition.py`
(request_payment.composition, stripe_webhook.composition, ...), from these parts. Every
factory is a `@part` (callpay.parts): cached, and forgotten by `reset()`. Nothing heavy is
imported here at module level: a function pays only for the parts its request uses
(docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from callpay import parts
from callpay.config import ConfigurationError, Settings, StripeKeys, TokenKey
from callpay.parts import part

if TYPE_CHECKING:
    import stripe

    from callpay.adapters.clinician_tokens import IdentityProviderTokens
    from callpay.adapters.dynamodb_clinics import DynamoDBClinicStore
    from callpay.adapters.dynamodb_connections import DynamoDBConnectionStore
    from callpay.adapters.dynamodb_endpoints import DynamoDBEndpointStore
    from callpay.adapters.dynamodb_store import DynamoDBPaymentStore
    from callpay.adapters.kms_endpoint_secrets import KmsEndpointSecrets
    from callpay.adapters.patient_tokens import SignedPatientTokens
    from callpay.adapters.secrets import SecretValues
    from callpay.adapters.sqs_delivery_queue import SqsDeliveryQueue
    from callpay.adapters.sqs_receipt_queue import SqsReceiptQueue
    from callpay.adapters.stripe_gateway import StripeGateway
    from callpay.adapters.websocket_notifier import WebSocketNotifier
    from callpay.domain.access import PlatformCaller, Principal
    from callpay.logic.receipts import ReceiptBook


STRIPE_TIMEOUT_SECONDS = 4


def now() -> datetime:
    return datetime.now(UTC)


def required(value: str | None, variable: str) -> str:
    if not value:
        raise ConfigurationError(f"{variable} is not set.")
    return value


def reset() -> None:
    """Forget everything built so far, in every composition module (tests change the
    environment between cases; the local stack resets once it has set it)."""
    parts.reset()


# -- configuration, AWS clients and secrets ---------------------------------------------


@part
def settings() -> Settings:
    return Settings.from_env()


@part
def client(service: str) -> Any:
    """This function's one client of an AWS service (callpay.adapters.aws)."""
    from callpay.adapters import aws  # noqa: PLC0415

    return aws.client(service)


@part
def secret_values() -> SecretValues:
    from callpay.adapters.secrets import SecretValues  # noqa: PLC0415

    return SecretValues(lambda: client("secretsmanager"), settings().secret_max_age_seconds)


def secret(secret_id: str | None, variable: str) -> object:
    """A secret's JSON, kept for SECRET_MAX_AGE_SECONDS, so a rotation is picked up."""
    return secret_values().json(required(secret_id, variable))


def stripe_keys() -> StripeKeys:
    return StripeKeys.model_validate(secret(settings().stripe_secret_id, "STRIPE_SECRET_ID"))


def token_key() -> str:
    value = secret(settings().token_secret_id, "TOKEN_SECRET_ID")
    return TokenKey.model_validate(value).patient_token_key


# -- the table, the feed, the queues ----------------------------------------------------


@part
def store() -> DynamoDBPaymentStore:
    from callpay.adapters.dynamodb_store import DynamoDBPaymentStore  # noqa: PLC0415

    return DynamoDBPaymentStore(client("dynamodb"), settings().table_name, now)


@part
def clinic_store() -> DynamoDBClinicStore:
    from callpay.adapters.dynamodb_clinics import DynamoDBClinicStore  # noqa: PLC0415

    return DynamoDBClinicStore(client("dynamodb"), settings().table_name)


@part
def connections() -> DynamoDBConnectionStore:
    from callpay.adapters.dynamodb_connections import DynamoDBConnectionStore  # noqa: PLC0415

    return DynamoDBConnectionStore(client("dynamodb"), settings().table_name)


@part
def notifier() -> WebSocketNotifier:
    from callpay.adapters import aws  # noqa: PLC0415
    from callpay.adapters.websocket_notifier import (  # noqa: PLC0415
        MAX_PARALLEL_POSTS,
        ApiGatewayConnections,
        WebSocketNotifier,
    )

    url = required(settings().websocket_callback_url, "WEBSOCKET_CALLBACK_URL")
    # As many pooled connections as posting threads, or the pool would queue the posts.
    sockets = aws.client(
        "apigatewaymanagementapi", connections=MAX_PARALLEL_POSTS, endpoint_url=url
    )
    return WebSocketNotifier(connections(), ApiGatewayConnections(lambda: sockets).post)


@part
def receipt_queue() -> SqsReceiptQueue:
    from callpay.adapters.sqs_receipt_queue import SqsReceiptQueue  # noqa: PLC0415

    url = required(settings().receipt_queue_url, "RECEIPT_QUEUE_URL")
    return SqsReceiptQueue(lambda: client("sqs"), url)


@part
def endpoint_store() -> DynamoDBEndpointStore:
    from callpay.adapters.dynamodb_endpoints import DynamoDBEndpointStore  # noqa: PLC0415

    return DynamoDBEndpointStore(client("dynamodb"), settings().table_name)


@part
def delivery_queue() -> SqsDeliveryQueue:
    from callpay.adapters.sqs_delivery_queue import SqsDeliveryQueue  # noqa: PLC0415

    url = required(settings().platform_event_queue_url, "PLATFORM_EVENT_QUEUE_URL")
    return SqsDeliveryQueue(lambda: client("sqs"), url)


@part
def endpoint_secrets() -> KmsEndpointSecrets:
    from callpay.adapters.kms_endpoint_secrets import KmsEndpointSecrets  # noqa: PLC0415

    key_id = required(settings().endpoint_secret_key_id, "ENDPOINT_SECRET_KEY_ID")
    return KmsEndpointSecrets(lambda: client("kms"), key_id)


# -- Stripe ---------------------------------------------------------------------------


def stripe_client() -> stripe.StripeClient:
    """The client for the Stripe key as the secret holds it now."""
    return _stripe_client(stripe_keys().stripe_api_key)


@part
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


@part
def stripe_gateway() -> StripeGateway:
    from callpay.adapters.stripe_gateway import StripeGateway  # noqa: PLC0415

    return StripeGateway(stripe_client)


@part
def receipt_book() -> ReceiptBook:
    """Receipts as the patient's e-mail and the receipt page show them."""
    from callpay.logic.receipts import ReceiptBook  # noqa: PLC0415
    from callpay.receipts.locales import negotiate  # noqa: PLC0415
    from callpay.receipts.render import render  # noqa: PLC0415

    return ReceiptBook(
        store=store(), gateway=stripe_gateway(), render=render, negotiate=negotiate, clock=now
    )


# -- callers ----------------------------------------------------------------------------


@part
def patient_tokens() -> SignedPatientTokens:
    from callpay.adapters.patient_tokens import SignedPatientTokens  # noqa: PLC0415

    return SignedPatientTokens(token_key, timedelta(hours=settings().patient_token_hours))


@part
def clinician_tokens() -> IdentityProviderTokens | None:
    """The identity provider's verifier, or None where it is not configured."""
    from callpay.adapters.clinician_tokens import IdentityProviderTokens  # noqa: PLC0415

    config = settings()
    if not (config.jwt_issuer and config.jwt_audience and config.jwks_url):
        return None
    return IdentityProviderTokens(config.jwt_issuer, config.jwt_audience, config.jwks_url)


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


def platform_caller_of(event: Mapping[str, Any]) -> PlatformCaller:
    """The caller of a platform route: an admin or the platform's backend."""
    from callpay.principals import platform_caller_of as caller  # noqa: PLC0415

    return caller(event, clinician_tokens())
