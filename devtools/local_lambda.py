"""Lambda for the local stack: each function runs in execution environments of its own,
processes that take one invocation at a time, as in AWS.

A `LambdaFunction` keeps up to `concurrency` environments, each a process running
devtools.lambda_runtime with the function's handler. An invocation takes the most
recently used idle environment (warm), else starts one (a cold start: the invocation's
REPORT line shows its Init Duration), else waits for one to be free, where Lambda would
start more or throttle. An environment idle for `idle_seconds` is shut down. One whose
invocation outlives the function's timeout is killed ("Task timed out") and one that dies
is dropped; the caller gets InvocationFailed and the next invocation starts a fresh
environment. So module globals live per environment, never shared between two
environments or two functions, and two invocations of one function really overlap.

`LocalLambda` holds the stack's functions: it starts their environments with the
stack's environment variables plus those Lambda sets, logs Lambda's REPORT line for
every invocation, keeps the latest invocations for the /_local/lambda page, shuts idle
environments down and stops them all with the stack.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from devtools.lambda_functions import MEMORY_SIZE_MB, Function
from devtools.paths import REPO_ROOT

if TYPE_CHECKING:
    from aiohttp import web

logger = logging.getLogger("callpay.lambda")

# Lambda's limit on the init phase (importing the handler's module).
INIT_TIMEOUT_SECONDS = 10.0
# An environment asked to shut down (channel closed) that is still there is killed.
SHUTDOWN_SECONDS = 2.0
# How many invocations /_local/lambda remembers.
RECENT_INVOCATIONS = 2000
PAGE_PATH = "/_local/lambda"


class InvocationFailed(RuntimeError):
    """The function gave no answer: it raised (`error`), its environment could not start
    (`init`) or died (`crash`), or it ran past its timeout (`timeout`). API Gateway answers
    all of these with a 500."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LambdaSettings:
    # Environments per function at most: CALLPAY_LOCAL_CONCURRENCY.
    concurrency: int = 4
    # An environment idle this long is shut down: CALLPAY_LOCAL_IDLE_SECONDS.
    idle_seconds: float = 300.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> LambdaSettings:
        variables = {
            "CALLPAY_LOCAL_CONCURRENCY": ("concurrency", int),
            "CALLPAY_LOCAL_IDLE_SECONDS": ("idle_seconds", float),
        }
        values: dict[str, Any] = {}
        for variable, (name, kind) in variables.items():
            raw = environ.get(variable)
            if not raw:
                continue
            try:
                value = kind(raw)
            except ValueError:
                value = 0
            if value <= 0:
                raise ValueError(f"{variable} must be a positive number, not {raw!r}")
            values[name] = value
        return cls(**values)


@dataclass(frozen=True)
class FunctionConfig:
    name: str  # as the deployed function's service: request_payment
    handler: str  # the handler's module: request_payment.handler
    timeout_seconds: float


@dataclass(frozen=True)
class Invocation:
    """One invocation as the platform saw it (epoch seconds)."""

    function: str
    environment: str  # request_payment#3: the third environment the function started
    request_id: str  # Lambda's (the context's aws_request_id)
    api_request_id: str | None  # API Gateway's requestContext.requestId, for its events
    started_at: float
    ended_at: float
    init_duration_ms: float | None  # on a cold start
    max_memory_used_mb: int | None
    status: str  # success, error, timeout, crash, init

    @property
    def duration_ms(self) -> float:
        return (self.ended_at - self.started_at) * 1000

    def report(self) -> str:
        """Lambda's REPORT line."""
        fields = [
            f"REPORT RequestId: {self.request_id}",
            f"Duration: {self.duration_ms:.2f} ms",
            f"Billed Duration: {math.ceil(self.duration_ms)} ms",
            f"Memory Size: {MEMORY_SIZE_MB} MB",
            f"Max Memory Used: {self.max_memory_used_mb or '-'} MB",
        ]
        if self.init_duration_ms is not None:
            fields.append(f"Init Duration: {self.init_duration_ms:.2f} ms")
        if self.status in {"timeout", "crash", "init"}:
            fields.append(f"Status: {self.status}")
        return "\t".join(fields)


