"""POST /webhooks/stripe: verify the signature, apply the event once, answer fast.

A bad signature is a 400 (Stripe shows it; a 5xx would make it retry for days), and so
is a signed event whose shape we cannot read. Events we do not act on, or that are not
about our payments, are a 200.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from callpay.adapters.aws import is_transient
from callpay.adapters.webhook_signature import SignatureError, verify
from callpay.api_models import WebhookReceivedOut
from callpay.domain.errors import DomainError
from callpay.domain.stripe_objects import StripeEvent
from callpay.domain.stripe_outcomes import ACCOUNT_EVENTS, HANDLED
from callpay.http_api import lambda_answer, lambda_refusal
from callpay.logic.stripe_events import Applied, Outcome
from stripe_webhook import composition

logger = Logger(service="stripe_webhook")
metrics = Metrics(namespace="callpay", service="stripe_webhook")


def raw_body(event: dict[str, Any]) -> bytes:
    """The body exactly as Stripe sent it; the signature covers these bytes."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body, validate=True)
    return body.encode("utf-8")


def header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        payload = raw_body(event)
    except (binascii.Error, ValueError):
        return lambda_refusal(400, "malformed_body", "The body is not valid base64.")
    try:
        verify(payload, header(event, "stripe-signature"), composition.webhook_secrets())
    except SignatureError as error:
        metrics.add_metric(name="WebhookSignatureFailures", unit=MetricUnit.Count, value=1)
        logger.warning("webhook signature refused", extra={"reason": str(error)})
        return lambda_refusal(
            400, "invalid_signature", "The Stripe-Signature header does not verify."
        )
    try:
        stripe_event = StripeEvent.model_validate_json(payload)
        if stripe_event.type in ACCOUNT_EVENTS:
            applied = composition.connect_events().apply(stripe_event)
        elif stripe_event.type in HANDLED:
            applied = composition.stripe_events().apply(stripe_event)
        else:
            applied = Applied(Outcome.IGNORED)  # Stripe's contract: 2xx for what we skip
    except ValidationError as error:
        # Signed, but not a shape we can read: nothing was changed.
        logger.warning("malformed stripe event", extra={"errors": error.error_count()})
        return lambda_refusal(400, "malformed_event", "The body is not a Stripe event we can read.")
    except DomainError as error:
        # Busy (409 concurrent_update, 503 store_busy): Stripe delivers it again later.
        return lambda_refusal(error.status, error.code, error.message)
    except (BotoCoreError, ClientError) as error:
        if not is_transient(error):
            raise
        # The store still failing after the client's retries: Stripe delivers the event
        # again later, which applies it, or finds it applied if a lost answer hid a write.
        logger.warning("store unavailable", extra={"event_id": stripe_event.id})
        return lambda_refusal(503, "store_busy", "Please deliver this event again.")
    logger.info(
        "stripe event handled",
        extra={
            "event_id": stripe_event.id,
            "event_type": stripe_event.type,
            "api_version": stripe_event.api_version,
            "outcome": applied.outcome.value,
            "payment_request_id": applied.request.id if applied.request else None,
        },
    )
    metrics.add_metric(
        name=f"WebhookEvents_{applied.outcome.value}", unit=MetricUnit.Count, value=1
    )
    if applied.outcome is Outcome.EARLY:
        # Any non-2xx makes Stripe deliver it again later (a 409, not a 5xx: nothing failed).
        return lambda_refusal(
            409, "not_yet_paid", "The payment this event is about is not paid yet."
        )
    return lambda_answer(200, WebhookReceivedOut(outcome=applied.outcome).model_dump(mode="json"))
