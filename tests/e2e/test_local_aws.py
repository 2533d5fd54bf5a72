"""The local stack's AWS stand-in (devtools/moto_server.py) keeps what DynamoDB guarantees
when the functions write at once: every transaction is applied whole or refused by its
condition, never failed. A server of its own, so the stack the other tests share keeps
its data small."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devtools.paths import REPO_ROOT
from devtools.processes import ChildProcess, free_port
from tests.e2e.conftest import at_once

pytestmark = pytest.mark.e2e

WRITERS = 8
TRANSACTIONS = 30


@pytest.fixture
def dynamodb(tmp_path: Path) -> Iterator[Any]:
    port = free_port()
    argv = [sys.executable, "-m", "devtools.moto_server", "-H", "127.0.0.1", "-p", str(port)]
    server = ChildProcess("moto", argv, tmp_path / "moto.log", cwd=REPO_ROOT).start()
    try:
        server.wait_listening(port, "127.0.0.1")
        yield boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            # No retries: a 500 would otherwise be retried out of sight.
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )
    finally:
        server.stop()


def test_concurrent_transactions_are_all_applied_and_a_conditional_write_wins_once(
    dynamodb: Any,
) -> None:
    table = "race"
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

    assert [f for failures in at_once(WRITERS, transactions) for f in failures] == []
    assert at_once(WRITERS, claim).count(True) == 1
    count = dynamodb.scan(TableName=table, Select="COUNT")["Count"]
    assert count == WRITERS * TRANSACTIONS * 2 + 1
