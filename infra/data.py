"""The single DynamoDB table, built from the same schema module the store and tests use."""

from __future__ import annotations

from typing import cast

from aws_cdk import CfnElement, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from callpay.adapters import table_schema
from infra.config import CallpayConfig
from infra.functions import HandlerFunction

# What DynamoDBPaymentStore does: GetItem, PutItem, Query, and TransactWriteItems,
# which IAM authorises per item as PutItem / UpdateItem / DeleteItem / ConditionCheckItem.
ITEM_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
)
# The table key's use by DynamoDB on the caller's behalf (as CDK's table grants give).
KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
)


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class PaymentData(Construct):
    """Payment requests, clinic settings, connections and processed Stripe events."""

    def __init__(self, scope: Construct, construct_id: str, *, config: CallpayConfig) -> None:
        super().__init__(scope, construct_id)

        # A customer-managed key: the table holds patient e-mails and clinical
        # descriptions, and its key policy and CloudTrail usage are then ours to audit.
        self.key = kms.Key(
            self,
            "Key",
            description=f"callpay {config.stage}: payment data at rest",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
        )
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=_string_key(table_schema.PARTITION_KEY),
            sort_key=_string_key(table_schema.SORT_KEY),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=table_schema.TTL_ATTRIBUTE,
            deletion_protection=config.retains_data,
            removal_policy=config.removal_policy,
            # New items to platform_outbox (the outbox of events to the platform).
            stream=dynamodb.StreamViewType(table_schema.STREAM_VIEW),
        )
        for index_name, (partition_key, sort_key) in table_schema.INDEXES.items():
            self.table.add_global_secondary_index(
                index_name=index_name,
                partition_key=_string_key(partition_key),
                sort_key=_string_key(sort_key) if sort_key else None,
                projection_type=dynamodb.ProjectionType.ALL,
            )

    def grant_read_write(self, handler: HandlerFunction) -> None:
        """Key-based reads and writes on this table and its indexes, and its key's use.

        Narrower than grant_read_write_data on purpose: the store reads by key and
        index only (DESIGN.md: no scans), and nothing reads a stream or batch-writes.
        """
        self.table.grant(handler.function, *ITEM_ACTIONS)
        self.key.grant(handler.function, *KEY_ACTIONS)
        table_arn = Stack.of(self).resolve(
            Stack.of(self).get_logical_id(cast(CfnElement, self.table.node.default_child))
        )
        handler.acknowledge_permission(
            f"AwsSolutions-IAM5[Resource::<{table_arn}.Arn>/index/*]",
            "Queries go to this table's own indexes (by_call, by_clinic, by_payment_intent, "
            "by_hold_expiry); "
            "the wildcard spans this table's indexes and nothing else.",
        )
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            handler.acknowledge_permission(
                f"AwsSolutions-IAM5[Action::{action}]",
                "DynamoDB's encryption with the table's customer-managed key needs the "
                "key's data-key actions; the statement names that one key.",
            )
