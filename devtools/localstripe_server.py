"""Run localstripe, with three gaps closed where it behaves unlike Stripe.

* Retry after a decline. On Stripe, a PaymentIntent whose card was declined goes back to
  `requires_payment_method` and the patient can pay it with another card. localstripe
  1.15 keeps the failed charge and refuses the second confirm; this launcher drops the
  failed charge when a new payment method is attached, which is what Stripe does.
* Holds. Stripe announces an authorised, not yet captured payment with
  `payment_intent.amount_capturable_updated`; localstripe sends nothing until capture.
  This launcher sends that event when a manual-capture charge is authorised.
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
import logging
from typing import Any

from aiohttp import web
from localstripe import resources, server

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
    web.run_app(server.app, host=args.host, port=args.port, access_log=access, print=None)


if __name__ == "__main__":
    main()
