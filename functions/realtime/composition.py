"""What realtime builds: the feed's use cases (admit, forget, answer a socket) on the
shared store and connections of callpay.runtime; replies go through runtime.notifier."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callpay import runtime
from callpay.parts import part

if TYPE_CHECKING:
    from callpay.logic.realtime import Realtime


@part
def realtime() -> Realtime:
    from callpay.logic.realtime import Realtime  # noqa: PLC0415

    return Realtime(store=runtime.store(), connections=runtime.connections(), clock=runtime.now)
