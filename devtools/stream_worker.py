"""Feeds a DynamoDB table's stream to a Lambda handler the way Lambda's event source
mapping does: records in order, in batches, only those its filter pattern matches; with
ReportBatchItemFailures, a failed record is handed over again (with those after it) on
the next poll. `run` polls until told to stop, as the local stack's outbox worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from devtools.lambda_functions import local_function

Handler = Callable[[dict[str, Any], Any], Any]

logger = logging.getLogger("callpay.stream_worker")


def matches(pattern: Any, value: Any) -> bool:
    """Lambda's event filter: a dict matches key by key, a list is the values allowed."""
    if isinstance(pattern, Mapping):
        return isinstance(value, Mapping) and all(
            key in value and matches(sub, value[key]) for key, sub in pattern.items()
        )
    if isinstance(pattern, list):
        return value in pattern
    return bool(pattern == value)


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as Lambda hands it over (times in epoch seconds, the source ARN)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    return record | {"dynamodb": dynamodb, "eventSourceARN": stream_arn}


class StreamWorker:
    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        handler: Handler,
        pattern: Mapping[str, Any],
        *,
        name: str = "stream-consumer",
        batch_size: int = 10,
    ) -> None:
        self._streams = streams
        self._arn = stream_arn
        self._function = local_function(handler, name, timeout_seconds=30)
        self._pattern = pattern
        self._batch_size = batch_size
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
        self._shard_id = shard["ShardId"]
        self._iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=self._shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        self._lock = threading.Lock()

    def poll_once(self) -> tuple[int, int]:
        """Hand over the next batch of matching records; (handed over, failed)."""
        with self._lock:
            answer = self._streams.get_records(ShardIterator=self._iterator, Limit=100)
            records = [r for r in answer.get("Records", []) if matches(self._pattern, r)]
            batch = records[: self._batch_size]
            failed_at = None
            if batch:
                event = {"Records": [lambda_record(r, self._arn) for r in batch]}
                result = self._function(event) or {}
                failures = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
                failed_at = min(failures, key=int) if failures else None
            if failed_at is not None:
                start = {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": failed_at}
            elif len(records) > len(batch):
                after = batch[-1]["dynamodb"]["SequenceNumber"]
                start = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
            else:
                self._iterator = answer["NextShardIterator"]
                return len(batch), 0
            self._iterator = self._streams.get_shard_iterator(
                StreamArn=self._arn, ShardId=self._shard_id, **start
            )["ShardIterator"]
            return len(batch), 1 if failed_at is not None else 0

    def drain(self, max_batches: int = 100) -> int:
        """Poll until no matching record is left (or only a failing one); how many handed."""
        handled = 0
        for _ in range(max_batches):
            got, failed = self.poll_once()
            handled += got
            if got == 0 or failed:
                break
        return handled

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        while not stop.is_set():
            try:
                if self.poll_once()[0] == 0:
                    stop.wait(interval)
            except (BotoCoreError, ClientError):
                logger.exception("cannot read the stream; retrying in a second")
                stop.wait(1)
            except Exception:
                logger.exception("the handler raised; the batch is handed over again")
                stop.wait(1)
