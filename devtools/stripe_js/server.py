"""The stand-in's server part: Stripe's publishable-key API for one PaymentIntent, on localstripe.

In a browser Stripe.js pays a PaymentIntent with the publishable key and the intent's
client secret. localstripe refuses publishable keys on these calls (401), has no
`confirmPayment`, and sends no webhook for 3-D Secure; so the stand-in's frames call the
routes here instead. They check the client secret as Stripe does, drive localstripe with
the stack's secret key (create the PaymentMethod, attach it, confirm, authenticate) and
send the events localstripe does not (`payment_intent.requires_action`, and
`payment_intent.payment_failed` for a failed authentication), signed like Stripe's, to
the stack's `/webhooks/stripe`. localstripe sends `payment_intent.succeeded` and the
decline's `payment_intent.payment_failed` itself, so those are not sent twice.

Routes are plain aiohttp handlers the gateway serves among its local pages. Bodies are
JSON, and the client secret always travels in a body, never in a URL.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from devtools.stripe_deliveries import deliver, stripe_event

PREFIX = "/stripe-js"
# The script pages load instead of https://js.stripe.com/v3/.
SCRIPT_PATH = f"{PREFIX}/v3/"
API = f"{PREFIX}/api"
STATIC = Path(__file__).parent / "static"
# What the frames and the script are made of (name -> content type); nothing else is served.
FILES = {
    "stripe.js": "application/javascript",
    "payment-element.html": "text/html",
    "payment-element.js": "application/javascript",
    "three-d-secure.html": "text/html",
    "three-d-secure.js": "application/javascript",
    "frames.css": "text/css",
}
# The frames load their own script and style only, from here.
FRAME_POLICY = "default-src 'self'; frame-ancestors *; base-uri 'none'; form-action 'none'"

CLIENT_SECRET = re.compile(r"^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$")
ACCOUNT = re.compile(r"^acct_[A-Za-z0-9_%.-]+$")
# What Stripe answers a publishable key with: a PaymentIntent without metadata, customer...
CLIENT_FIELDS = (
    "id", "object", "amount", "canceled_at", "cancellation_reason", "capture_method",
    "client_secret", "confirmation_method", "created", "currency", "description",
    "last_payment_error", "livemode", "next_action", "payment_method",
    "payment_method_types", "processing", "receipt_email", "setup_future_usage",
    "shipping", "status",
)  # fmt: skip
CONFIRMABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})
# localstripe reports a charge decline without Stripe's decline_code; for its decline test
# cards (4000 0000 0000 0341 and the 3-D Secure ones that then decline) Stripe says this.
DECLINE_CODE = "generic_decline"

Page = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("callpay.stripe_js")


class StripeError(Exception):
    """An answer in Stripe's error shape: `{"error": {"type", "code", "message", ...}}`."""

    def __init__(self, status: int, kind: str, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": kind, "code": code, "message": message, **extra}}


def _invalid(code: str, message: str, param: str | None = None) -> StripeError:
    extra = {"param": param} if param else {}
    return StripeError(400, "invalid_request_error", code, message, **extra)


def client_intent(intent: dict[str, Any]) -> dict[str, Any]:
    """The PaymentIntent as Stripe.js sees it."""
    return {name: intent.get(name) for name in CLIENT_FIELDS} | {"livemode": False}


@dataclass(frozen=True)
class Card:
    number: str
    exp_month: int
    exp_year: int
    cvc: str

    @classmethod
    def parse(cls, raw: Any) -> Card:
        if not isinstance(raw, dict):
            raise _invalid("parameter_missing", "Missing required param: card.", "card")
        number = str(raw.get("number") or "").replace(" ", "")
        cvc = str(raw.get("cvc") or "")
        try:
            month, year = int(raw.get("exp_month") or ""), int(raw.get("exp_year") or "")
        except (TypeError, ValueError):
            raise _invalid("invalid_expiry_month", "Your card's expiration date is invalid.",
                           "card[exp_month]") from None  # fmt: skip
        if not (number.isdigit() and 13 <= len(number) <= 19 and _luhn(number)):
            raise StripeError(402, "card_error", "invalid_number",
                              "Your card number is invalid.", param="card[number]")  # fmt: skip
        if not 1 <= month <= 12:
            raise StripeError(402, "card_error", "invalid_expiry_month",
                              "Your card's expiration month is invalid.",
                              param="card[exp_month]")  # fmt: skip
        if not (cvc.isdigit() and len(cvc) in (3, 4)):
            raise StripeError(402, "card_error", "invalid_cvc",
                              "Your card's security code is invalid.",
                              param="card[cvc]")  # fmt: skip
        year = year + 2000 if year < 100 else year
        today = date.today()
        if (year, month) < (today.year, today.month):
            raise StripeError(402, "card_error", "expired_card", "Your card has expired.",
                              param="card[exp_year]")  # fmt: skip
        return cls(number, month, year, cvc)


def _luhn(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


class Localstripe:
    """localstripe's API with the stack's secret key (JSON bodies, which it reads)."""

    def __init__(self, base: str, secret_key: str) -> None:
        self._base = base.rstrip("/")
        self._secret_key = secret_key

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None,
        account: str | None = None,
    ) -> tuple[int, dict[str, Any]]:  # fmt: skip
        headers = {"Authorization": f"Bearer {self._secret_key}"}
        if account:
            # As Stripe.js sends it; localstripe 1.15 ignores it (it has one account).
            headers["Stripe-Account"] = account
        try:
            async with (
                aiohttp.ClientSession(trust_env=False) as session,
                session.request(method, self._base + path, json=body, headers=headers) as answer,
            ):
                return answer.status, await answer.json(content_type=None)
        except (aiohttp.ClientError, json.JSONDecodeError) as error:
            raise StripeError(502, "api_error", "api_connection_error",
                              f"localstripe did not answer: {error}") from error  # fmt: skip

    async def ok(
        self, method: str, path: str, body: dict[str, Any] | None = None,
        account: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        status, answer = await self.call(method, path, body, account)
        if status != 200:
            raise _as_error(status, answer)
        return answer


class StripeJsStandIn:
    def __init__(
        self,
        stripe_api_base: str,
        secret_key: str,
        webhook_url: Callable[[], str],
        webhook_secret: str,
    ) -> None:
        self._stripe = Localstripe(stripe_api_base, secret_key)
        self._webhook_url = webhook_url  # known once the gateway has its port
        self._webhook_secret = webhook_secret

    def routes(self) -> list[tuple[str, str, Page]]:
        """(method, path, handler) for the gateway's local pages."""
        intent = f"{API}/payment_intents/{{intent_id}}"
        return [
            ("GET", SCRIPT_PATH, self._script),
            ("GET", f"{PREFIX}/frames/{{name}}", self._frame_file),
            ("POST", f"{intent}/retrieve", self._answering(self.retrieve)),
            ("POST", f"{intent}/confirm", self._answering(self.confirm)),
            ("POST", f"{intent}/authenticate", self._answering(self.authenticate)),
            ("OPTIONS", f"{API}/{{path:.*}}", self._preflight),
        ]

    # -- files ---------------------------------------------------------------------------

    async def _script(self, request: web.Request) -> web.StreamResponse:
        return _file("stripe.js")

    async def _frame_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in FILES or name == "stripe.js":
            raise web.HTTPNotFound()
        response = _file(name)
        if name.endswith(".html"):
            response.headers["Content-Security-Policy"] = FRAME_POLICY
        return response

    # -- API -----------------------------------------------------------------------------

    def _answering(
        self, handler: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
    ) -> Page:
        async def page(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError
            except ValueError:
                error = _invalid("parameter_invalid", "The body must be a JSON object.")
                return _api_answer(error.status, error.body)
            try:
                return _api_answer(200, await handler(request.match_info["intent_id"], body))
            except StripeError as error:
                return _api_answer(error.status, error.body)

        return page

    async def _preflight(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204, headers=_cors() | {
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "content-type",
            "Access-Control-Max-Age": "3600",
        })  # fmt: skip

    async def retrieve(self, intent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        intent = await self._intent(intent_id, body)
        return client_intent(intent)

    async def confirm(self, intent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Pay the PaymentIntent with a new card: create the PaymentMethod, attach, confirm."""
        intent = await self._intent(intent_id, body)
        account = _account(body)
        status = intent["status"]
        if status not in CONFIRMABLE:
            raise _invalid(
                "payment_intent_unexpected_state",
                f"You cannot confirm this PaymentIntent because it has a status of {status}.",
            ) from None
        card = Card.parse(body.get("card"))
        path = f"/v1/payment_intents/{intent_id}"
        if status == "requires_action":
            # A new card instead of an abandoned authentication: localstripe must first
            # drop the pending one (which clears the old card), as Stripe does on confirm.
            await self._stripe.ok("POST", f"{path}/_authenticate", {
                "client_secret": intent["client_secret"], "success": False}, account)  # fmt: skip
        method = await self._stripe.ok("POST", "/v1/payment_methods", {
            "type": "card",
            "card": {"number": card.number, "exp_month": card.exp_month,
                     "exp_year": card.exp_year, "cvc": card.cvc},
            "billing_details": _billing_details(body.get("billing_details")),
        }, account)  # fmt: skip
        await self._stripe.ok("POST", path, {"payment_method": method["id"]}, account)
        code, confirmed = await self._stripe.call("POST", f"{path}/confirm", {}, account)
        if code == 402:
            raise await self._card_error(intent_id, confirmed, method, account)
        if code != 200:
            raise _as_error(code, confirmed)
        if confirmed["status"] == "requires_action":
            # Stripe sends this; localstripe does not.
            await self._send("payment_intent.requires_action", confirmed, account)
        return client_intent(confirmed)

    async def authenticate(self, intent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The 3-D Secure challenge's answer: completed (the charge is made) or failed."""
        intent = await self._intent(intent_id, body)
        account = _account(body)
        success = body.get("success")
        if not isinstance(success, bool):
            raise _invalid("parameter_invalid", "success must be true or false.", "success")
        if intent["status"] != "requires_action":
            raise _invalid(
                "payment_intent_unexpected_state",
                f"This PaymentIntent does not require authentication: its status is "
                f"{intent['status']}.",
            )
        code, after = await self._stripe.call(
            "POST",
            f"/v1/payment_intents/{intent_id}/_authenticate",
            {"client_secret": intent["client_secret"], "success": success},
            account,
        )
        if code == 402:  # authenticated, then declined (localstripe sends that event)
            method = {"id": intent.get("payment_method")}
            raise await self._card_error(intent_id, after, method, account)
        if code != 200:
            raise _as_error(code, after)
        if not success:
            # Stripe reports a failed authentication with this event; localstripe does not.
            await self._send("payment_intent.payment_failed", after, account)
        return client_intent(after)

    async def _intent(self, intent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The PaymentIntent, if the body's client secret is its own."""
        secret = body.get("client_secret")
        if not isinstance(secret, str):
            raise _invalid("parameter_missing", "Missing required param: client_secret.",
                           "client_secret")  # fmt: skip
        matched = CLIENT_SECRET.match(secret)
        if matched is None or matched.group(1) != intent_id:
            raise _invalid("parameter_invalid", "Invalid value for client_secret.",
                           "client_secret")  # fmt: skip
        code, intent = await self._stripe.call(
            "GET", f"/v1/payment_intents/{intent_id}", account=_account(body)
        )
        if code == 404:
            raise StripeError(404, "invalid_request_error", "resource_missing",
                              f"No such payment_intent: '{intent_id}'",
                              param="intent")  # fmt: skip
        if code != 200:
            raise _as_error(code, intent)
        if intent.get("client_secret") != secret:
            raise _invalid(
                "payment_intent_invalid_parameter",
                "The client_secret provided does not match the client_secret associated "
                "with the PaymentIntent.",
                "client_secret",
            )
        return intent

    async def _card_error(
        self, intent_id: str, answer: dict[str, Any], method: dict[str, Any],
        account: str | None,
    ) -> StripeError:  # fmt: skip
        """A decline in Stripe's shape, with the PaymentIntent as it now is."""
        error = answer.get("error") or {}
        intent = await self._stripe.ok("GET", f"/v1/payment_intents/{intent_id}",
                                       account=account)  # fmt: skip
        code = str(error.get("code") or "card_declined")
        extra: dict[str, Any] = {
            "decline_code": DECLINE_CODE if code == "card_declined" else None,
            "charge": error.get("charge"),
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
            "payment_intent": client_intent(intent),
            "payment_method": {"id": method.get("id"), "object": "payment_method",
                               "type": "card"},
        }  # fmt: skip
        message = str(error.get("message") or "Your card was declined.")
        return StripeError(402, "card_error", code, message, **extra)

    async def _send(self, kind: str, intent: dict[str, Any], account: str | None) -> None:
        """Deliver an event now (before the browser hears back, so the feed's order is
        the order of the steps); a refused delivery is logged, not retried."""
        event = stripe_event(kind, intent, account=account)
        try:
            delivery = await deliver(self._webhook_url(), self._webhook_secret, event)
        except aiohttp.ClientError as error:
            log.warning("stand-in: %s for %s not delivered: %s", kind, intent["id"], error)
            return
        if not delivery.ok:
            log.warning("stand-in: %s for %s answered %d: %s", kind, intent["id"],
                        delivery.status, delivery.body[:300])  # fmt: skip


def _account(body: dict[str, Any]) -> str | None:
    account = body.get("stripe_account")
    if account is None:
        return None
    if not isinstance(account, str) or ACCOUNT.match(account) is None:
        raise _invalid("parameter_invalid", "Invalid value for stripe_account.", "stripe_account")
    return account


def _billing_details(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if k in ("name", "email") and isinstance(v, str)}


def _as_error(status: int, answer: dict[str, Any]) -> StripeError:
    error = answer.get("error") or {}
    return StripeError(
        status if 400 <= status < 600 else 502,
        str(error.get("type") or "api_error"),
        str(error.get("code") or "localstripe_error"),
        str(error.get("message") or f"localstripe answered {status}"),
    )


def _cors() -> dict[str, str]:
    # Stripe's API takes publishable-key calls from any page; so does the stand-in's.
    return {"Access-Control-Allow-Origin": "*"}


def _api_answer(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status, headers=_cors() | {"Cache-Control": "no-store"})


def _file(name: str) -> web.Response:
    return web.Response(
        body=(STATIC / name).read_bytes(),
        content_type=FILES[name],
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )
