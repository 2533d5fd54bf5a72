"""SQS -> one receipt email per paid request, however often the job is delivered.

Each message is handled on its own: a failure (SES refusing, another worker mid-send)
returns only that message to the queue (partial batch response); after the queue's
maximum receives it lands in the dead-letter queue, which raises an alarm.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from callpay.domain.receipt_job import ReceiptJob
from send_receipt import composition

logger = Logger(service="send_receipt")
metrics = Metrics(namespace="callpay", service="send_receipt")
# A batch whose every message failed is reported like any other, not raised: the answer
# names the failures and SQS retries just those (here, all of them).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def send(record: SQSRecord) -> None:
    job = ReceiptJob.model_validate_json(record.body)
    outcome = composition.receipts().send(job)
    metrics.add_metric(name=f"Receipts_{outcome.value}", unit=MetricUnit.Count, value=1)
    logger.info(
        "receipt job done",
        extra={"payment_request_id": job.payment_request_id, "outcome": outcome.value},
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=send, processor=processor, context=context
    )
