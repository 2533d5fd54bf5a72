"""The local stack's AWS stand-in (devtools/moto_server.py) keeps what DynamoDB guarantees
when the functions write at once: every transaction is applied whole or refused by its
condition, never failed, and a refused or failed one leaves no item and no stream record
behind. A server of its own, so the stack the other tests share keeps its data small."""

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
def endpoint(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "devtools.moto_server", "-H", "127.0.0.1", "-p", str(port)]
    server = ChildProcess("moto", argv, tmp_path / "moto.log", cwd=REPO_ROOT).start()
    try:
        server.wait_listening(port, "127.0.0.1")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        # No retries: a 500 would otherwise be retried out of sight.
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture
def dynamodb(endpoint: str) -> Any:
    return client("dynamodb", endpoint)


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


def stream_records(endpoint: str, stream_arn: str) -> list[dict[str, Any]]:
    streams = client("dynamodbstreams", endpoint)
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return list(streams.get_records(ShardIterator=iterator)["Records"])


def test_a_refused_or_failed_transaction_leaves_no_item_and_no_stream_record(
    dynamodb: Any, endpoint: str
) -> None:
    table = "outbox"
    stream_arn = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    dynamodb.put_item(TableName=table, Item={"PK": {"S": "held"}, "n": {"S": "text"}})
    new = {"Put": {"TableName": table, "Item": {"PK": {"S": "new"}}}}

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=[new, {"Put": {
            "TableName": table, "Item": {"PK": {"S": "held"}},
            "ConditionExpression": "attribute_not_exists(PK)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }}])  # fmt: skip
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = refused.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"] == {"PK": {"S": "held"}, "n": {"S": "text"}}

    with pytest.raises(ClientError) as failed:  # adds a number to text: fails while writing
        dynamodb.transact_write_items(TransactItems=[new, {"Update": {
            "TableName": table, "Key": {"PK": {"S": "held"}},
            "UpdateExpression": "SET n = n + :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }}])  # fmt: skip
    assert failed.value.response["Error"]["Code"] == "ValidationException"

    with pytest.raises(ClientError) as twice:
        dynamodb.transact_write_items(TransactItems=[new, new])
    assert twice.value.response["Error"]["Code"] == "ValidationException"

    items = dynamodb.scan(TableName=table)["Items"]
    assert items == [{"PK": {"S": "held"}, "n": {"S": "text"}}]
    assert [r["eventName"] for r in stream_records(endpoint, stream_arn)] == ["INSERT"]

    dynamodb.transact_write_items(TransactItems=[new, {"Update": {
        "TableName": table, "Key": {"PK": {"S": "held"}},
        "UpdateExpression": "SET n = :n", "ConditionExpression": "n = :text",
        "ExpressionAttributeValues": {":n": {"N": "1"}, ":text": {"S": "text"}},
    }}])  # fmt: skip
    assert sorted(i["PK"]["S"] for i in dynamodb.scan(TableName=table)["Items"]) == [
        "held",
        "new",
    ]
    assert [r["eventName"] for r in stream_records(endpoint, stream_arn)] == [
        "INSERT",
        "INSERT",
        "MODIFY",
    ]
