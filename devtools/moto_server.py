"""moto's server (DynamoDB, SQS, SES, Secrets Manager...) for the local stack.

The same server as moto's own `moto_server` command, with three differences:

* It handles DynamoDB requests one at a time. In DynamoDB each write, conditional write
  and transaction is atomic; moto's server runs every request in a thread of its own with
  nothing around its tables, so with the stack's functions running at once a transaction
  can fail with a 500 ("dictionary changed size during iteration", while it copies a
  table another request is writing) and two conditional writes can both pass their
  condition. Other services keep their threads (a long-polling SQS receive must not hold
  up the rest).
* DynamoDB's transactions honour their `ClientRequestToken` as DynamoDB does (see
  `honour_client_request_tokens`; the integration tests' in-process moto gets the same).
* It ends with its parent, so a stack that is killed outright leaves no AWS stand-in
  behind on its port.

Usage: python -m devtools.moto_server --host 127.0.0.1 --port 8440
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import Any

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from devtools.processes import exit_with_parent


class OneDynamoDBRequestAtATime(DomainDispatcherApplication):
    _dynamodb = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self._dynamodb:
                # The body is built by the call: the whole request is done inside the lock.
                return list(super().__call__(environ, start_response))
        answer: Iterable[bytes] = super().__call__(environ, start_response)
        return answer


def honour_client_request_tokens() -> None:
    """DynamoDB makes TransactWriteItems idempotent by its `ClientRequestToken` (botocore
    fills one in per call and keeps it across its retries): a retry after an answer that
    came too late succeeds without writing again. moto ignores the token, so such a retry
    would fail its own conditions (an event "already processed" by the attempt whose answer
    was lost). Replay a token's first success instead, as DynamoDB does. One transaction at
    a time, too: moto backs tables up by deep copy for each one, which another writing at
    the same moment breaks."""
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


if __name__ == "__main__":
    exit_with_parent()
    honour_client_request_tokens()
    # moto's main() builds its application from this name.
    server.DomainDispatcherApplication = OneDynamoDBRequestAtATime  # type: ignore[attr-defined]
    server.main(sys.argv[1:])
