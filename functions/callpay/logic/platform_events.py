"""Events to the platform: each outbox event fanned out to the organisation's endpoints,
then each delivery signed and sent, at least once, retried with backoff until it lands
or gives up (and can be replayed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from aws_lambda_powertools import Logger

from callpay.domain.clinic import Clinic
from callpay.domain.platform_events import PlatformEvent
from callpay.domain.webhook_endpoint import MAX_ATTEMPTS, Delivery, retry_delay
from callpay.ports import DeliveryQueue, EndpointSecrets, EndpointStore, EventSender

logger = Logger(child=True)

Sign = Callable[[str, str, datetime, str], dict[str, str]]


class Delivered(StrEnum):
    DELIVERED = "delivered"
    ALREADY_DELIVERED = "already_delivered"  # a duplicate message, or replayed meanwhile
    ENDPOINT_GONE = "endpoint_gone"  # removed: nothing more goes to it
    GAVE_UP = "gave_up"  # the last attempt failed: recorded as failed, replayable


class RetryLater(Exception):
    """This attempt failed; try again after `delay` seconds."""

    def __init__(self, delay: int, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass
class EventFanOut:
    """One outbox event -> one delivery per endpoint of the clinic's organisation."""

    clinic_of: Callable[[str], Clinic | None]
    endpoints: EndpointStore
    queue: DeliveryQueue

    def forward(self, event: PlatformEvent) -> int:
        clinic = self.clinic_of(event.clinic_id)
        if clinic is None:
            return 0
        payload = event.payload(share_description=clinic.share_description_with_platform)
        sent = 0
        for endpoint in self.endpoints.endpoints_of(clinic.org_id):
            if not endpoint.wants(event.type):
                continue
            delivery = self.endpoints.add_delivery(
                Delivery(
                    endpoint_id=endpoint.id, org_id=clinic.org_id, event_id=event.id,
                    event_type=event.type, occurred_at=event.occurred_at, payload=payload,
                )
            )  # fmt: skip
            if delivery.status == "pending":
                self.queue.send(delivery)
                sent += 1
        return sent


@dataclass
class EventDelivery:
    """Sends one delivery (as the queue handed it over) to its endpoint, signed."""

    endpoints: EndpointStore
    secrets: EndpointSecrets
    sender: EventSender
    sign: Sign
    clock: Callable[[], datetime]

    def deliver(self, message: Delivery, attempt: int) -> Delivered:
        """`attempt` counts from 1 (SQS's receive count). Raises RetryLater on a failure
        that is not the last."""
        endpoint = self.endpoints.get_endpoint(message.org_id, message.endpoint_id)
        if endpoint is None:
            return Delivered.ENDPOINT_GONE
        record = self.endpoints.get_delivery(message.endpoint_id, message.key) or message
        if record.status == "delivered" or record.replays > message.replays:
            return Delivered.ALREADY_DELIVERED
        secret = self.secrets.open(endpoint.secret_ciphertext, endpoint.org_id, endpoint.id)
        now = self.clock()
        headers = self.sign(secret, record.event_id, now, record.payload)
        sent = self.sender.post(endpoint.url, record.payload, headers)
        if sent.ok:
            self.endpoints.save_delivery(
                record.model_copy(
                    update={"status": "delivered", "attempts": record.attempts + 1,
                            "delivered_at": now, "last_error": None}
                )
            )  # fmt: skip
            return Delivered.DELIVERED
        reason = f"HTTP {sent.status}" if sent.status is not None else str(sent.error)
        gave_up = attempt >= MAX_ATTEMPTS
        self.endpoints.save_delivery(
            record.model_copy(
                update={"status": "failed" if gave_up else "pending",
                        "attempts": record.attempts + 1, "last_error": reason}
            )
        )  # fmt: skip
        logger.info(
            "delivery failed",
            extra={"endpoint_id": endpoint.id, "event_id": record.event_id, "attempt": attempt,
                   "reason": reason, "gave_up": gave_up},
        )  # fmt: skip
        if gave_up:
            return Delivered.GAVE_UP
        raise RetryLater(retry_delay(attempt), reason)
