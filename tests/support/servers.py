"""Real local servers for integration tests: moto (AWS), localstripe (Stripe), webhook receiver."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from devtools.local_client import register_webhook
from devtools.processes import free_port, listening, wait_until

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["WebhookReceiver", "free_port", "localstripe_server", "moto_server",
           "register_webhook", "wait_until"]  # fmt: skip


@contextmanager
def moto_server() -> Iterator[str]:
    from devtools.moto_server import server  # noqa: PLC0415

    port = free_port()
    moto = server("127.0.0.1", port)
    threading.Thread(target=moto.serve_forever, daemon=True).start()
    wait_until(lambda: listening(port), what="moto server")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        moto.shutdown()


@contextmanager
def localstripe_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own launcher, fixed arguments
        [sys.executable, "-m", "devtools.localstripe_server", "--port", str(port),
         "--from-scratch"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: listening(port), what="localstripe")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


class WebhookReceiver:
    """Receives localstripe's deliveries over HTTP and hands each to a Lambda-style handler."""

    def __init__(self, handle: Callable[[bytes, dict[str, str]], tuple[int, bytes]]) -> None:
        self.deliveries: list[tuple[dict[str, Any], int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = handle(body, headers)
                import json  # noqa: PLC0415

                receiver.deliveries.append((json.loads(body), status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/stripe"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def delivered(self, event_type: str, intent_id: str) -> list[int]:
        return [
            status
            for event, status in self.deliveries
            if event["type"] == event_type and event["data"]["object"]["id"] == intent_id
        ]

    def close(self) -> None:
        self._server.shutdown()


class PlatformReceiver:
    """The platform's webhook endpoint: records every delivery (headers and exact body) and
    answers 204, except the first `fail_first` (500), or none at all while `hanging`."""

    def __init__(self, fail_first: int = 0, hanging: bool = False) -> None:
        self.fail_first = fail_first
        self.hanging = hanging
        self.attempts: list[tuple[dict[str, str], str, int]] = []  # headers, body, status
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                if receiver.hanging:
                    receiver.attempts.append((headers, body, 0))
                    receiver._release.wait(30)  # never answers (the sender times out)
                    return
                status = 500 if receiver.fail_first > 0 else 204
                receiver.fail_first -= 1
                receiver.attempts.append((headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/callpay-events"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def accepted(self) -> list[tuple[dict[str, str], str]]:
        """The deliveries answered 2xx, in the order they arrived."""
        return [(h, b) for h, b, status in self.attempts if 200 <= status < 300]

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
