"""Feeds an SQS queue to a Lambda handler the way Lambda's SQS event source mapping does.

Messages are received in batches, handed over as an SQS event, and deleted unless the
handler reports them in `batchItemFailures` (ReportBatchItemFailures); failed ones stay
on the queue and come back after their visibility timeout, like in AWS. `run` long-polls
until told to stop, as the local stack's receipt worker.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from devtools.lambda_functions import local_function

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

logger = logging.getLogger("callpay.sqs_worker")


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's own
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
            for m in messages
        ]
    }


class SqsWorker:
    def __init__(
        self, sqs: Any, queue_url: str, handler: Handler, batch_size: int = 10,
        name: str = "send_receipt",
    ) -> None:  # fmt: skip
        self._sqs = sqs
        self._queue_url = queue_url
        # A bare handler gets Lambda's context and one invocation at a time, like the rest.
        self._function = local_function(handler, name, timeout_seconds=30)
        self._batch_size = batch_size
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self._queue_arn = attributes["Attributes"]["QueueArn"]

    def poll_once(self, wait_seconds: int = 0, retry_now: bool = False) -> tuple[int, int]:
        """Handle one batch; returns (handled, failed). `retry_now` makes failures visible
        again at once instead of after the visibility timeout (for tests)."""
        received = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0, 0
        answer = self._function(sqs_event(received, self._queue_arn)) or {}
        failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        for message in received:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(
                    QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            elif retry_now:
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
        return len(received), len(failed)

    def drain(self, retry_now: bool = False, max_batches: int = 50) -> tuple[int, int]:
        """Poll until the queue is empty (or only failures remain); totals of both."""
        handled = failed = 0
        for _ in range(max_batches):
            got, bad = self.poll_once(retry_now=retry_now)
            handled, failed = handled + got, failed + bad
            if got == 0 or (bad == got and not retry_now):
                break
        return handled, failed

    def run(self, stop: threading.Event, wait_seconds: int = 1) -> None:
        """Long-poll and hand over batches until `stop` is set."""
        while not stop.is_set():
            try:
                self.poll_once(wait_seconds=wait_seconds)
            except (BotoCoreError, ClientError):
                logger.exception("cannot reach the queue; retrying in a second")
                stop.wait(1)
            # Lambda treats a handler that raises as a failed invocation: the batch stays
            # on the queue and comes back after its visibility timeout. Same here, and the
            # worker carries on with the next batch instead of dying.
            except Exception:
                logger.exception("the handler raised; the batch goes back to the queue")
