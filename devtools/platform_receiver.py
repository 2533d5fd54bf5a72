"""A small stand-in for the video platform's webhook endpoint (the demo's): it verifies each
delivery with the `standardwebhooks` library and the endpoint's secret, answers 204 to a
delivery that verifies and 400 to one that does not, and keeps the events it accepted."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from devtools.processes import wait_until


class PlatformReceiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.secret: str | None = None  # set once the endpoint is registered
        self.events: list[dict[str, Any]] = []  # verified, in the order they arrived
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                status = receiver._receive(body, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self._server.server_address[1]}/callpay-events"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _receive(self, body: str, headers: dict[str, str]) -> int:
        if self.secret is None:
            return 503
        try:
            event: dict[str, Any] = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.refused += 1
            return 400
        self.events.append(event | {"id": headers.get("webhook-id") or headers.get("Webhook-Id")})
        return 204

    def wait_for(self, event_type: str, count: int = 1, timeout: float = 20) -> list[Any]:
        """The verified events of this type, once there are `count` of them."""

        def arrived() -> list[Any] | None:
            found = [e for e in self.events if e["type"] == event_type]
            return found if len(found) >= count else None

        found: list[Any] = wait_until(arrived, timeout, f"{count} {event_type} event(s)")
        return found

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def summary(event: dict[str, Any]) -> str:
    data = event["data"]
    return json.dumps({k: data.get(k) for k in ("id", "status", "total", "amount")
                       if data.get(k) is not None})  # fmt: skip
