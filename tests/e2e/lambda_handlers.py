"""A handler for the local Lambda's own tests, run in real execution environments.

What it does is in the event (`{"do": "sleep", "seconds": 1}`, `raise`, `exit`); it
answers an API Gateway HTTP answer whose body shows what the environment holds: its
process, a module global counting its invocations, Lambda's context and variables.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

STARTED_AT = time.time()
invocations = 0  # a module global: one count per execution environment


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global invocations  # noqa: PLW0603 - the point: state that lives as long as the environment
    invocations += 1
    # An HTTP or WebSocket event carries the order in its body; a bare event is the order.
    order = json.loads(event["body"]) if event.get("body") else event
    if order.get("do") == "sleep":
        time.sleep(float(order["seconds"]))
    elif order.get("do") == "raise":
        raise RuntimeError("the handler raised on purpose")
    elif order.get("do") == "exit":
        os._exit(3)
    body = {
        "pid": os.getpid(),
        "invocations": invocations,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "variables": {
            name: os.environ.get(name)
            for name in ("AWS_LAMBDA_FUNCTION_NAME", "POWERTOOLS_SERVICE_NAME", "TABLE_NAME")
        },
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body)}  # fmt: skip
