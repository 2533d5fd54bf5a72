"""moto's server (DynamoDB, SQS, SES, Secrets Manager, KMS...) for the local stack and tests.

moto's own server with three differences. It ends with its parent, so a stack that is
killed outright leaves no AWS stand-in behind on its port. DynamoDB's transactions honour
their `ClientRequestToken` as DynamoDB does (`honour_client_request_tokens`). And DynamoDB
requests are handled one at a time: moto applies a transaction item by item and rolls a
failed one back by restoring a copy of the whole table, so two transactions at once could
both pass their conditions, or one's rollback undo the other's writes. DynamoDB itself
isolates them (a conditional write sees every write before it); one DynamoDB request at a
time gives moto that property.
Usage: python -m devtools.moto_server -H 127.0.0.1 -p 8440
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from devtools.processes import exit_with_parent

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
DYNAMODB_TARGETS = ("DynamoDB_", "DynamoDBStreams_")


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


def moto_app() -> IsolatedDynamoDB:
    forget_dynamodb_instances()
    honour_client_request_tokens()
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
