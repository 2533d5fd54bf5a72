"""The delivery queue (SQS FIFO, a message group per endpoint) -> signed POSTs to the
platform's endpoints.

A failed attempt keeps its message out of sight for the backoff of that attempt (30 s
doubling up to 4 h) and is reported failed; the endpoint's later messages wait behind it,
so each endpoint gets its events in order. After the last attempt the delivery is
recorded failed (replayable) and SQS moves the message to the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from callpay import runtime
from callpay.domain.webhook_endpoint import Delivery
from callpay.logic.platform_events import Delivered, RetryLater
from platform_delivery import composition

logger = Logger(service="platform_delivery")
metrics = Metrics(namespace="callpay", service="platform_delivery")
# A failure holds back the rest of its endpoint's messages in the batch, not the others'.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# A batch whose every message failed is reported like any other (as send_receipt does).
processor.raise_on_entire_batch_failure = False


class GaveUp(Exception):
    """The last attempt failed: the message goes to the dead-letter queue."""


def deliver(record: SQSRecord) -> None:
    delivery = Delivery.model_validate_json(record.body)
    attempt = int(record.attributes.approximate_receive_count)
    try:
        outcome = composition.event_delivery().deliver(delivery, attempt)
    except RetryLater as later:
        metrics.add_metric(name="PlatformDeliveryRetries", unit=MetricUnit.Count, value=1)
        runtime.delivery_queue().hold(record.receipt_handle, later.delay)
        raise
    metrics.add_metric(name=f"PlatformDeliveries_{outcome.value}", unit=MetricUnit.Count, value=1)
    if outcome is Delivered.GAVE_UP:
        runtime.delivery_queue().hold(record.receipt_handle, 0)
        raise GaveUp(delivery.event_id)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=deliver, processor=processor, context=context
    )
