"""A local stand-in for API Gateway's WebSocket API, serving the real realtime handler.

Sockets connect to `ws://host:port/?call_id=...&token=...`; each connection gets an id
and becomes `$connect` / `$default` / `$disconnect` events for the handler, exactly as
API Gateway would send them. The `@connections` management API is served on the same
port (POST delivers a frame, DELETE closes the socket, GET describes it; 410 Gone for a
socket that is closed or not yet open), so the notifier's boto3 client works unchanged
when its endpoint points here.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class _Context:
    function_name = "realtime-local"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:realtime-local"
    aws_request_id = "local"


def _gone(connection_id: str) -> web.Response:
    return web.json_response(
        {"message": f"Connection {connection_id} is gone"},
        status=410,
        headers={"x-amzn-ErrorType": "GoneException"},
    )


class LocalWebSocketGateway:
    def __init__(
        self, handler: Handler, host: str = "127.0.0.1", port: int = 0, post_delay: float = 0.0
    ) -> None:
        self._handler = handler
        # Benchmarks set this to stand for API Gateway's round trip from a Lambda (~10-30 ms).
        self._post_delay = post_delay
        self._host, self._port = host, port
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> LocalWebSocketGateway:
        started = threading.Event()
        threading.Thread(target=self._serve, args=(started,), daemon=True).start()
        if not started.wait(10):
            raise RuntimeError("local WebSocket gateway did not start")
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host}:{self.port}/"

    @property
    def callback_url(self) -> str:
        """What WEBSOCKET_CALLBACK_URL points at (the @connections endpoint)."""
        return f"http://{self._host}:{self.port}"

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/", self._socket)
        app.router.add_post("/@connections/{connection_id}", self._post)
        app.router.add_delete("/@connections/{connection_id}", self._delete)
        app.router.add_get("/@connections/{connection_id}", self._describe)
        self._runner = web.AppRunner(app, handle_signals=False)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self._host, self._port)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        started.set()
        self._loop.run_forever()

    async def _shutdown(self) -> None:
        for socket in list(self._sockets.values()):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- sockets -------------------------------------------------------------------------

    def _event(
        self, request: web.Request, route: str, connection_id: str, body: str | None
    ) -> dict[str, Any]:
        kinds = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}
        return {
            "requestContext": {
                "routeKey": route,
                "eventType": kinds.get(route, "MESSAGE"),
                "connectionId": connection_id,
                "domainName": request.host,
                "stage": "local",
                "apiId": "local",
                "requestId": uuid.uuid4().hex,
                "connectedAt": int(time.time() * 1000),
                "requestTimeEpoch": int(time.time() * 1000),
            },
            "queryStringParameters": dict(request.query) or None,
            "headers": dict(request.headers),
            "body": body,
            "isBase64Encoded": False,
        }

    async def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(self._handler, event, _Context())

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        connection_id = uuid.uuid4().hex[:16]
        answer = await self._invoke(self._event(request, "$connect", connection_id, None))
        status = int(answer.get("statusCode", 500))
        if status != 200:
            return web.Response(status=status, text=answer.get("body") or "")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets[connection_id] = socket
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    await self._invoke(
                        self._event(request, "$default", connection_id, message.data)
                    )
        finally:
            self._sockets.pop(connection_id, None)
            await self._invoke(self._event(request, "$disconnect", connection_id, None))
        return socket

    # -- @connections --------------------------------------------------------------------

    def _open(self, connection_id: str) -> web.WebSocketResponse | None:
        socket = self._sockets.get(connection_id)
        return socket if socket is not None and not socket.closed else None

    async def _post(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        socket = self._open(connection_id)
        if socket is None:
            return _gone(connection_id)
        data = await request.read()
        if self._post_delay:
            await asyncio.sleep(self._post_delay)
        try:
            await socket.send_str(data.decode())
        except ConnectionError:
            return _gone(connection_id)
        return web.Response(status=200)

    async def _delete(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        socket = self._open(connection_id)
        if socket is None:
            return _gone(connection_id)
        await socket.close()
        return web.Response(status=204)

    async def _describe(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        if self._open(connection_id) is None:
            return _gone(connection_id)
        now = datetime.now(UTC).isoformat()
        return web.json_response({"connectedAt": now, "lastActiveAt": now, "identity": {}})


def main() -> None:
    from realtime.handler import lambda_handler  # noqa: PLC0415

    gateway = LocalWebSocketGateway(lambda_handler, port=8431).start()
    print(json.dumps({"ws_url": gateway.ws_url, "callback_url": gateway.callback_url}))
    threading.Event().wait()


if __name__ == "__main__":
    main()
