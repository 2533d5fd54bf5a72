"""The table's stream -> the platform's delivery queue: each new outbox item (an event
written with the change it announces) becomes one delivery per subscribed endpoint.

The event source mapping passes only outbox inserts (its filter); a record that fails is
reported alone (partial batch response) and retried, the ones after it with it, so the
stream's order is kept. Forwarding twice is harmless: the delivery record and the FIFO
queue's de-duplication keep each delivery single.
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
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from callpay.adapters.dynamodb_outbox import event_of
from platform_outbox import composition

logger = Logger(service="platform_outbox")
metrics = Metrics(namespace="callpay", service="platform_outbox")
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def forward(record: DynamoDBRecord) -> None:
    event = event_of(record.raw_event["dynamodb"]["NewImage"])
    queued = composition.event_fan_out().forward(event)
    metrics.add_metric(name="PlatformEventsQueued", unit=MetricUnit.Count, value=queued)
    logger.info(
        "event fanned out", extra={"event_id": event.id, "type": event.type, "deliveries": queued}
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=forward, processor=processor, context=context
    )
