"""Create callpay's two webhook endpoints on a Stripe account (docs/deploy.md, step 1).

Both are pinned to callpay's API version (STRIPE_API_VERSION): an endpoint left on the
account's default version would render events in whatever version the account was set
to, and change when someone upgrades it in the Dashboard. callpay reads events of any
version from 2020-08-27 on (domain/stripe_objects.py); pinning keeps what it receives
what it was tested with. One endpoint listens to the platform account, one (`connect`) to
the clinics' connected accounts, where the payments happen; both subscribe to every
event type callpay handles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from callpay.adapters.stripe_gateway import STRIPE_API_VERSION
from callpay.domain.stripe_outcomes import HANDLED

if TYPE_CHECKING:
    import stripe


def endpoint_params(url: str, *, connect: bool) -> dict[str, Any]:
    return {
        "url": url,
        "api_version": STRIPE_API_VERSION,
        "connect": connect,
        "enabled_events": sorted(HANDLED),
        "description": "callpay " + ("(connected accounts)" if connect else "(platform)"),
    }


def create_endpoints(client: stripe.StripeClient, url: str) -> dict[str, list[str]]:
    """Create both endpoints; their signing secrets as the webhook secret's JSON."""
    secrets = []
    for connect in (False, True):
        endpoint = client.v1.webhook_endpoints.create(
            params=endpoint_params(url, connect=connect)  # type: ignore[arg-type]
        )
        secrets.append(str(endpoint.secret))
    return {"webhook_secrets": secrets}
