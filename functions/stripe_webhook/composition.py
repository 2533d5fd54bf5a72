"""What stripe_webhook builds: the webhook signing secrets, and the two appliers of signed
events (payments; Connect accounts), on the shared parts of callpay.runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callpay import runtime
from callpay.config import WebhookSecrets
from callpay.parts import part

if TYPE_CHECKING:
    from callpay.logic.connect_events import ConnectEvents
    from callpay.logic.stripe_events import StripeEvents


def webhook_secrets() -> list[str]:
    value = runtime.secret(runtime.settings().webhook_secret_id, "WEBHOOK_SECRET_ID")
    return WebhookSecrets.model_validate(value).webhook_secrets


@part
def stripe_events() -> StripeEvents:
    from callpay.logic.stripe_events import StripeEvents  # noqa: PLC0415

    return StripeEvents(
        store=runtime.store(), notifier=runtime.notifier(), receipts=runtime.receipt_queue(),
        clock=runtime.now,
    )  # fmt: skip


@part
def connect_events() -> ConnectEvents:
    from callpay.logic.connect_events import ConnectEvents  # noqa: PLC0415

    return ConnectEvents(clinics=runtime.clinic_store(), events=runtime.store(), clock=runtime.now)
