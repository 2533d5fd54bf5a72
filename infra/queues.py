"""SQS queues as callpay makes them: encrypted at rest, TLS only, and a work queue with
its dead-letter queue (the receipts', the platform events')."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct


def encrypted_queue(scope: Construct, construct_id: str, **props: Any) -> sqs.Queue:
    return sqs.Queue(
        scope, construct_id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
        **props,
    )  # fmt: skip


def queue_with_dead_letters(
    scope: Construct,
    *,
    visibility_timeout: Duration,
    retention: Duration,
    dead_letter_retention: Duration,
    max_receive_count: int,
    fifo_name: str | None = None,
) -> tuple[sqs.Queue, sqs.Queue]:
    """`Queue` and its `DeadLetters` (a message received `max_receive_count` times moves
    there); FIFO, named `<fifo_name>.fifo` and `<fifo_name>-dead-letters.fifo`, if named."""
    fifo: dict[str, Any] = {}
    dead_fifo: dict[str, Any] = {}
    if fifo_name:
        fifo = {"fifo": True, "queue_name": f"{fifo_name}.fifo"}
        dead_fifo = {"fifo": True, "queue_name": f"{fifo_name}-dead-letters.fifo"}
    dead_letters = encrypted_queue(
        scope, "DeadLetters", retention_period=dead_letter_retention, **dead_fifo
    )
    queue = encrypted_queue(
        scope,
        "Queue",
        visibility_timeout=visibility_timeout,
        retention_period=retention,
        dead_letter_queue=sqs.DeadLetterQueue(
            queue=dead_letters, max_receive_count=max_receive_count
        ),
        **fifo,
    )
    return queue, dead_letters
