"""Receipt e-mail: the queue the payment functions fill, its dead-letter queue, and SES.

send_receipt consumes the queue with partial batch failures; a message that fails
MAX_RECEIVE_COUNT times moves to the dead-letter queue, which raises an alarm.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_ses as ses
from constructs import Construct

from infra.config import CallpayConfig
from infra.queues import queue_with_dead_letters

MAX_RECEIVE_COUNT = 5
# send_receipt's timeout; the queue's visibility timeout is six times it, as Lambda advises.
CONSUMER_TIMEOUT_SECONDS = 30
# Receipt jobs older than Stripe's retry window are of no use; dead letters wait longer
# for someone to inspect and redrive them.
QUEUE_RETENTION_DAYS = 4
DEAD_LETTER_RETENTION_DAYS = 14


def receipt_configuration_set(stage: str) -> str:
    """The SES configuration set receipts are sent with (the local stack names it alike)."""
    return f"callpay-{stage}-receipts"


class Receipts(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CallpayConfig) -> None:
        super().__init__(scope, construct_id)
        # Messages hold a patient's e-mail address: encrypted at rest, TLS only.
        self.queue, self.dead_letters = queue_with_dead_letters(
            self,
            visibility_timeout=Duration.seconds(CONSUMER_TIMEOUT_SECONDS * 6),
            retention=Duration.days(QUEUE_RETENTION_DAYS),
            dead_letter_retention=Duration.days(DEAD_LETTER_RETENTION_DAYS),
            max_receive_count=MAX_RECEIVE_COUNT,
        )

        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=receipt_configuration_set(config.stage),
            reputation_metrics=True,
            sending_enabled=True,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        )
        # A verified domain (DKIM records in its DNS) when one is given, else the address.
        identity = (
            ses.Identity.domain(config.sender_domain)
            if config.sender_domain
            else ses.Identity.email(config.sender_email)
        )
        self.sender_email = config.sender_email
        self.identity = ses.EmailIdentity(
            self, "Identity", identity=identity, configuration_set=self.configuration_set
        )

    def grant_enqueue(self, grantee: iam.IGrantable) -> None:
        self.queue.grant_send_messages(grantee)

    def add_consumer(self, handler: lambda_.Function) -> None:
        """The receipt sender: partial batch failures, so one bad message is retried alone."""
        handler.add_event_source(
            event_sources.SqsEventSource(self.queue, batch_size=10, report_batch_item_failures=True)
        )

    @property
    def configuration_set_name(self) -> str:
        return self.configuration_set.configuration_set_name

    def grant_send_receipts(self, grantee: iam.IGrantable) -> None:
        """SES SendEmail from this identity with this configuration set, nothing else."""
        configuration_set_arn = Stack.of(self).format_arn(
            service="ses",
            resource="configuration-set",
            resource_name=self.configuration_set_name,
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["ses:SendEmail", "ses:SendRawEmail"],
            resource_arns=[self.identity.email_identity_arn, configuration_set_arn],
        )
