"""Local stand-ins for API Gateway, serving the real handlers unchanged.

`LocalWebSocketGateway` is the WebSocket API: sockets connect to
`ws://host:port/?call_id=...&token=...`; each connection gets an id and becomes
`$connect` / `$default` / `$disconnect` events for the handler, exactly as API Gateway
would send them. The `@connections` management API is served on the same port (POST
delivers a frame, DELETE closes the socket, GET describes it; 410 Gone for a socket that
is closed or not yet open), so the notifier's boto3 client works unchanged when its
endpoint points here.

`LocalApiGateway` adds the HTTP API on the same port: the routes of infra/http_api.py as
payload-2.0 events for their functions, the JWT authorizer on the routes that carry it,
CORS for local origins, and the local identity provider's JWKS. A request no route takes
gets callpay's own error envelope (404 `not_found`, or 405 `method_not_allowed` when the
path is a route's under another method), so a client never has to parse a second shape.

A function that gives no answer (it raised, crashed or timed out) is answered as API
Gateway answers it: 500 `{"message":"Internal Server Error"}` on the HTTP API; on the
WebSocket API a refused handshake for `$connect` and, for a message, a frame
`{"message": "Internal server error", "connectionId": ..., "requestId": ...}`. An HTTP
integration that takes longer than API Gateway waits (30 s) is a 503
`{"message":"Service Unavailable"}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from multidict import CIMultiDict

from devtools.http_events import HttpAnswer, HttpRequest, http_answer, http_api_event
from devtools.jwt_authorizer import JwtAuthorizer, Unauthorized
from devtools.lambda_functions import local_function
from devtools.local_lambda import InvocationFailed
from devtools.routes import HttpRoute, find_route

Handler = Callable[[dict[str, Any], Any], Any]
Page = Callable[[web.Request], Awaitable[web.StreamResponse]]

access_log = logging.getLogger("callpay.gateway")

# Each invocation holds a thread while its function runs, or waits for one of the
# function's execution environments (the function may call back into this gateway:
# @connections, JWKS); enough for many sockets and requests at once.
INVOCATION_THREADS = 64
# How long the HTTP API waits for a Lambda integration (its maximum, and default).
INTEGRATION_TIMEOUT_SECONDS = 30.0
# API Gateway's HTTP API payload limit.
MAX_BODY_BYTES = 10 * 1024 * 1024
# Hop-by-hop and length headers are the server's to set, not the handler's.
NOT_FORWARDED = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def _log_failure(what: str, failure: Exception) -> None:
    """A function without an answer; an execution environment has logged its own side."""
    if isinstance(failure, InvocationFailed):
        access_log.error("%s failed (%s); answering as API Gateway would", what, failure)
    else:  # a function run in this process: its traceback is here
        access_log.exception("%s raised; answering as API Gateway would", what)


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
        # A bare handler gets Lambda's context and one invocation at a time, like the rest.
        self._function = local_function(handler, "realtime")
        # Benchmarks set this to stand for API Gateway's round trip from a Lambda (~10-30 ms).
        self._post_delay = post_delay
        self._host, self._port = host, port
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._failure: BaseException | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> LocalWebSocketGateway:
        started = threading.Event()
        threading.Thread(
            target=self._serve, args=(started,), name="local-gateway", daemon=True
        ).start()
        if not started.wait(10):
            raise RuntimeError("local gateway did not start")
        if self._failure is not None:
            raise RuntimeError(f"local gateway did not start: {self._failure}") from self._failure
        return self

    def stop(self) -> None:
        if not self._loop.is_running():
            return
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
        self._loop.set_default_executor(
            ThreadPoolExecutor(INVOCATION_THREADS, thread_name_prefix="invocation")
        )
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        self._add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        try:
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self._host, self._port)
            self._loop.run_until_complete(site.start())
        except OSError as error:  # the port is taken: say so to start(), not in a thread
            self._failure = error
            started.set()
            return
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        started.set()
        self._loop.run_forever()

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._socket)
        app.router.add_post("/@connections/{connection_id}", self._post)
        app.router.add_delete("/@connections/{connection_id}", self._delete)
        app.router.add_get("/@connections/{connection_id}", self._describe)

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

    async def _invoke(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The function's answer, or None when it gave none."""
        try:
            answer: dict[str, Any] = await asyncio.to_thread(self._function, event)
        except Exception as failure:
            _log_failure(event["requestContext"]["routeKey"], failure)
            return None
        return answer

    async def _not_a_socket(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=426, text="Upgrade to a WebSocket to connect.")

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return await self._not_a_socket(request)
        connection_id = uuid.uuid4().hex[:16]
        answer = await self._invoke(self._event(request, "$connect", connection_id, None))
        if answer is None:
            return web.json_response({"message": "Internal server error"}, status=500)
        status = int(answer.get("statusCode", 500))
        if status != 200:
            return web.Response(status=status, text=answer.get("body") or "")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets[connection_id] = socket
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    event = self._event(request, "$default", connection_id, message.data)
                    if await self._invoke(event) is None:
                        await socket.send_json({
                            "message": "Internal server error",
                            "connectionId": connection_id,
                            "requestId": event["requestContext"]["requestId"],
                        })  # fmt: skip
                elif message.type == WSMsgType.BINARY:
                    # API Gateway takes text frames only: it closes the socket with 1003.
                    await socket.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"text only")
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


