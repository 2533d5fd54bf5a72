"""moto's server (DynamoDB, SQS, SES, Secrets Manager, KMS...) for the local stack and tests.

moto's own server with four differences. It ends with its parent, so a stack that is
killed outright leaves no AWS stand-in behind on its port. DynamoDB's transactions honour
their `ClientRequestToken` as DynamoDB does (`honour_client_request_tokens`). DynamoDB
requests are handled one at a time: moto applies a transaction item by item and rolls a
failed one back by restoring a copy of the whole table, so two transactions at once could
both pass their conditions, or one's rollback undo the other's writes. DynamoDB itself
isolates them (a conditional write sees every write before it); one DynamoDB request at a
time gives moto that property. And with that, a transaction checks its conditions before
writing instead of copying the whole table first (`transactions_without_table_copies`).
Usage: python -m devtools.moto_server -H 127.0.0.1 -p 8440
"""

from __future__ import annotations

import argparse
import copy
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from devtools.processes import exit_with_parent

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
DYNAMODB_TARGETS = ("DynamoDB_", "DynamoDBStreams_")
CONDITION_FAILED = "The conditional request failed"  # moto's and DynamoDB's words


class IsolatedDynamoDB:
    """A WSGI app that runs moto's DynamoDB (and its streams') requests one at a time."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(DYNAMODB_TARGETS):
            return self._app(environ, start_response)
        with self._lock:
            # The whole body is made inside the lock: the answer is the state it saw.
            return list(self._app(environ, start_response))


class _Untracked(list[Any]):
    """An instance list that keeps nothing."""

    def append(self, item: Any) -> None:
        pass


def forget_dynamodb_instances() -> None:
    """moto remembers every model instance it ever made, for its dashboard (data.json); a
    DynamoDB transaction copies the whole table (its items and its stream's records) to
    roll back, so the remembered ones, and data.json's time, would grow with the square of
    the writes. DynamoDB's are not remembered (data.json is read for SES's mail only)."""
    import moto.dynamodb.models  # noqa: F401, PLC0415 - registers the models
    from moto.core.model_instances import model_data  # noqa: PLC0415

    for model in model_data["dynamodb"].values():
        model.instances_tracked = _Untracked()  # type: ignore[attr-defined]


def honour_client_request_tokens() -> None:
    """DynamoDB makes TransactWriteItems idempotent by its `ClientRequestToken` (botocore
    fills one in per call and keeps it across its retries): a retry after an answer that
    came too late succeeds without writing again. moto ignores the token, so such a retry
    would fail its own conditions (an event "already processed" by the attempt whose answer
    was lost). Replay a token's first success instead, as DynamoDB does."""
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    original = DynamoHandler.transact_write_items
    if getattr(original, "honours_tokens", False):
        return
    answered: dict[str, Any] = {}
    one_at_a_time = threading.Lock()

    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        with one_at_a_time:
            if token and token in answered:
                return answered[token]
            result = original(self)
            if token:
                answered[token] = result
            return result

    transact_write_items.honours_tokens = True  # type: ignore[attr-defined]
    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]


class _ConditionFailed(Exception):
    def __init__(self, item: dict[str, Any] | None) -> None:
        self.item = item  # what the item holds, when the caller asked for it


@dataclass(frozen=True)
class _Before:
    """An item of a transaction as it was before: enough to undo the transaction's write."""

    table: Any
    key: dict[str, Any]
    item: Any  # a copy of the item, or None
    records: int  # the table's stream records


def _key(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    table = backend.get_table(op["TableName"])
    names = [table.hash_key_attr] + [table.range_key_attr] * table.has_range_key
    return {name: op["Item"][name] for name in names} if op_type == "Put" else dict(op["Key"])


def _check(backend: Any, op: dict[str, Any], key: dict[str, Any]) -> _Before:
    """The item as it is; raises _ConditionFailed if its condition does not hold."""
    table = backend.get_table(op["TableName"])
    current = backend.get_item(op["TableName"], key)
    condition = get_filter_expression(
        op.get("ConditionExpression"),
        op.get("ExpressionAttributeNames"),
        op.get("ExpressionAttributeValues"),
    )
    if not condition.expr(current):
        wanted = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
        raise _ConditionFailed(current.to_json()["Attributes"] if wanted and current else None)
    records = len(table.stream_shard.items) if table.stream_shard else 0
    return _Before(table, key, copy.deepcopy(current), records)


def _write(backend: Any, op_type: str, op: dict[str, Any]) -> None:
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"], overwrite=True)
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], op["Key"], names, values)
    elif op_type == "Update":
        backend.update_item(op["TableName"], op["Key"], op["UpdateExpression"], names, values)


def _undo(backend: Any, before: _Before) -> None:
    table = before.table
    hash_key, range_key = backend.get_keys_value(table, before.key)
    held, slot = (table.items[hash_key], range_key) if range_key else (table.items, hash_key)
    if before.item is None:
        held.pop(slot, None)
    else:
        held[slot] = before.item
    if table.stream_shard is not None:
        del table.stream_shard.items[before.records :]


def _transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's transact_write_items, checking every condition before the first write."""
    if len(transact_items) > 100:  # DynamoDB's limit
        raise TooManyTransactionsException
    if any(len(item) > 1 for item in transact_items):
        raise TransactWriteSingleOpException
    ops = [next(iter(item.items())) for item in transact_items]
    reasons: list[tuple[str | None, str | None, Any]] = []
    before: list[_Before] = []
    seen: set[tuple[str, str]] = set()
    for op_type, op in ops:
        try:
            key = _key(backend, op_type, op)
            named = (op["TableName"], str(sorted(key.items())))
            if named in seen:
                raise MultipleTransactionsException
            seen.add(named)
            before.append(_check(backend, op, key))
            reasons.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except _ConditionFailed as failed:
            reasons.append(("ConditionalCheckFailed", CONDITION_FAILED, failed.item))
        except Exception as error:  # a reason of its item, as moto reports it
            reasons.append((type(error).__name__, str(error), None))
    if any(code for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    done = 0
    try:
        for op_type, op in ops:
            _write(backend, op_type, op)
            done += 1
    except Exception:
        for item in reversed(before[: done + 1]):
            _undo(backend, item)
        raise


def transactions_without_table_copies() -> None:
    """moto backs every table a transaction touches up with a deep copy (its items and its
    stream's records), once per item, so a transaction's cost grows with everything ever
    written: 0.1 s at 500 items, seconds on the long-lived table of the local stack and of
    a test session, past botocore's 2 s read timeout. Requests being one at a time
    (IsolatedDynamoDB), a transaction can check every condition first and write only if all
    hold, as DynamoDB answers; a write that still fails (a bad update expression) is undone
    on the items it touched and their stream records."""
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign,assignment]


def moto_app() -> IsolatedDynamoDB:
    forget_dynamodb_instances()
    honour_client_request_tokens()
    transactions_without_table_copies()
    return IsolatedDynamoDB(DomainDispatcherApplication(create_backend_app))


def server(host: str, port: int) -> BaseWSGIServer:
    """A threaded moto server on host:port (call serve_forever, and shutdown to stop)."""
    return make_server(host, port, moto_app(), threaded=True, request_handler=MotoRequestHandler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto's own command does
    server(args.host, args.port).serve_forever()


if __name__ == "__main__":
    exit_with_parent()
    main()
