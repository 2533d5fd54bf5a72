"""ReceiptQueue on SQS: the webhook hands receipts over and never waits for email."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callpay.domain.receipt_job import ReceiptJob


class SqsReceiptQueue:
    def __init__(self, client_factory: Callable[[], Any], queue_url: str) -> None:
        self._client_factory = client_factory
        self._queue_url = queue_url

    def enqueue(self, job: ReceiptJob) -> None:
        self._client_factory().send_message(
            QueueUrl=self._queue_url, MessageBody=job.model_dump_json()
        )
