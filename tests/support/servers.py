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
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from devtools.moto_server import honour_client_request_tokens  # noqa: PLC0415

    honour_client_request_tokens()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_until(lambda: listening(port), what="moto server")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


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