# Browsers on these origins may call the local HTTP API (any port): the dev servers of a
# frontend (Vite, Next.js, CRA...) on this machine.
LOCAL_ORIGIN = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$")


@dataclass(frozen=True)
class CorsPolicy:
    """API Gateway's CORS for the HTTP API. Methods, headers and max age are those of
    PaymentsHttpApi's cors_preflight in infra/http_api.py; origins are local ones."""

    extra_origins: frozenset[str] = frozenset()
    allow_methods: tuple[str, ...] = ("GET", "POST", "PUT", "DELETE")
    allow_headers: tuple[str, ...] = ("authorization", "content-type", "idempotency-key")
    expose_headers: tuple[str, ...] = ("location", "idempotent-replayed")
    max_age_seconds: int = 3600

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and (
            origin in self.extra_origins or LOCAL_ORIGIN.match(origin or "") is not None
        )

    def preflight(self, origin: str | None) -> list[tuple[str, str]]:
        if not self.allows(origin):
            return []
        return [
            ("Access-Control-Allow-Origin", str(origin)),
            ("Access-Control-Allow-Methods", ",".join(self.allow_methods)),
            ("Access-Control-Allow-Headers", ",".join(self.allow_headers)),
            ("Access-Control-Max-Age", str(self.max_age_seconds)),
            ("Vary", "Origin"),
        ]

    def response(self, origin: str | None) -> list[tuple[str, str]]:
        if not self.allows(origin):
            return []
        return [
            ("Access-Control-Allow-Origin", str(origin)),
            ("Access-Control-Expose-Headers", ",".join(self.expose_headers)),
            ("Vary", "Origin"),
        ]


def _gateway_error(status: int, message: str, *extra: tuple[str, str]) -> HttpAnswer:
    """An answer API Gateway itself gives (not the Lambda): `{"message": ...}`."""
    body = json.dumps({"message": message}).encode()
    return HttpAnswer(status, [("Content-Type", "application/json"), *extra], body)


def _route_miss(routes: Sequence[HttpRoute], method: str, raw_path: str) -> HttpAnswer:
    """No route takes the request: callpay's envelope, 405 with Allow when the path is a
    route's under other methods, else 404 (docs/local-development.md says how AWS differs)."""
    allowed = sorted({r.method for r in routes if r.match(r.method, raw_path) is not None})
    headers = [("Content-Type", "application/json")]
    if allowed:
        error = {"code": "method_not_allowed", "message": f"Use {', '.join(allowed)} here."}
        headers.append(("Allow", ", ".join(allowed)))
    else:
        error = {"code": "not_found", "message": "No such route."}
    return HttpAnswer(405 if allowed else 404, headers, json.dumps({"error": error}).encode())


@dataclass
class HttpApi:
    """What LocalApiGateway serves over HTTP: routes, the functions behind them, auth."""

    routes: Sequence[HttpRoute]
    functions: Mapping[str, Handler]  # handler module -> function
    authorizer: JwtAuthorizer
    jwks: Mapping[str, Any]
    cors: CorsPolicy = field(default_factory=CorsPolicy)
    # Local-only pages (method, path, handler), e.g. the simulated Stripe onboarding.
    pages: Sequence[tuple[str, str, Page]] = ()