def peak_concurrency(invocations: Iterable[Mapping[str, Any]]) -> int:
    """The most of these invocations (as /_local/lambda lists them) running at one moment."""
    edges = sorted(
        (moment, step)
        for invocation in invocations
        for moment, step in ((invocation["started_at"], 1), (invocation["ended_at"], -1))
    )  # at the same instant an end (-1) sorts before a start
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def _lambda_variables(config: FunctionConfig, log_stream: str) -> dict[str, str]:
    """What Lambda sets in every environment of a function (and infra/functions.py sets
    per function: its Powertools service)."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_SIZE_MB),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": f"{config.handler}.lambda_handler",
        "POWERTOOLS_SERVICE_NAME": config.name,
    }


def _exit_status(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        return f"signal: {signal.Signals(-code).name}"
    return f"exit status {code}"


class ExecutionEnvironment:
    """One process running one function's handler; the platform's side of its channel."""

    def __init__(self, config: FunctionConfig, number: int) -> None:
        self.config = config
        self.id = f"{config.name}#{number}"
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.init_duration_ms: float | None = None
        self.invocations = 0
        self.last_used = time.monotonic()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._channel: io.BufferedIOBase | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, environ: Mapping[str, str]) -> None:
        """The init phase: the process started, the handler imported; InvocationFailed
        (`init`) if it fails or takes longer than Lambda allows."""
        ours, theirs = socket.socketpair()
        started = time.perf_counter()
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "devtools.lambda_runtime",
                 "--channel", str(theirs.fileno()), "--handler", self.config.handler,
                 "--function", self.config.name, "--log-stream", self.log_stream],
                pass_fds=(theirs.fileno(),),
                env={**environ, **_lambda_variables(self.config, self.log_stream)},
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                # Not in the terminal's process group: Ctrl-C reaches the stack, which
                # stops its environments itself.
                start_new_session=True,
            )  # fmt: skip
        self._socket = ours
        self._channel = ours.makefile("rwb")
        ours.settimeout(INIT_TIMEOUT_SECONDS)
        try:
            ready = self._receive()
        except TimeoutError:
            raise InvocationFailed(
                f"init did not finish within {INIT_TIMEOUT_SECONDS:g} s", "init"
            ) from None
        except InvocationFailed as failure:
            raise InvocationFailed(f"init failed: {failure}", "init") from None
        if "init_error" in ready:
            error = ready["init_error"]
            raise InvocationFailed(
                f"Runtime.ImportModuleError: {error['errorType']}: {error['errorMessage']}",
                "init",
            )
        self.init_duration_ms = (time.perf_counter() - started) * 1000

    def invoke(self, request_id: str, event: dict[str, Any], deadline: float) -> dict[str, Any]:
        """The runtime's reply; InvocationFailed if it does not come by the deadline (epoch
        seconds) or the process dies."""
        assert self._channel is not None and self._socket is not None
        self.invocations += 1
        message = {"request_id": request_id, "deadline_ms": int(deadline * 1000), "event": event}
        try:
            self._channel.write(json.dumps(message).encode() + b"\n")
            self._channel.flush()
            self._socket.settimeout(max(0.001, deadline - time.time()))
            return self._receive()
        except TimeoutError:
            timeout = self.config.timeout_seconds
            raise InvocationFailed(
                f"Task timed out after {timeout:.2f} seconds", "timeout"
            ) from None
        except (OSError, ValueError):  # the channel broke, or the reply is not JSON
            failure = self._died()
            self.kill()
            raise failure from None

    def _receive(self) -> dict[str, Any]:
        assert self._channel is not None
        line = self._channel.readline()
        if not line:
            raise self._died()
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _died(self) -> InvocationFailed:
        code = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._process.wait(timeout=1)
        return InvocationFailed(f"Runtime exited with error: {_exit_status(code)}", "crash")

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """At once, as Lambda ends an environment after a timeout or a crash."""
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._close()

    def shut_down(self) -> None:
        """The runtime ends when its channel closes; killed if it lingers."""
        self._close()
        if self._process is not None:
            try:
                self._process.wait(timeout=SHUTDOWN_SECONDS)
            except subprocess.TimeoutExpired:
                self.kill()

    def _close(self) -> None:
        for closable in (self._channel, self._socket):
            if closable is not None:
                with contextlib.suppress(OSError):
                    closable.close()


class LambdaFunction(Function):
    """One function and its execution environments (see the module's docstring)."""

    def __init__(
        self,
        config: FunctionConfig,
        settings: LambdaSettings,
        environ: Callable[[], Mapping[str, str]],
        record: Callable[[Invocation], None],
    ) -> None:
        self.name = config.name
        self.config = config
        self._settings = settings
        self._environ = environ
        self._record = record
        self._environments: set[ExecutionEnvironment] = set()  # starting, busy or idle
        self._idle: list[ExecutionEnvironment] = []  # the most recently used last
        self._changed = threading.Condition()
        self._numbers = itertools.count(1)
        self._stopped = False

    def __call__(self, event: dict[str, Any], context: Any = None) -> Any:
        request_id = str(uuid.uuid4())
        trigger = event.get("requestContext") if isinstance(event, dict) else None
        api_request_id = (trigger or {}).get("requestId")
        environment = self._acquire()
        cold_start = environment.init_duration_ms if environment.invocations == 0 else None
        started = time.time()

        def record(status: str, max_memory_used_mb: int | None = None) -> None:
            self._record(Invocation(
                self.name, environment.id, request_id, api_request_id, started, time.time(),
                cold_start, max_memory_used_mb, status,
            ))  # fmt: skip

        try:
            reply = environment.invoke(request_id, event, started + self.config.timeout_seconds)
        except InvocationFailed as failure:
            self._drop(environment)
            # What Lambda writes to the function's log when it ends an invocation itself.
            if failure.status == "timeout":
                logger.error("%s %s %s", environment.id, request_id, failure)
            else:
                logger.error("%s RequestId: %s Error: %s", environment.id, request_id, failure)
            record(failure.status)
            raise
        except BaseException:  # an event that is not JSON, an interrupt: never leak a slot
            self._drop(environment)
            raise
        self._release(environment)
        error = reply.get("error")
        record("error" if error else "success", reply.get("max_memory_used_mb"))
        if error:
            raise InvocationFailed(f"{error['errorType']}: {error['errorMessage']}", "error")
        return reply["result"]

    def _acquire(self) -> ExecutionEnvironment:
        with self._changed:
            while True:
                if self._stopped:
                    raise InvocationFailed("the local stack is stopping", "crash")
                while self._idle:
                    environment = self._idle.pop()
                    if environment.alive():
                        return environment
                    self._environments.discard(environment)  # died while idle
                if len(self._environments) < self._settings.concurrency:
                    environment = ExecutionEnvironment(self.config, next(self._numbers))
                    self._environments.add(environment)
                    break
                self._changed.wait()
        try:
            environment.start(self._environ())
        except InvocationFailed as failure:
            logger.error("%s could not start: %s", environment.id, failure)
            self._drop(environment)
            raise
        except BaseException:
            self._drop(environment)
            raise
        with self._changed:
            stopped = self._stopped
        if stopped:  # stop() ran while this one was starting: it never saw the process
            self._drop(environment)
            raise InvocationFailed("the local stack is stopping", "crash")
        return environment

    def _release(self, environment: ExecutionEnvironment) -> None:
        with self._changed:
            environment.last_used = time.monotonic()
            self._idle.append(environment)
            self._changed.notify()

    def _drop(self, environment: ExecutionEnvironment) -> None:
        environment.kill()
        with self._changed:
            self._environments.discard(environment)
            self._changed.notify()

    def shut_down_idle(self, now: float) -> None:
        """Shut down the environments idle for `idle_seconds` or more."""
        with self._changed:
            expired = [e for e in self._idle if now - e.last_used >= self._settings.idle_seconds]
            for environment in expired:
                self._idle.remove(environment)
                self._environments.discard(environment)
        for environment in expired:
            environment.shut_down()
            logger.info(
                "%s idle for %.0f s after %d invocation(s): shut down",
                environment.id, now - environment.last_used, environment.invocations,
            )  # fmt: skip

    def stop(self) -> None:
        """Every environment, busy or not (a busy one's caller gets InvocationFailed)."""
        with self._changed:
            self._stopped = True
            environments = list(self._environments)
            self._environments.clear()
            self._idle.clear()
            self._changed.notify_all()
        for environment in environments:
            environment.kill()

    def describe(self) -> dict[str, Any]:
        with self._changed:
            idle = set(self._idle)
            environments = sorted(self._environments, key=lambda e: e.id)
            return {
                "timeout_seconds": self.config.timeout_seconds,
                "environments": [
                    {"id": e.id, "pid": e.pid, "busy": e not in idle,
                     "invocations": e.invocations, "init_duration_ms": e.init_duration_ms}
                    for e in environments
                ],
            }  # fmt: skip


class LocalLambda:
    """The stack's functions, each with its execution environments."""

    def __init__(
        self,
        settings: LambdaSettings,
        environ: Callable[[], Mapping[str, str]] = lambda: os.environ,
    ) -> None:
        self.settings = settings
        self._environ = environ
        self._functions: dict[str, LambdaFunction] = {}
        self._recent: deque[Invocation] = deque(maxlen=RECENT_INVOCATIONS)
        self._recent_lock = threading.Lock()
        self._stopping = threading.Event()
        self._reaper: threading.Thread | None = None

    def function(self, name: str, handler: str, timeout_seconds: float) -> LambdaFunction:
        config = FunctionConfig(name, handler, timeout_seconds)
        function = LambdaFunction(config, self.settings, self._environ, self._remember)
        self._functions[name] = function
        return function

    def start(self) -> LocalLambda:
        """The reaper of idle environments."""
        self._reaper = threading.Thread(target=self._reap, name="idle-environments", daemon=True)
        self._reaper.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for function in self._functions.values():
            function.stop()
        if self._reaper is not None:
            self._reaper.join(timeout=5)

    def _reap(self) -> None:
        interval = min(1.0, self.settings.idle_seconds / 4)
        while not self._stopping.wait(interval):
            for function in list(self._functions.values()):
                function.shut_down_idle(time.monotonic())

    def _remember(self, invocation: Invocation) -> None:
        with self._recent_lock:
            self._recent.append(invocation)
        logger.info("%s %s", invocation.environment, invocation.report())

    def invocations(self) -> list[Invocation]:
        with self._recent_lock:
            return list(self._recent)

    def describe(self) -> dict[str, Any]:
        """The /_local/lambda page: settings, each function's environments, and the latest
        invocations (oldest first)."""
        return {
            "concurrency": self.settings.concurrency,
            "idle_seconds": self.settings.idle_seconds,
            "functions": {name: f.describe() for name, f in sorted(self._functions.items())},
            "invocations": [
                asdict(i) | {"duration_ms": round(i.duration_ms, 2)} for i in self.invocations()
            ],
        }

    async def page(self, request: web.Request) -> web.Response:
        from aiohttp import web  # noqa: PLC0415 - only the gateway's process serves it

        return web.json_response(self.describe())

    def page_route(self) -> tuple[str, str, Callable[[web.Request], Any]]:
        return ("GET", PAGE_PATH, self.page)
