"""The local stack's AWS stand-in keeps what DynamoDB guarantees when the functions write
at once: every transaction is applied whole or refused by its condition, never failed."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import LocalStack, at_once

pytestmark = pytest.mark.e2e

WRITERS = 8
TRANSACTIONS = 30


def test_concurrent_transactions_are_all_applied_and_a_conditional_write_wins_once(
    stack: LocalStack,
) -> None:
    endpoints = stack.endpoints
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=endpoints.aws_endpoint_url,
        region_name=endpoints.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        # No retries: a 500 would otherwise be retried out of sight.
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    table = f"race-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def transactions(writer: int) -> list[str]:
        failures = []
        for number in range(TRANSACTIONS):
            key = f"{writer}-{number}"
            try:
                dynamodb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": table, "Item": {"PK": {"S": key}},
                             "ConditionExpression": "attribute_not_exists(PK)"}},
                    {"Put": {"TableName": table, "Item": {"PK": {"S": f"audit-{key}"}}}},
                ])  # fmt: skip
            except ClientError as error:
                failures.append(str(error))
        return failures

    def claim(writer: int) -> bool:
        try:
            dynamodb.put_item(
                TableName=table,
                Item={"PK": {"S": "claimed"}, "by": {"N": str(writer)}},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False
        return True

    try:
        assert [f for failures in at_once(WRITERS, transactions) for f in failures] == []
        assert at_once(WRITERS, claim).count(True) == 1
        count = dynamodb.scan(TableName=table, Select="COUNT")["Count"]
        assert count == WRITERS * TRANSACTIONS * 2 + 1
    finally:
        dynamodb.delete_table(TableName=table)
