"""Run localstripe, with the gaps closed where it behaves unlike Stripe.

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
* The card on a charge. Stripe's charges carry `payment_method_details.card` (brand, last
  four digits and, for an authorisation, `capture_before`: seven days for an online card
  payment); localstripe's carry none. This launcher adds them.
* Cards kept for later. localstripe refuses `setup_future_usage` on a PaymentIntent and
  `off_session` on a confirm. Here, as on Stripe, an intent with `setup_future_usage:
  off_session` and a Customer attaches its card to the Customer once the payment (or the
  hold) succeeds, and `off_session: true` charges a card without its holder: a card that
  asks for 3-D Secure on every payment (4000 0027 6000 3184), or one that does unless it
  was kept for off-session use (4000 0025 0000 3155...), fails with Stripe's 402
  `authentication_required` card error (`decline_code` too), the intent back to
  `requires_payment_method` with that `last_payment_error`, and
  `payment_intent.payment_failed` is sent.

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

# Stripe's window for capturing an online card payment.
HOLD_SECONDS = 7 * 24 * 3600
# Cards that ask for the card holder on every payment, kept for later or not.
ALWAYS_AUTHENTICATE = frozenset({"4000002760003184"})
AUTHENTICATION_REQUIRED = {
    "code": "authentication_required",
    "decline_code": "authentication_required",
    "message": "Your card was declined. This transaction requires authentication.",
    "type": "card_error",
}


PaymentIntent, PaymentMethod = resources.PaymentIntent, resources.PaymentMethod

_update = PaymentIntent._update


def _update_allowing_retry(self: Any, **data: Any) -> None:
    charge = self.latest_charge
    if "payment_method" in data:
        if charge is not None and charge.status == "failed":
            self.latest_charge = None
        self._off_session_error = None
    if data.get("setup_future_usage") == "":
        data["setup_future_usage"] = None  # "" unsets it, as on Stripe
    _update(self, **data)


PaymentIntent._update = _update_allowing_retry

_intent_init = PaymentIntent.__init__


def _intent_init_keeping_cards(self: Any, setup_future_usage: Any = None, **data: Any) -> None:
    _intent_init(self, **data)
    self.setup_future_usage = setup_future_usage
    self._off_session_error = None


PaymentIntent.__init__ = _intent_init_keeping_cards


def _keep_card(intent: Any) -> None:
    """What Stripe does when a payment with `setup_future_usage` succeeds."""
    if intent.setup_future_usage == "off_session" and intent.customer and intent.payment_method:
        method = PaymentMethod._api_retrieve(intent.payment_method)
        method.customer = intent.customer
        method._kept_for_off_session = True


_on_success = PaymentIntent._on_success


def _on_success_keeping_cards(self: Any) -> None:
    _keep_card(self)
    _on_success(self)


PaymentIntent._on_success = _on_success_keeping_cards

_create_charge = PaymentIntent._create_charge


def _create_charge_announcing_holds(self: Any, on_failure_now: Any) -> None:
    _create_charge(self, on_failure_now=on_failure_now)
    charge = self.latest_charge
    if charge is not None and not charge.captured:
        charge._capture_before = charge.created + HOLD_SECONDS
    if self.status == "requires_capture":
        _keep_card(self)
        resources.schedule_webhook(
            resources.Event("payment_intent.amount_capturable_updated", self)
        )


PaymentIntent._create_charge = _create_charge_announcing_holds

_last_payment_error = PaymentIntent.last_payment_error


def _last_payment_error_off_session(self: Any) -> Any:
    return getattr(self, "_off_session_error", None) or _last_payment_error.fget(self)


PaymentIntent.last_payment_error = property(_last_payment_error_off_session)


def _payment_method_details(self: Any) -> dict[str, Any] | None:
    """Stripe's `payment_method_details` of a card charge."""
    method = PaymentMethod._api_retrieve(self.payment_method)
    card = getattr(method, "card", None)
    if not isinstance(card, dict):
        return None
    details = {key: card.get(key) for key in ("brand", "last4", "exp_month", "exp_year")}
    capture_before = getattr(self, "_capture_before", None)
    if capture_before is not None:
        details["capture_before"] = capture_before
    return {"type": "card", "card": details}


resources.Charge.payment_method_details = property(_payment_method_details)


def _needs_the_card_holder(method: Any) -> bool:
    if method.type != "card" or not method._requires_authentication():
        return False
    kept = getattr(method, "_kept_for_off_session", False)
    return method._card_number in ALWAYS_AUTHENTICATE or not kept


def _confirm_off_session(intent: Any) -> None:
    """Charge the intent's card without its holder, as Stripe does (see above)."""
    if intent.status != "requires_confirmation":
        raise UserError(400, "Bad request")
    method = PaymentMethod._api_retrieve(intent.payment_method)
    if _needs_the_card_holder(method):
        intent._off_session_error = dict(AUTHENTICATION_REQUIRED, payment_method=method.id)
        intent.payment_method = None  # back to requires_payment_method
        resources.schedule_webhook(resources.Event("payment_intent.payment_failed", intent))
        raise UserError(402, AUTHENTICATION_REQUIRED["message"],
                        dict(AUTHENTICATION_REQUIRED, payment_intent=intent._export()))  # fmt: skip
    intent._confirm(on_failure_now=intent._report_failure)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def off_session_confirmations(request: web.Request, handler: Handler) -> web.StreamResponse:
    """POST /v1/payment_intents/{id}/confirm with `off_session`: localstripe's own route
    refuses the parameter."""
    path = request.path.rstrip("/")
    if (
        request.method == "POST"
        and path.startswith("/v1/payment_intents/")
        and path.endswith("/confirm")
    ):
        data = await server.get_post_data(request) or {}
        if str(data.get("off_session", "")).lower() == "true":
            intent = PaymentIntent._api_retrieve(path.split("/")[3])
            _confirm_off_session(intent)
            answer: web.StreamResponse = server.json_response(intent._export())
            return answer
    return await handler(request)


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
    server.app.middlewares.append(off_session_confirmations)
    server.app.router.add_post(LATENCY_PATH, _set_latency)
    web.run_app(server.app, host=args.host, port=args.port, access_log=access, print=None)


if __name__ == "__main__":
    main()
