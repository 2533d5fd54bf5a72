"""Configuration: the environment read once into a typed model, secrets fetched at run time.

Secrets (Stripe keys, webhook signing secrets, the patient token key) live in one
Secrets Manager secret as JSON and are never put in environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigurationError(RuntimeError):
    """The function was deployed without a setting it needs."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: Annotated[str, Field(min_length=1)]
    # Three Secrets Manager secrets, so each function is granted only what it uses: the
    # Stripe keys, the webhook signing secrets, the patient token key.
    stripe_secret_id: str | None = None
    webhook_secret_id: str | None = None
    token_secret_id: str | None = None
    # Stripe's API base; set to localstripe's address in the local stack and tests.
    stripe_api_base: str | None = None
    patient_token_hours: Annotated[int, Field(gt=0, le=24)] = 4
    # How long a pay-later link works (at most 30 days), and how long before a hold lapses
    # the clinic is warned.
    pay_link_hours: Annotated[int, Field(gt=0, le=720)] = 72
    hold_warning_hours: Annotated[int, Field(gt=0, le=144)] = 24
    # The hosted pay page (https://.../pay/): patient access answers a link to it with the
    # call and the token in the URL fragment. Without it, patient access has no link.
    patient_page_url: Annotated[str | None, Field(pattern=r"^https?://\S+$")] = None
    # The video platform's identity provider, for clinician JWTs checked in the Lambda
    # (routes shared with patients have no API Gateway authorizer). All three or none.
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwks_url: str | None = None
    # The WebSocket API's @connections endpoint (https://{api}.execute-api.{region}...
    # /{stage}); needed by every function that pushes payment updates.
    websocket_callback_url: str | None = None
    # Receipts: the queue the webhook feeds, and the SES sender the worker sends from.
    receipt_queue_url: str | None = None
    receipt_sender: str | None = None
    ses_configuration_set: str | None = None
    # Connect onboarding: where Stripe sends the clinic admin back ({clinic_id} is filled
    # in). LOCAL_ONBOARDING_URL replaces Stripe Connect in the local stack only.
    connect_return_url: str | None = None
    connect_refresh_url: str | None = None
    local_onboarding_url: str | None = None
    secret_max_age_seconds: Annotated[int, Field(ge=0)] = 300
    # Events to the platform: the FIFO delivery queue, the KMS key sealing endpoint secrets,
    # and (local stack only) whether endpoints on this machine (http://127.0.0.1) are allowed.
    platform_event_queue_url: str | None = None
    endpoint_secret_key_id: str | None = None
    allow_loopback_endpoints: bool = False

    ENV: ClassVar[dict[str, str]] = {
        "table_name": "TABLE_NAME",
        "stripe_secret_id": "STRIPE_SECRET_ID",
        "webhook_secret_id": "WEBHOOK_SECRET_ID",
        "token_secret_id": "TOKEN_SECRET_ID",
        "stripe_api_base": "STRIPE_API_BASE",
        "patient_token_hours": "PATIENT_TOKEN_HOURS",
        "pay_link_hours": "PAY_LINK_HOURS",
        "hold_warning_hours": "HOLD_WARNING_HOURS",
        "patient_page_url": "PATIENT_PAGE_URL",
        "secret_max_age_seconds": "SECRET_MAX_AGE_SECONDS",
        "jwt_issuer": "JWT_ISSUER",
        "jwt_audience": "JWT_AUDIENCE",
        "jwks_url": "JWKS_URL",
        "websocket_callback_url": "WEBSOCKET_CALLBACK_URL",
        "receipt_queue_url": "RECEIPT_QUEUE_URL",
        "receipt_sender": "RECEIPT_SENDER",
        "ses_configuration_set": "SES_CONFIGURATION_SET",
        "connect_return_url": "CONNECT_RETURN_URL",
        "connect_refresh_url": "CONNECT_REFRESH_URL",
        "local_onboarding_url": "LOCAL_ONBOARDING_URL",
        "platform_event_queue_url": "PLATFORM_EVENT_QUEUE_URL",
        "endpoint_secret_key_id": "ENDPOINT_SECRET_KEY_ID",
        "allow_loopback_endpoints": "ALLOW_LOOPBACK_ENDPOINTS",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        values = {field: environ[var] for field, var in cls.ENV.items() if environ.get(var)}
        try:
            settings = cls.model_validate(values)
        except ValidationError as error:
            names = ", ".join(
                cls.ENV.get(str(e["loc"][0]), str(e["loc"][0])) for e in error.errors()
            )
            raise ConfigurationError(f"Missing or invalid environment variables: {names}") from None
        identity = (settings.jwt_issuer, settings.jwt_audience, settings.jwks_url)
        if any(identity) and not all(identity):
            raise ConfigurationError("Set all of JWT_ISSUER, JWT_AUDIENCE and JWKS_URL, or none.")
        return settings


class StripeKeys(BaseModel):
    """The secret named by STRIPE_SECRET_ID."""

    model_config = ConfigDict(frozen=True)

    stripe_api_key: Annotated[str, Field(min_length=1)]
    stripe_publishable_key: Annotated[str, Field(min_length=1)]


class TokenKey(BaseModel):
    """The secret named by TOKEN_SECRET_ID: signs patient access tokens."""

    model_config = ConfigDict(frozen=True)

    patient_token_key: Annotated[str, Field(min_length=32)]


class WebhookSecrets(BaseModel):
    """The secret named by WEBHOOK_SECRET_ID."""

    model_config = ConfigDict(frozen=True)

    # Several at once: the account endpoint's, the Connect endpoint's, and old ones while rotating.
    webhook_secrets: Annotated[list[str], Field(min_length=1)]

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def split_secrets(cls, value: object) -> object:
        return value.split() if isinstance(value, str) else value
