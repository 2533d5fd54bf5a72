"""What hold_sweeper builds: the sweep of holds near expiry and lapsed, on the shared
parts of callpay.runtime (the store, Stripe, the feed, the receipt queue)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from callpay import runtime
from callpay.parts import part

if TYPE_CHECKING:
    from callpay.logic.hold_sweeper import HoldSweeper


@part
def hold_sweeper() -> HoldSweeper:
    from callpay.logic.hold_sweeper import HoldSweeper  # noqa: PLC0415

    return HoldSweeper(
        store=runtime.store(), gateway=runtime.stripe_gateway(), notifier=runtime.notifier(),
        receipts=runtime.receipt_queue(), clock=runtime.now,
        warn_before=timedelta(hours=runtime.settings().hold_warning_hours),
    )  # fmt: skip
