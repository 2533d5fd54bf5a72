"""moto's server (DynamoDB, SQS, SES, Secrets Manager...) for the local stack.

The same server as moto's own `moto_server` command, with two differences:

* It handles DynamoDB requests one at a time. In DynamoDB each write, conditional write
  and transaction is atomic; moto's server runs every request in a thread of its own with
  nothing around its tables, so with the stack's functions running at once a transaction
  can fail with a 500 ("dictionary changed size during iteration", while it copies a
  table another request is writing) and two conditional writes can both pass their
  condition. Other services keep their threads (a long-polling SQS receive must not hold
  up the rest).
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


if __name__ == "__main__":
    exit_with_parent()
    # moto's main() builds its application from this name.
    server.DomainDispatcherApplication = OneDynamoDBRequestAtATime  # type: ignore[attr-defined]
    server.main(sys.argv[1:])
