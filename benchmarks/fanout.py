"""Fan-out: one payment update pushed to every socket of a call, for 1, 10 and 50 sockets.

Real WebSocket clients on a local gateway of its own, the connections' records in the
stack's table (moto), callpay's notifier posting through the gateway's @connections API
with botocore, as in AWS. Each post waits `post_delay_ms` at the gateway, standing for
API Gateway's round trip from a Lambda (loopback alone would hide what concurrency buys).
Every socket must receive every update, or the run fails.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from websockets.sync.client import connect

from callpay.adapters import aws
from callpay.adapters.dynamodb_connections import DynamoDBConnectionStore
from callpay.adapters.websocket_notifier import (
    MAX_PARALLEL_POSTS,
    ApiGatewayConnections,
    WebSocketNotifier,
)
from callpay.domain.connection import Connection
from callpay.domain.payment_request import PaymentRequest, Status
from devtools.endpoints import Endpoints
from devtools.local_gateway import LocalWebSocketGateway


@dataclass
class FanOut:
    sockets: int
    ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.ms)


def measure(
    endpoints: Endpoints, counts: tuple[int, ...] = (1, 10, 50), rounds: int = 9,
    post_delay_ms: float = 20.0,
) -> list[FanOut]:  # fmt: skip
    os.environ.update(endpoints.environment)
    db = aws.client("dynamodb")
    table = endpoints.environment["TABLE_NAME"]
    store = DynamoDBConnectionStore(db, table)
    admitted: list[str] = []
    lock = threading.Lock()

    def admit(event: dict[str, Any], context: object) -> dict[str, Any]:
        if event["requestContext"]["routeKey"] == "$connect":
            with lock:
                admitted.append(event["requestContext"]["connectionId"])
        return {"statusCode": 200}

    gateway = LocalWebSocketGateway(admit, post_delay=post_delay_ms / 1000).start()
    sockets_client = aws.client("apigatewaymanagementapi", connections=MAX_PARALLEL_POSTS,
                                endpoint_url=gateway.callback_url)  # fmt: skip
    notifier = WebSocketNotifier(store, ApiGatewayConnections(lambda: sockets_client).post)
    now = datetime.now(UTC)
    results = []
    try:
        for count in counts:
            call_id = f"call-fanout-{uuid.uuid4().hex[:8]}"
            with contextlib.ExitStack() as opened:
                admitted.clear()
                clients = [opened.enter_context(connect(f"{gateway.ws_url}?call_id={call_id}"))
                           for _ in range(count)]  # fmt: skip
                for connection_id in admitted:
                    store.add(Connection(connection_id=connection_id, call_id=call_id,
                                         audience="clinician", subject="dr",
                                         connected_at=now))  # fmt: skip
                request = PaymentRequest(
                    id=f"pr_{uuid.uuid4().hex}", call_id=call_id, clinic_id="clinic-demo",
                    amount=8000, currency="aud", description="x", status=Status.SUCCEEDED,
                    created_at=now, updated_at=now, requested_by="dr",
                )  # fmt: skip
                notifier.payment_request_updated(request)  # warm: clients, threads, pools
                for client in clients:
                    client.recv(timeout=10)
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    notifier.payment_request_updated(request)
                    times.append((time.perf_counter() - started) * 1000)
                    for client in clients:
                        client.recv(timeout=10)  # every socket got it, or this raises
                results.append(FanOut(count, times))
    finally:
        gateway.stop()
    return results
