"""What platform_delivery builds: the signed delivery of one event to one endpoint, on the
shared parts of callpay.runtime (the endpoint store, the endpoint secrets' key); the
handler holds messages back through runtime.delivery_queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callpay import runtime
from callpay.parts import part

if TYPE_CHECKING:
    from callpay.logic.platform_events import EventDelivery


@part
def event_delivery() -> EventDelivery:
    from callpay.adapters.http_event_sender import HttpEventSender, signed_headers  # noqa: PLC0415
    from callpay.logic.platform_events import EventDelivery  # noqa: PLC0415

    return EventDelivery(
        endpoints=runtime.endpoint_store(), secrets=runtime.endpoint_secrets(),
        sender=HttpEventSender(allow_loopback=runtime.settings().allow_loopback_endpoints),
        sign=signed_headers, clock=runtime.now,
    )  # fmt: skip
