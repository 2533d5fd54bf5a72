"""Pushes payment request updates to every open socket of the call, concurrently.

A call may have dozens of sockets (clinician tabs, patient devices); posting to them one
after another would make the webhook wait for each round trip, so posts run in a small
thread pool. A 410 Gone means that socket is closed: its record is deleted. Any other
failure is logged and skipped; a notification must never fail the webhook or the API.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from callpay import realtime_messages
from callpay.domain.connection import Connection
from callpay.domain.payment_request import PaymentRequest
from callpay.ports import ConnectionStore

# 50 sockets in two rounds of posts (docs/performance.md, fan-out); the @connections client
# holds as many connections (botocore's default pool is 10, which would queue the rest).
MAX_PARALLEL_POSTS = 32

logger = Logger(child=True)


class ConnectionGone(Exception):
    """The socket behind this connection id is closed."""


class ApiGatewayConnections:
    """Posts frames through API Gateway's `@connections` management API."""

    def __init__(self, client_factory: Callable[[], Any]) -> None:
        self._client_factory = client_factory

    def post(self, connection_id: str, data: bytes) -> None:
        client = self._client_factory()
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
        except client.exceptions.GoneException as error:
            raise ConnectionGone(connection_id) from error


class WebSocketNotifier:
    def __init__(
        self,
        connections: ConnectionStore,
        post: Callable[[str, bytes], None],
        max_parallel: int = MAX_PARALLEL_POSTS,
    ) -> None:
        self._connections = connections
        self._post = post
        self._max_parallel = max_parallel

    def payment_request_updated(self, request: PaymentRequest) -> None:
        try:
            targets = [
                c for c in self._connections.by_call(request.call_id) if c.hears_of(request.id)
            ]
        except (BotoCoreError, ClientError):
            logger.exception(
                "cannot list the call's connections", extra={"call_id": request.call_id}
            )
            return
        if not targets:
            return
        workers = min(self._max_parallel, len(targets))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda c: self._send(c, request), targets))

    def send(self, connection_id: str, data: bytes) -> None:
        """A reply to one socket (sync, pong, errors); a closed one is forgotten."""
        try:
            self._post(connection_id, data)
        except ConnectionGone:
            self._forget(connection_id)

    def _send(self, connection: Connection, request: PaymentRequest) -> None:
        try:
            self._post(
                connection.connection_id, realtime_messages.updated(request, connection.audience)
            )
        except ConnectionGone:
            self._forget(connection.connection_id)
        except (BotoCoreError, ClientError):
            # Throttling or a network fault on one socket must not stop the others.
            logger.exception("push failed", extra={"connection_id": connection.connection_id})

    def _forget(self, connection_id: str) -> None:
        try:
            self._connections.remove(connection_id)
        except (BotoCoreError, ClientError):
            # Its TTL removes it anyway; a push must not fail over a stale record.
            logger.exception("stale connection kept", extra={"connection_id": connection_id})
            return
        logger.info("stale connection removed", extra={"connection_id": connection_id})