class LocalApiGateway(LocalWebSocketGateway):
    """API Gateway for the local stack, on one port: the HTTP API at its routes, the
    WebSocket API at `/` (a GET that upgrades), `@connections`, and the JWKS of the
    local identity provider at /.well-known/jwks.json."""

    def __init__(
        self,
        api: HttpApi,
        realtime: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        missing = {route.function for route in api.routes} - set(api.functions)
        if missing:
            raise ValueError(f"no function loaded for {sorted(missing)}")
        super().__init__(realtime, host, port)
        self._api = api
        self._integration_timeout = integration_timeout

    @property
    def http_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_get("/.well-known/jwks.json", self._jwks)
        for method, path, page in self._api.pages:
            app.router.add_route(method, path, page)
        # Last: everything else is the HTTP API's (aiohttp tries routes in this order).
        # (?s): a path whose decoded form has a line break (/calls/%0D%0A/...) too.
        app.router.add_route("*", "/{path:(?s:.*)}", self._http)

    async def _jwks(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self._api.jwks))

    async def _not_a_socket(self, request: web.Request) -> web.StreamResponse:
        return await self._http(request)

    async def _http(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = uuid.uuid4().hex  # API Gateway's, in the event and `apigw-requestid`
        origin = request.headers.get("Origin")
        cors = self._api.cors
        served_by = "-"  # for the access log: the function, or the gateway itself
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            # API Gateway answers CORS preflights itself, for every path, without auth.
            answer = HttpAnswer(204, cors.preflight(origin))
        else:
            raw_path = request.rel_url.raw_path
            found = find_route(self._api.routes, request.method, raw_path)
            if found is None:
                answer = _route_miss(self._api.routes, request.method, raw_path)
            else:
                route, parameters = found
                answer, served_by = await self._route(request, route, parameters, request_id)
            answer.headers.extend(cors.response(origin))
        answer.headers.append(("apigw-requestid", request_id))
        elapsed = (time.perf_counter() - started) * 1000
        access_log.info(
            "%s %s -> %d  %s  %.0f ms",
            request.method, request.rel_url.raw_path, answer.status, served_by, elapsed,
        )  # fmt: skip
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in answer.headers:
            if name.lower() not in NOT_FORWARDED:
                headers.add(name, value)
        return web.Response(status=answer.status, headers=headers, body=answer.body)

    async def _route(
        self, request: web.Request, route: HttpRoute, parameters: dict[str, str], request_id: str
    ) -> tuple[HttpAnswer, str]:
        """The answer, and who gave it: the route's function or the JWT authorizer."""
        claims = None
        if route.clinician_jwt:
            try:
                claims = self._api.authorizer.authorize(request.headers.get("Authorization"))
            except Unauthorized as refusal:
                reason = refusal.www_authenticate
                extra = [("www-authenticate", reason)] if reason else []
                return _gateway_error(401, "Unauthorized", *extra), "jwt-authorizer"
        event = http_api_event(
            HttpRequest(
                method=request.method,
                raw_path=request.rel_url.raw_path,
                raw_query=request.rel_url.raw_query_string,
                headers=request.headers.items(),
                body=await request.read(),
                source_ip=request.remote or "127.0.0.1",
            ),
            route.key,
            parameters,
            claims,
            request.host,
            request_id=request_id,
        )
        handler = self._api.functions[route.function]
        function = route.function.partition(".")[0]
        invocation = asyncio.to_thread(handler, event, None)
        try:
            return http_answer(
                await asyncio.wait_for(invocation, self._integration_timeout)
            ), function
        except TimeoutError:
            access_log.error("%s: no answer within the integration timeout", route.key)
            return _gateway_error(503, "Service Unavailable"), function
        # A function that gives no answer (or one API Gateway cannot map) is a 500 from API
        # Gateway, not a crash of the gateway.
        except Exception as failure:
            _log_failure(route.key, failure)
            return _gateway_error(500, "Internal Server Error"), function
