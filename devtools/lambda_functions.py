"""What the local stack invokes: a Lambda function, one event in, its answer out.

`Function` is the shape the local gateway and the SQS worker call, whatever runs the
handler. `LocalFunction` runs it in the calling process, one invocation at a time (Lambda
never runs two invocations in one execution environment at once, and the handlers rely
on it: Powertools' resolver, logger and metrics keep the current event in module
globals); the integration tests, the benchmarks and `devtools/invoke.py` use it. The local
stack runs each function in execution environments of their own instead
(devtools.local_lambda). Both hand the handler Lambda's context object.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]

# What the deployed functions get (infra/functions.py's default).
MEMORY_SIZE_MB = 512


class InvocationContext:
    """The parts of Lambda's context object the handlers and Powertools read."""

    memory_limit_in_mb = MEMORY_SIZE_MB

    def __init__(
        self,
        function_name: str,
        timeout_seconds: float,
        aws_request_id: str | None = None,
        log_stream_name: str = "local",
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Function:
    """A Lambda function as its triggers invoke it: synchronously, with Lambda's context
    supplied. Handler-shaped (`function(event, context)`, the context ignored), so it
    plugs in wherever a bare handler does."""

    name: str

    def __call__(self, event: dict[str, Any], context: Any = None) -> Any:
        raise NotImplementedError


class LocalFunction(Function):
    def __init__(self, name: str, handler: Handler, timeout_seconds: float = 10.0) -> None:
        self.name = name
        self._handler = handler
        self._timeout = timeout_seconds
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any = None) -> Any:
        with self._lock:
            return self._handler(event, InvocationContext(self.name, self._timeout))


def local_function(handler: Handler, name: str, timeout_seconds: float = 10.0) -> Function:
    """A handler as a Function (itself if it already is one), so every invocation gets
    Lambda's context object and runs one at a time."""
    if isinstance(handler, Function):
        return handler
    return LocalFunction(name, handler, timeout_seconds)
