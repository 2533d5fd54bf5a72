"""Stripe Connect onboarding, simulated for the local stack (localstripe has no Connect).

In the local stack clinic_admin's "Go to Stripe" link (LOCAL_ONBOARDING_URL) leads to the
page served here. Opening it completes onboarding at once: the page sends the webhook
Stripe would send after a real onboarding (`account.updated` with charges enabled),
signed with the Connect endpoint's secret, to the local `/webhooks/stripe`.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devtools.stripe_deliveries import deliver, stripe_event

PATH = "/_local/stripe-onboarding"
# With Stripe's own test mode: where Stripe sends the clinic admin back after onboarding.
RETURN_PATH = "/_local/stripe-return"


def account_updated(account_id: str, clinic_id: str | None) -> dict[str, Any]:
    """The event Stripe sends on the Connect endpoint once an account can take charges."""
    account = {
        "id": account_id,
        "object": "account",
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "requirements": {"currently_due": [], "eventually_due": [], "past_due": []},
        "metadata": {"clinic_id": clinic_id} if clinic_id else {},
    }
    return stripe_event("account.updated", account, account=account_id)


class LocalOnboarding:
    def __init__(self, webhook_url: Callable[[], str], connect_secret: str) -> None:
        self._webhook_url = webhook_url  # known once the gateway has its port
        self._secret = connect_secret

    def page_route(self) -> tuple[str, str, Callable[[web.Request], Awaitable[web.Response]]]:
        return ("GET", PATH + "/{account_id}", self.complete)

    async def complete(self, request: web.Request) -> web.Response:
        account_id = request.match_info["account_id"]
        clinic_id = request.query.get("clinic_id")
        delivery = await deliver(
            self._webhook_url(), self._secret, account_updated(account_id, clinic_id)
        )
        done, status, outcome = delivery.ok, delivery.status, delivery.body
        title = "Stripe account linked" if done else "Onboarding could not be completed"
        text = (
            f"The local Stripe account {account_id} can now take payments"
            f"{' for clinic ' + clinic_id if clinic_id else ''}."
            if done
            else f"The webhook answered {status}: {outcome}"
        )
        page = (
            "<!doctype html><meta charset=utf-8>"
            f"<title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(text)}</p>"
            "<p><small>Local stack only: localstripe has no Stripe Connect, so onboarding "
            "is simulated and completes at once.</small></p>"
        )
        return web.Response(status=200 if done else 502, text=page, content_type="text/html")


async def returned(request: web.Request) -> web.Response:
    """The page Stripe's real onboarding returns to, with Stripe's test mode."""
    clinic_id = html.escape(request.match_info["clinic_id"])
    page = (
        "<!doctype html><meta charset=utf-8><title>Back from Stripe</title>"
        f"<h1>Back from Stripe</h1><p>Clinic {clinic_id}: the account's state arrives with "
        "Stripe's <code>account.updated</code> webhook; forward Connect events with "
        "<code>stripe listen --forward-connect-to</code>.</p>"
    )
    return web.Response(text=page, content_type="text/html")
