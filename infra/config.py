"""The deployment's settings: CDK context read once into a typed, validated model.

Defaults live in cdk.json's "context"; `cdk deploy -c key=value` overrides any of them.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from aws_cdk import RemovalPolicy
from constructs import Node
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# Stages for development and testing: their data is thrown away with the stack, they log
# at DEBUG, and they may keep example values and local CORS origins. Every other stage
# (prod, staging, eu, ...) is treated as production.
DEVELOPMENT_STAGES = frozenset({"dev", "test", "local"})
LOCAL_ORIGIN = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?/?$", re.IGNORECASE)
PLACEHOLDER = re.compile(r"(^|[./@])example\.(com|org|net)\b")


class ConfigurationError(ValueError):
    """The CDK context does not describe a deployable stack."""


def _listed(value: object) -> object:
    """Lists arrive as JSON lists from cdk.json and as strings from `-c key=a,b`."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class CallpayConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Names the stack (callpay-<stage>) and its resources; any stage but dev, test and
    # local is production-like (see DEVELOPMENT_STAGES).
    stage: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")]
    # The video platform's identity provider, checked by the HTTP API's JWT authorizer.
    jwt_issuer: Annotated[str, Field(pattern=r"^https://\S+$")]
    jwt_audience: Annotated[str, Field(min_length=1)]
    # Where request_payment fetches the issuer's signing keys for the routes it checks
    # itself; default: the issuer's /.well-known/jwks.json (Cognito, Auth0, Okta...).
    jwks_url: Annotated[str | None, Field(pattern=r"^https://\S+$")] = None
    # Receipts are sent from this address; verify the domain instead when it is given.
    sender_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    sender_domain: str | None = None
    # Where Stripe sends a clinic admin back after Connect onboarding ({clinic_id} is
    # filled in): the video platform's clinic settings page.
    connect_return_url: Annotated[str, Field(pattern=r"^https://\S+$")]
    connect_refresh_url: Annotated[str, Field(pattern=r"^https://\S+$")]
    # Import an existing secret by name instead of creating callpay/<stage>/stripe,
    # .../webhook or .../token (infra/app_secrets.py); each on its own.
    stripe_secret_name: str | None = None
    webhook_secret_name: str | None = None
    token_secret_name: str | None = None
    cors_origins: Annotated[list[str], Field(min_length=1)]
    # Optional address subscribed to the alarm topic (confirm the subscription e-mail).
    alarm_email: str | None = None
    api_rate_limit: Annotated[int, Field(gt=0)] = 50
    api_burst_limit: Annotated[int, Field(gt=0)] = 100
    # POST /webhooks/stripe alone, below the stage's limits above.
    webhook_rate_limit: Annotated[int, Field(gt=0)] = 20
    webhook_burst_limit: Annotated[int, Field(gt=0)] = 40
    webhook_signature_failure_threshold: Annotated[int, Field(gt=0)] = 10
    # How long a pay-later link works, and how long before a hold lapses the clinic is
    # warned (the functions' PAY_LINK_HOURS and HOLD_WARNING_HOURS, same bounds).
    pay_link_hours: Annotated[int, Field(gt=0, le=720)] = 72
    hold_warning_hours: Annotated[int, Field(gt=0, le=144)] = 24
    # WebSocket access logs need the region's API Gateway CloudWatch role (one per account).
    manage_apigateway_logs_role: bool = True
    # Keep the table (with deletion protection), its key, the secrets and the log groups
    # when the stack is deleted or they are replaced. Default: true, except in a
    # development stage; set it explicitly to throw away (or keep) a stage's data.
    retain_data: bool | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def split_lists(cls, value: object) -> object:
        return _listed(value)

    @field_validator(
        "sender_domain",
        "stripe_secret_name",
        "webhook_secret_name",
        "token_secret_name",
        "alarm_email",
        "jwks_url",
        "retain_data",
        mode="before",
    )
    @classmethod
    def empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def sender_is_in_its_domain(self) -> CallpayConfig:
        domain = self.sender_domain
        if domain and not self.sender_email.lower().endswith(f"@{domain.lower()}"):
            raise ValueError(f"sender_email must be an address at sender_domain ({domain})")
        return self

    @model_validator(mode="after")
    def webhook_throttle_is_below_the_stage(self) -> CallpayConfig:
        if (
            self.webhook_rate_limit > self.api_rate_limit
            or self.webhook_burst_limit > self.api_burst_limit
        ):
            raise ValueError("webhook_rate_limit/burst_limit must not exceed api_rate/burst_limit")
        return self

    @model_validator(mode="after")
    def production_has_real_values(self) -> CallpayConfig:
        if not self.is_production:
            return self
        placeholders = [
            name
            for name in (
                "jwt_issuer",
                "jwt_audience",
                "jwks_url",
                "sender_email",
                "sender_domain",
                "cors_origins",
                "connect_return_url",
                "connect_refresh_url",
            )
            if PLACEHOLDER.search(json.dumps(getattr(self, name)))
        ]
        if placeholders:
            raise ValueError(
                f"the {self.stage} stage still has example values for {', '.join(placeholders)}"
            )
        if "*" in self.cors_origins:
            raise ValueError(f"the {self.stage} stage must list its CORS origins, not '*'")
        insecure = [
            origin
            for origin in self.cors_origins
            if not origin.lower().startswith("https://") or LOCAL_ORIGIN.match(origin)
        ]
        if insecure:
            raise ValueError(
                f"the {self.stage} stage allows only https CORS origins that are not local: "
                f"{', '.join(insecure)}"
            )
        return self

    @property
    def is_production(self) -> bool:
        """Production-like: any stage that is not named for development or testing."""
        return self.stage not in DEVELOPMENT_STAGES

    @property
    def retains_data(self) -> bool:
        """Whether deleting the stack keeps the data (the retain_data rule, above)."""
        return self.is_production if self.retain_data is None else self.retain_data

    @property
    def removal_policy(self) -> RemovalPolicy:
        """For every resource that holds data: the table, its key, the secrets, the logs."""
        return RemovalPolicy.RETAIN if self.retains_data else RemovalPolicy.DESTROY

    @property
    def jwks_endpoint(self) -> str:
        return self.jwks_url or f"{self.jwt_issuer.rstrip('/')}/.well-known/jwks.json"

    @property
    def log_level(self) -> str:
        return "INFO" if self.is_production else "DEBUG"

    @classmethod
    def from_context(cls, node: Node) -> CallpayConfig:
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            value = node.try_get_context(name)
            if value is not None:
                values[name] = value
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in e['loc']) or 'context'}: {e['msg']}"
                for e in error.errors()
            )
            raise ConfigurationError(f"Invalid CDK context: {problems}") from None
