"""A Lambda function run in this process: its handler, one invocation at a time.

Lambda never runs two invocations in one execution environment at once, and the
handlers rely on it: Powertools' resolver, logger and metrics keep the current event in
module globals. So each function here takes one event at a time, in whatever thread
calls it, with a fresh context (function name, request id) per invocation. Functions
that share one process also share module state Lambda never shares between functions
(callpay.runtime's clients, boto3's default session): give them one lock to run one
invocation at a time in all.
"""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]


class InvocationContext:
    """The parts of Lambda's context object the handlers and Powertools read."""

    memory_limit_in_mb = 512

    def __init__(self, function_name: str, timeout_seconds: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    def __init__(
        self,
        name: str,
        handler: Handler,
        timeout_seconds: float = 10.0,
        lock: threading.Lock | None = None,
    ) -> None:
        self.name = name
        self._handler = handler
        self._timeout = timeout_seconds
        self._lock = lock or threading.Lock()

    @classmethod
    def load(
        cls, module: str, timeout_seconds: float = 10.0, lock: threading.Lock | None = None
    ) -> LocalFunction:
        """`request_payment.handler` -> its lambda_handler, named after the package."""
        handler = importlib.import_module(module).lambda_handler
        return cls(module.partition(".")[0], handler, timeout_seconds, lock)

    def __call__(self, event: dict[str, Any], context: Any = None) -> Any:
        """Invoke like Lambda would; a handler-shaped callable, so it plugs in anywhere."""
        with self._lock:
            return self._handler(event, InvocationContext(self.name, self._timeout))


def local_function(handler: Handler, name: str, timeout_seconds: float = 10.0) -> LocalFunction:
    """A handler as a LocalFunction (itself if it already is one), so every invocation gets
    Lambda's context object and runs one at a time."""
    if isinstance(handler, LocalFunction):
        return handler
    return LocalFunction(name, handler, timeout_seconds)
