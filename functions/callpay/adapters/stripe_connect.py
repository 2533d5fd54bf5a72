"""Connect onboarding: a connected account per clinic, and Account Links to Stripe's forms.

Account Links are Stripe's way for new platforms (OAuth is legacy). The clinic admin is
sent to the link; Stripe then reports the account's state through `account.updated`
webhooks on the Connect endpoint, which is what enables charges here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from callpay.adapters.stripe_gateway import stripe_errors

if TYPE_CHECKING:
    import stripe


class StripeConnect:
    def __init__(
        self, client_factory: Callable[[], stripe.StripeClient], return_url: str, refresh_url: str
    ) -> None:
        self._client_factory = client_factory
        self._return_url = return_url
        self._refresh_url = refresh_url

    def create_account(self, clinic_id: str, country: str | None, idempotency_key: str) -> str:
        params: dict[str, object] = {
            # Standard-like: the clinic owns its Stripe dashboard, fees and disputes; we
            # make direct charges on its behalf.
            "controller": {
                "stripe_dashboard": {"type": "full"},
                "fees": {"payer": "account"},
                "losses": {"payments": "stripe"},
            },
            "metadata": {"clinic_id": clinic_id},
        }
        if country:
            params["country"] = country
        with stripe_errors():
            account = self._client_factory().v1.accounts.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        return str(account.id)

    def onboarding_link(self, stripe_account_id: str, clinic_id: str) -> str:
        """A single-use link; it expires within minutes, so it is made on each request."""
        clinic = quote(clinic_id, safe="")
        with stripe_errors():
            link = self._client_factory().v1.account_links.create(
                params={
                    "account": stripe_account_id,
                    "type": "account_onboarding",
                    "return_url": self._return_url.replace("{clinic_id}", clinic),
                    "refresh_url": self._refresh_url.replace("{clinic_id}", clinic),
                },
            )
        return str(link.url)


class LocalConnect:
    """Local stack only: localstripe has no Connect. The link leads to the local gateway's
    onboarding page, which completes onboarding at once by sending a signed
    `account.updated` webhook, as Stripe would after a real onboarding."""

    def __init__(self, onboarding_url: str) -> None:
        self._onboarding_url = onboarding_url.rstrip("/")

    def create_account(self, clinic_id: str, country: str | None, idempotency_key: str) -> str:
        del country, idempotency_key
        return f"acct_local_{quote(clinic_id, safe='')}"

    def onboarding_link(self, stripe_account_id: str, clinic_id: str) -> str:
        return f"{self._onboarding_url}/{stripe_account_id}?clinic_id={quote(clinic_id, safe='')}"
