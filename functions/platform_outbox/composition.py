"""What platform_outbox builds: the fan-out of an outbox event to the subscribed
endpoints' deliveries, on the shared parts of callpay.runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callpay import runtime
from callpay.parts import part

if TYPE_CHECKING:
    from callpay.logic.platform_events import EventFanOut


@part
def event_fan_out() -> EventFanOut:
    from callpay.logic.platform_events import EventFanOut  # noqa: PLC0415

    return EventFanOut(
        clinic_of=runtime.clinic_store().get_clinic, endpoints=runtime.endpoint_store(),
        queue=runtime.delivery_queue(),
    )  # fmt: skip
