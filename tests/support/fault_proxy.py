"""A reverse proxy in front of a local server that fails on cue: faults injected per test.

The integration stack puts one in front of moto (AWS), localstripe (Stripe) and the
local gateway's `@connections`. With nothing planned it forwards every request as it
came. A test plans faults for the requests that match (by method, path, `X-Amz-Target`
or a piece of the body), each for a number of times:

- `answer(status, body)`: answer for the server, which never sees the request
  (throttling, 5xx, 410 Gone...);
- `stall(seconds)`: hold the request past the client's timeout, then drop it unanswered
  (the server never sees it);
- `reset_after_forwarding()`: forward the request, let the server act, then reset the
  connection instead of answering: the client cannot know it succeeded.

Every request is recorded with what happened to it, so a test can count retries.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Hop-by-hop headers are each connection's own, and the length is set anew.
NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def target(self) -> str:
        """The AWS JSON protocol's operation, e.g. `DynamoDB_20120810.TransactWriteItems`."""
        return self.headers.get("x-amz-target", "")


@dataclass
class Fault:
    """What to do instead of a plain forward, for the next `times` matching requests."""

    kind: str  # "answer" | "stall" | "reset"
    matches: Callable[[Request], bool]
    times: int
    status: int = 500
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    used: int = 0


@dataclass(frozen=True)
class Seen:
    request: Request
    outcome: str  # "forwarded" or the fault's kind


def matcher(
    method: str | None = None,
    path: str | None = None,
    target: str | None = None,
    body_has: str | None = None,
) -> Callable[[Request], bool]:
    """Requests with this method, a path matching this regex, an `X-Amz-Target` ending in
    `target` (the operation), and `body_has` in the body; None matches anything."""

    def matches(request: Request) -> bool:
        return (
            (method is None or request.method == method)
            and (path is None or re.search(path, request.path) is not None)
            and (target is None or request.target.endswith(f".{target}"))
            and (body_has is None or body_has.encode() in request.body)
        )

    return matches


def aws_error(code: str, message: str = "injected", **fields: Any) -> bytes:
    """An AWS JSON-protocol error body (DynamoDB, SQS)."""
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
    return json.dumps(body | fields).encode()


def aws_query_error(code: str, message: str = "injected") -> bytes:
    """An AWS query-protocol error body (SES v1)."""
    return (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>injected</RequestId></ErrorResponse>"
    ).encode()


def stripe_error(kind: str, message: str = "injected") -> bytes:
    return json.dumps({"error": {"type": kind, "message": message}}).encode()


class FaultProxy:
    def __init__(self, upstream: str, one_at_a_time: bool = False) -> None:
        """`one_at_a_time`: forward one request at a time, for a server that is not safe
        under concurrent writes (moto: a DynamoDB transaction backs the table up with a
        deep copy and restores it on failure, so two at once can crash with a 500 after
        one applied, or undo each other)."""
        self._forwarding: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if one_at_a_time else contextlib.nullcontext()
        )
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.upstream_prefix = parts.path.rstrip("/")
        self._faults: list[Fault] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    # -- planning ------------------------------------------------------------------------

    def answer(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        times: int = 1,
        **match: str,
    ) -> Fault:
        return self._plan(
            Fault("answer", matcher(**match), times, status=status, body=body,
                  headers=headers or {"Content-Type": "application/json"})
        )  # fmt: skip

    def stall(self, seconds: float, times: int = 1, **match: str) -> Fault:
        return self._plan(Fault("stall", matcher(**match), times, seconds=seconds))

    def reset_after_forwarding(self, times: int = 1, **match: str) -> Fault:
        return self._plan(Fault("reset", matcher(**match), times))

    def _plan(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Forget the planned faults and what was seen (between tests)."""
        with self._lock:
            self._faults.clear()
            self.seen.clear()

    def unused(self) -> list[Fault]:
        """Planned faults not used up: a test whose faults never happened proves nothing."""
        with self._lock:
            return [fault for fault in self._faults if fault.used < fault.times]

    def outcomes(self, **match: str) -> list[str]:
        """What happened to each request that matched, in order."""
        matches = matcher(**match)
        with self._lock:
            return [seen.outcome for seen in self.seen if matches(seen.request)]

    @contextmanager
    def cleared(self) -> Iterator[FaultProxy]:
        self.clear()
        try:
            yield self
        finally:
            self.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- serving -------------------------------------------------------------------------

    def _fault_for(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.used < fault.times and fault.matches(request):
                    fault.used += 1
                    return fault
            return None

    def _record(self, request: Request, outcome: str) -> None:
        with self._lock:
            self.seen.append(Seen(request, outcome))

    def _forward(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        with self._forwarding, contextlib.closing(connection):
            headers = {k: v for k, v in request.headers.items() if k not in NOT_FORWARDED}
            connection.request(
                request.method, self.upstream_prefix + request.path, request.body, headers
            )
            response = connection.getresponse()
            body = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in NOT_FORWARDED]
            return response.status, kept, body

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                fault = proxy._fault_for(request)
                proxy._record(request, fault.kind if fault else "forwarded")
                if fault is not None and fault.kind == "answer":
                    self._reply(fault.status, list(fault.headers.items()), fault.body)
                elif fault is not None and fault.kind == "stall":
                    time.sleep(fault.seconds)
                    self._drop()
                elif fault is not None and fault.kind == "reset":
                    proxy._forward(request)
                    self._drop()
                else:
                    self._reply(*proxy._forward(request))

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response_only(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _drop(self) -> None:
                """Reset the connection (RST, not FIN): no answer ever comes."""
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def finish(self) -> None:
                with contextlib.suppress(OSError, ValueError):  # reset on purpose
                    super().finish()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
