"""The delivery queue: SQS FIFO, one message group per endpoint, so each endpoint gets its
events in order and one failing endpoint holds back only its own."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from callpay.domain.webhook_endpoint import Delivery


class SqsDeliveryQueue:
    def __init__(self, client: Callable[[], Any], queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, delivery: Delivery) -> None:
        # A forwarder that retries sends the same message again: SQS drops it (5 minutes'
        # de-duplication), and the delivery record stops anything older. A replay is new.
        dedupe = f"{delivery.event_id}\n{delivery.endpoint_id}\n{delivery.replays}"
        self._client().send_message(
            QueueUrl=self._url,
            MessageBody=delivery.model_dump_json(),
            MessageGroupId=delivery.endpoint_id,
            MessageDeduplicationId=hashlib.sha256(dedupe.encode()).hexdigest(),
        )

    def hold(self, receipt_handle: str, seconds: int) -> None:
        """Keep a message that failed out of sight for `seconds` (the retry's backoff)."""
        self._client().change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
