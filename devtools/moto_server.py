"""moto's server (DynamoDB, SQS, SES, Secrets Manager...) for the local stack.

The same server as moto's own `moto_server` command, but it ends with its parent, so a
stack that is killed outright leaves no AWS stand-in behind on its port, and DynamoDB's
transactions honour their `ClientRequestToken` as DynamoDB does (see below; the
integration tests' in-process moto gets the same).
Usage: python -m devtools.moto_server --host 127.0.0.1 --port 8440
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from devtools.processes import exit_with_parent


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
    from moto.server import main

    exit_with_parent()
    honour_client_request_tokens()
    main(sys.argv[1:])
