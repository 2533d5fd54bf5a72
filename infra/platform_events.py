"""Signed events to the video platform: the outbox on the table's stream, the FIFO
delivery queue with its dead letters, and the KMS key that seals endpoint secrets.

platform_outbox reads the table's stream (new outbox items only, by the mapping's filter)
and fans each event out to the delivery queue, a message group per endpoint. A batch it
cannot handle is split and retried, then recorded on the outbox's failure queue (the items
stay in the table a week, so they can be forwarded again). platform_delivery consumes the
queue; a delivery that fails MAX_ATTEMPTS times (backoff over about 12 hours) moves to the
dead-letter queue and stays replayable by the endpoint's replay route.
"""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from callpay.adapters.dynamodb_outbox import STREAM_FILTER
from callpay.domain.webhook_endpoint import MAX_ATTEMPTS
from infra.config import CallpayConfig
from infra.nag import acknowledge
from infra.queues import encrypted_queue, queue_with_dead_letters

# platform_delivery's timeout: a batch of endpoint calls, each at most ~13 s; the queue's
# visibility timeout is six times it, as Lambda advises.
DELIVERY_TIMEOUT_SECONDS = 60
DELIVERY_BATCH_SIZE = 5
OUTBOX_TIMEOUT_SECONDS = 30
# Deliveries retry for about 12 hours; the queue keeps them well beyond, dead letters longer.
QUEUE_RETENTION_DAYS = 4
DEAD_LETTER_RETENTION_DAYS = 14
OUTBOX_RETRY_ATTEMPTS = 10


def delivery_queue_name(stage: str) -> str:
    """The FIFO queue's name (the local stack names it alike); dead letters add -dead-letters."""
    return f"callpay-{stage}-platform-events"


class PlatformEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CallpayConfig) -> None:
        super().__init__(scope, construct_id)
        # Payloads carry ids and amounts (and, on a clinic's opt-in, descriptions).
        self.queue, self.dead_letters = queue_with_dead_letters(
            self,
            visibility_timeout=Duration.seconds(DELIVERY_TIMEOUT_SECONDS * 6),
            retention=Duration.days(QUEUE_RETENTION_DAYS),
            dead_letter_retention=Duration.days(DEAD_LETTER_RETENTION_DAYS),
            max_receive_count=MAX_ATTEMPTS,
            fifo_name=delivery_queue_name(config.stage),
        )
        # Where the outbox's stream mapping records batches it gave up on.
        self.outbox_failures = encrypted_queue(
            self, "OutboxFailures", retention_period=Duration.days(DEAD_LETTER_RETENTION_DAYS)
        )
        acknowledge(
            self.outbox_failures,
            "AwsSolutions-SQS3",
            "This queue is itself a dead-letter destination (the outbox stream mapping's "
            "on-failure destination); its depth raises an alarm, nothing consumes it.",
        )
        # Endpoint signing secrets must be recoverable to sign (Standard Webhooks' HMAC):
        # sealed under this key, opened only by platform_delivery.
        self.secrets_key = kms.Key(
            self,
            "EndpointSecretsKey",
            description=f"callpay {config.stage}: webhook endpoint signing secrets",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
        )

    def grant_seal(self, handler: lambda_.Function) -> None:
        """Encrypt only: the registering function can seal a secret but never open one."""
        iam.Grant.add_to_principal(
            grantee=handler, actions=["kms:Encrypt"], resource_arns=[self.secrets_key.key_arn]
        )

    def grant_open(self, handler: lambda_.Function) -> None:
        iam.Grant.add_to_principal(
            grantee=handler, actions=["kms:Decrypt"], resource_arns=[self.secrets_key.key_arn]
        )

    def grant_enqueue(self, handler: lambda_.Function) -> None:
        self.queue.grant_send_messages(handler)

    def add_outbox_reader(self, handler: lambda_.Function, table: dynamodb.ITable) -> None:
        """The table's stream -> handler: outbox inserts only, in order, failures split."""
        assert table.table_stream_arn is not None
        handler.add_event_source_mapping(
            "OutboxStream",
            event_source_arn=table.table_stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=10,
            bisect_batch_on_error=True,
            retry_attempts=OUTBOX_RETRY_ATTEMPTS,
            report_batch_item_failures=True,
            filters=[{"pattern": json.dumps(STREAM_FILTER)}],
            on_failure=event_sources.SqsDlq(self.outbox_failures),
        )
        # The stream of this one table (CDK's grantStreamRead adds ListStreams on "*").
        iam.Grant.add_to_principal(
            grantee=handler,
            actions=["dynamodb:DescribeStream", "dynamodb:GetRecords",
                     "dynamodb:GetShardIterator"],
            resource_arns=[table.table_stream_arn],
        )  # fmt: skip
        self.outbox_failures.grant_send_messages(handler)

    def add_delivery_consumer(self, handler: lambda_.Function) -> None:
        """The queue -> handler, with partial batch failures (each endpoint's group apart)."""
        handler.add_event_source(
            event_sources.SqsEventSource(
                self.queue, batch_size=DELIVERY_BATCH_SIZE, report_batch_item_failures=True
            )
        )
