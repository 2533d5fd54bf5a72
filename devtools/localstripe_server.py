"""Run localstripe, with three gaps closed where it behaves unlike Stripe.

* Retry after a decline. On Stripe, a PaymentIntent whose card was declined goes back to
  `requires_payment_method` and the patient can pay it with another card. localstripe
  1.15 keeps the failed charge and refuses the second confirm; this launcher drops the
  failed charge when a new payment method is attached, which is what Stripe does.
* Holds. Stripe announces an authorised, not yet captured payment with
  `payment_intent.amount_capturable_updated`; localstripe sends nothing until capture.
  This launcher sends that event when a manual-capture charge is authorised.
* Over-refunds. Stripe refuses a refund larger than what is left of the charge (400,
  "Refund amount ... is greater than unrefunded amount on charge ...", or
  `charge_already_refunded`); localstripe refunds whatever it is asked. This launcher
  refuses them as Stripe does, so concurrent refunds meet the guard they meet in Stripe.

And one knob Stripe does not have: `POST /_config/latency {"seconds": 1.5}` makes every
API call (`/v1/...`) answer that much later, as a slow Stripe would, until set back to 0
(the end-to-end tests use it to time two slow invocations that overlap).
* Listing PaymentIntents by creation time (`created[gte]`), which Stripe supports and
  localstripe refuses: callpay looks for an intent whose creation answer was lost so.

localstripe still ignores idempotency keys (a repeated create makes a second object):
callpay does not rely on them alone (docs/decisions.md, Lost answers).

It also listens on one address (localstripe's own launcher takes every interface) and
ends with its parent process, so a killed stack leaves no localstripe behind.
Usage: python devtools/localstripe_server.py --port 8420 --from-scratch [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError

from devtools.processes import exit_with_parent

_update = resources.PaymentIntent._update


def _update_allowing_retry(self: Any, **data: Any) -> None:
    charge = self.latest_charge
    if "payment_method" in data and charge is not None and charge.status == "failed":
        self.latest_charge = None
    _update(self, **data)


resources.PaymentIntent._update = _update_allowing_retry

_create_charge = resources.PaymentIntent._create_charge


def _create_charge_announcing_holds(self: Any, on_failure_now: Any) -> None:
    _create_charge(self, on_failure_now=on_failure_now)
    if self.status == "requires_capture":
        resources.schedule_webhook(
            resources.Event("payment_intent.amount_capturable_updated", self)
        )


resources.PaymentIntent._create_charge = _create_charge_announcing_holds

_create_refund = resources.Refund.__init__


def _refund_within_the_charge(
    self: Any, charge: Any = None, payment_intent: Any = None, amount: Any = None, **data: Any
) -> None:
    refunded = charge
    if refunded is None and isinstance(payment_intent, str):
        refunded = getattr(resources.PaymentIntent._api_retrieve(payment_intent).latest_charge,
                           "id", None)  # fmt: skip
    if isinstance(refunded, str):
        charged = resources.Charge._api_retrieve(refunded)
        left = charged.amount - charged.amount_refunded
        wanted = resources.try_convert_to_int(amount) if amount is not None else left
        if left <= 0:
            raise UserError(400, f"Charge {refunded} has already been refunded.",
                            {"code": "charge_already_refunded"})  # fmt: skip
        if isinstance(wanted, int) and wanted > left:
            currency = charged.currency.upper()
            raise UserError(
                400,
                f"Refund amount ({wanted} {currency}) is greater than unrefunded amount on "
                f"charge ({left} {currency})",
                {"param": "amount"},
            )
    _create_refund(self, charge=charge, payment_intent=payment_intent, amount=amount, **data)


resources.Refund.__init__ = _refund_within_the_charge

LATENCY_PATH = "/_config/latency"
_latency = {"seconds": 0.0}


@web.middleware
async def _slow_like_stripe(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path.startswith("/v1/") and _latency["seconds"] > 0:
        await asyncio.sleep(_latency["seconds"])
    return await handler(request)


async def _set_latency(request: web.Request) -> web.Response:
    try:
        seconds = float((await request.json())["seconds"])
    except (ValueError, KeyError, TypeError):
        seconds = -1
    if not 0 <= seconds <= 60:
        raise web.HTTPBadRequest(text='Send {"seconds": 0 to 60}.')
    _latency["seconds"] = seconds
    return web.json_response(_latency)


_list_intents = resources.PaymentIntent._api_list_all.__func__


def _list_intents_created_since(cls: Any, /, url: str, created: Any = None, **kwargs: Any) -> Any:
    listed = _list_intents(cls, url, **kwargs)
    if isinstance(created, dict) and "gte" in created:
        since = int(created["gte"])
        listed._list = [intent for intent in listed._list if intent.created >= since]
    return listed


resources.PaymentIntent._api_list_all = classmethod(_list_intents_created_since)


def _keep_in_memory(self: Any) -> None:
    """From scratch, nothing is read back: skip localstripe's pickling of its whole store
    to /tmp/localstripe.pickle after every write (slow, and shared by every instance)."""


def main() -> None:
    parser = argparse.ArgumentParser(description="localstripe, as the local stack runs it")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--from-scratch", action="store_true")
    args = parser.parse_args()
    if args.from_scratch:
        resources.Store.dump_to_disk = _keep_in_memory
    else:
        resources.store.try_load_from_disk()
    exit_with_parent()
    # localstripe reports webhook deliveries on this logger; keep them in the output.
    access = logging.getLogger("aiohttp.access")
    access.setLevel(logging.DEBUG)
    access.addHandler(logging.StreamHandler())
    server.app.middlewares.append(_slow_like_stripe)
    server.app.router.add_post(LATENCY_PATH, _set_latency)
    web.run_app(server.app, host=args.host, port=args.port, access_log=access, print=None)


if __name__ == "__main__":
    main()
