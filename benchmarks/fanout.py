"""Fan-out: time to push one update to every socket of a call, concurrent vs sequential.

    .venv/bin/python benchmarks/fanout.py [--connections 50] [--rounds 5] [--delay-ms 20]

Opens real WebSocket clients on the local gateway and posts through its @connections API
with boto3, the same path the notifier takes in AWS. `--delay-ms` adds a per-post delay
at the gateway standing for API Gateway's round trip from a Lambda; 0 measures loopback.
Every client must receive every update, or the run fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]

import boto3  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from callpay.adapters.websocket_notifier import ApiGatewayConnections, WebSocketNotifier  # noqa: E402
from callpay.domain.connection import Connection  # noqa: E402
from callpay.domain.payment_request import PaymentRequest, Status  # noqa: E402
from devtools.local_gateway import LocalWebSocketGateway  # noqa: E402

NOW = datetime.now(UTC)


class Connections:
    """Every socket the gateway admitted, as the call's connection records."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._lock = threading.Lock()

    def admit(self, event: dict[str, Any], context: object) -> dict[str, Any]:
        if event["requestContext"]["routeKey"] == "$connect":
            with self._lock:
                self.ids.append(event["requestContext"]["connectionId"])
        return {"statusCode": 200}

    def by_call(self, call_id: str) -> list[Connection]:
        return [
            Connection(connection_id=c, call_id=call_id, audience="clinician", subject="s",
                       connected_at=NOW)
            for c in self.ids
        ]  # fmt: skip

    def remove(self, connection_id: str) -> None:
        raise AssertionError(f"{connection_id} was reported gone")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")

    connections = Connections()
    gateway = LocalWebSocketGateway(connections.admit, post_delay=args.delay_ms / 1000).start()
    sockets = contextlib.ExitStack()
    clients = [
        sockets.enter_context(connect(f"{gateway.ws_url}?call_id=bench"))
        for _ in range(args.connections)
    ]
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=gateway.callback_url, region_name="us-east-1"
    )
    post = ApiGatewayConnections(lambda: client).post
    request = PaymentRequest(
        id="pr_bench", call_id="bench", clinic_id="c", amount=8000, currency="aud",
        description="x", status=Status.SUCCEEDED, created_at=NOW, updated_at=NOW,
        requested_by="s",
    )  # fmt: skip
    delay = f"{args.delay_ms:.0f} ms per post at the gateway"
    print(f"{args.connections} sockets, {args.rounds} rounds, {delay}")
    for label, parallel in (("sequential", 1), ("concurrent (16)", 16)):
        notifier = WebSocketNotifier(connections, post, max_parallel=parallel)  # type: ignore[arg-type]
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            notifier.payment_request_updated(request)
            times.append((time.perf_counter() - started) * 1000)
            for socket in clients:
                socket.recv(timeout=10)  # every client got it, or this raises
        print(f"  {label:<16} median {statistics.median(times):8.1f} ms   min {min(times):8.1f} ms")
    sockets.close()
    gateway.stop()


if __name__ == "__main__":
    main()
