"""Real local servers for integration tests: moto (AWS), localstripe (Stripe), webhook receiver."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_until(lambda: _listening(port), what="moto server")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def localstripe_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own launcher, fixed arguments
        [sys.executable, str(ROOT / "devtools" / "localstripe_server.py"), "--port", str(port),
         "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: _listening(port), what="localstripe")
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


def register_webhook(stripe_base: str, url: str, secret: str) -> None:
    response = requests.post(
        f"{stripe_base}/_config/webhooks/callpay", json={"url": url, "secret": secret}, timeout=5
    )
    response.raise_for_status()
