"""What platform_api builds: the clinics' invoices and the platform's webhook endpoints,
on the shared parts of callpay.runtime (the clinic and endpoint stores, the endpoint
secrets' key, the delivery queue for replays)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callpay import runtime
from callpay.parts import part

if TYPE_CHECKING:
    from callpay.logic.invoices import Invoices
    from callpay.logic.webhook_endpoints import WebhookEndpoints


@part
def invoices() -> Invoices:
    from callpay.adapters.dynamodb_invoices import DynamoDBInvoiceStore  # noqa: PLC0415
    from callpay.logic.invoices import Invoices  # noqa: PLC0415

    store = DynamoDBInvoiceStore(runtime.client("dynamodb"), runtime.settings().table_name)
    return Invoices(invoices=store, clinic_of=runtime.clinic_store().get_clinic, clock=runtime.now)


@part
def webhook_endpoints() -> WebhookEndpoints:
    from callpay.logic.webhook_endpoints import WebhookEndpoints  # noqa: PLC0415

    return WebhookEndpoints(
        endpoints=runtime.endpoint_store(), secrets=runtime.endpoint_secrets(),
        queue=runtime.delivery_queue(), clock=runtime.now,
        allow_loopback=runtime.settings().allow_loopback_endpoints,
    )  # fmt: skip
