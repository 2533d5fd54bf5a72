"""Stripe's Connect endpoints answered from recorded responses, over real HTTP.

localstripe has no Connect, so account creation and Account Links are tested against
responses recorded from Stripe's API (recorded_stripe/), served by this small server,
which also keeps every request it received so tests can check what was sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

RECORDED = Path(__file__).parent / "recorded_stripe"


@dataclass
class Received:
    method: str
    path: str
    form: dict[str, list[str]]
    headers: dict[str, str]


class RecordedStripe:
    """With `accounts_by_key`, /v1/accounts answers as Stripe's idempotency keys do: one
    new account per distinct key, the same account again for a key seen before."""

    def __init__(
        self,
        *,
        accounts_by_key: bool = False,
        answers: dict[str, Callable[[Received], dict[str, Any]]] | None = None,
    ) -> None:
        self.received: list[Received] = []
        self.accounts: dict[str, str] = {}  # idempotency key -> account id
        lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                headers = {k.lower(): v for k, v in self.headers.items()}
                received = Received("POST", self.path, form, headers)
                recorder.received.append(received)
                if answers and self.path in answers:
                    self._answer(200, answers[self.path](received))
                    return
                name = f"post_{self.path.strip('/').replace('/', '_')}.json"
                recorded = RECORDED / name
                if not recorded.exists():
                    error = {"type": "invalid_request_error", "message": f"Unrecorded {self.path}"}
                    self._answer(404, {"error": error})
                    return
                body = json.loads(recorded.read_text())
                if accounts_by_key and self.path == "/v1/accounts":
                    with lock:
                        key = headers.get("idempotency-key", "")
                        accounts = recorder.accounts
                        body["id"] = accounts.setdefault(key, f"acct_{len(accounts) + 1}")
                self._answer(200, body)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Request-Id", "req_recorded")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def close(self) -> None:
        self._server.shutdown()
