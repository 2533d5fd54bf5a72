"""Stripe events made and delivered by the local stack itself, as Stripe would send them.

localstripe sends only some of the events callpay reads; the simulated Connect
onboarding (devtools.local_connect) and the Stripe.js stand-in (devtools.stripe_js) send
the others: an event built around an object, signed like Stripe signs (devtools.
stripe_signature) and POSTed to the stack's `/webhooks/stripe`.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from devtools.stripe_signature import signature_header


def stripe_event(kind: str, obj: dict[str, Any], account: str | None = None) -> dict[str, Any]:
    """An event of type `kind` about `obj`; `account` for events of a connected account."""
    event: dict[str, Any] = {
        "id": f"evt_local_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "data": {"object": obj},
    }
    if account:
        event["account"] = account
    return event


@dataclass(frozen=True)
class Delivery:
    status: int
    body: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def deliver(url: str, secret: str, event: dict[str, Any]) -> Delivery:
    """POST the event, signed with `secret`, and what the endpoint answered."""
    payload = json.dumps(event, indent=2).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature_header(payload, secret),
    }
    # trust_env=False: the endpoint is on loopback, never behind a proxy.
    async with (
        aiohttp.ClientSession(trust_env=False) as session,
        session.post(url, data=payload, headers=headers) as answer,
    ):
        return Delivery(answer.status, await answer.text())
