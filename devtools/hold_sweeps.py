"""The hold sweeper in the local stack: what EventBridge Scheduler does in AWS.

A thread invokes the hold_sweeper function every `interval` seconds (the schedule's rate
in AWS is 15 minutes; locally a minute, CALLPAY_HOLD_SWEEP_SECONDS), with the event the
schedule sends. `POST /_local/hold-sweeps` runs one sweep at once and answers what it did,
for trying warnings and lapses by hand.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

logger = logging.getLogger("callpay.hold_sweeps")

PATH = "/_local/hold-sweeps"
# The deployed function's timeout (infra/stack.py).
SWEEP_TIMEOUT_SECONDS = 300
# What EventBridge Scheduler's Lambda target sends when the schedule gives no input.
SCHEDULED_EVENT: dict[str, Any] = {}

Page = Callable[[web.Request], Awaitable[web.StreamResponse]]
Function = Callable[[dict[str, Any]], Any]


class HoldSweepLoop:
    def __init__(self, function: Function, interval: float) -> None:
        self._function = function
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._function(dict(SCHEDULED_EVENT))
        return answer

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hold-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            # As a failed scheduled invocation: logged, and the next run does the work.
            try:
                self.sweep()
            except Exception:
                logger.exception("the hold sweeper raised; the next run tries again")

    def page_route(self) -> tuple[str, str, Page]:
        async def sweep_now(request: web.Request) -> web.Response:
            import asyncio  # noqa: PLC0415

            counts = await asyncio.to_thread(self.sweep)
            return web.Response(body=json.dumps(counts), content_type="application/json")

        return ("POST", PATH, sweep_now)
