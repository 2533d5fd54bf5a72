"""The inside of one local execution environment: `python -m devtools.lambda_runtime`.

Started by devtools.local_lambda for one function, it plays Lambda's runtime: the init
phase imports the handler's module once (its module globals live as long as this
process), then it tells the platform it is ready and runs the invocations handed over on
its channel one at a time, each with Lambda's context object, until the channel closes.
The handler's output (its logs, a traceback) goes to this process's stdout and stderr,
which are the stack's. It ends with the stack, however the stack ends.

The channel is a socket inherited from the platform, one JSON document per line:
  runtime -> platform   {"ready": true} or {"init_error": {...}}, once
  platform -> runtime   {"request_id": ..., "deadline_ms": ..., "event": ...}
  runtime -> platform   {"result": ...} or {"error": {"errorType", "errorMessage"}},
                        with "max_memory_used_mb"
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import resource
import socket
import sys
import time
import traceback
from typing import Any

from devtools import stack_logging
from devtools.lambda_functions import Handler, InvocationContext
from devtools.processes import exit_with_parent


def _error(error: BaseException) -> dict[str, str]:
    """Lambda's shape for a function error."""
    return {"errorType": type(error).__name__, "errorMessage": str(error)}


def _send(channel: io.BufferedIOBase, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message).encode() + b"\n")
    channel.flush()


def _max_memory_used_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux


def _invoke(
    handler: Handler, function_name: str, log_stream: str, invocation: dict[str, Any]
) -> dict[str, Any]:
    request_id = invocation["request_id"]
    remaining = invocation["deadline_ms"] / 1000 - time.time()
    context = InvocationContext(function_name, remaining, request_id, log_stream)
    try:
        result = handler(invocation["event"], context)
        json.dumps(result)  # Lambda serialises the answer as JSON: what cannot be is an error
        reply: dict[str, Any] = {"result": result}
    except Exception as error:
        # As Lambda's Python runtime logs an unhandled exception.
        print(f"[ERROR] {request_id} {type(error).__name__}: {error}", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        reply = {"error": _error(error)}
    return reply | {"max_memory_used_mb": _max_memory_used_mb()}


def serve(channel: io.BufferedIOBase, module: str, function_name: str, log_stream: str) -> int:
    try:
        handler: Handler = importlib.import_module(module).lambda_handler
    except Exception as error:
        traceback.print_exc()
        _send(channel, {"init_error": _error(error)})
        return 1
    _send(channel, {"ready": True})
    for line in channel:  # until the platform closes the channel
        _send(channel, _invoke(handler, function_name, log_stream, json.loads(line)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--channel", type=int, required=True, help="the inherited socket's fd")
    parser.add_argument("--handler", required=True, help="the handler's module")
    parser.add_argument("--function", required=True, help="the function's name")
    parser.add_argument("--log-stream", required=True)
    args = parser.parse_args(argv)
    exit_with_parent()
    stack_logging.configure()
    with socket.socket(fileno=args.channel) as sock, sock.makefile("rwb") as channel:
        return serve(channel, args.handler, args.function, args.log_stream)


if __name__ == "__main__":
    sys.exit(main())
