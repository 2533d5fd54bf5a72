"""The platform's webhook endpoints and the deliveries of events to them.

An organisation registers endpoints; each gets a Standard Webhooks secret (`whsec_` and 32
random bytes in base64), shown once. Every event for the organisation's clinics becomes one
delivery per subscribed endpoint, retried with exponential backoff (`retry_delay`) until it
is delivered or MAX_ATTEMPTS have failed; failed ones can be replayed.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from callpay.domain.errors import InvalidInput

# 30 s, 1, 2, 4 ... minutes, then every 4 hours: about 12 hours in all before giving up.
MAX_ATTEMPTS = 12
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 4 * 3600
MAX_ENDPOINTS_PER_ORG = 10

DeliveryStatus = Literal["pending", "delivered", "failed"]


class WebhookEndpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    org_id: str
    url: str
    description: str | None = None
    # Empty: every event type.
    event_types: tuple[str, ...] = ()
    created_at: datetime
    created_by: str
    # The signing secret, encrypted (EndpointSecrets); only the delivery function opens it.
    secret_ciphertext: str

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class Delivery(BaseModel):
    """One event for one endpoint: the exact body signed and sent, and how it went."""

    model_config = ConfigDict(frozen=True)

    endpoint_id: str
    org_id: str
    event_id: str
    event_type: str
    occurred_at: datetime
    payload: str
    status: DeliveryStatus = "pending"
    attempts: int = 0
    last_error: str | None = None
    delivered_at: datetime | None = None
    # How often it was replayed: a replay is a new message for the queue's de-duplication.
    replays: int = 0

    @property
    def key(self) -> str:
        """Orders an endpoint's deliveries by the time of their event."""
        return f"{self.occurred_at.isoformat()}#{self.event_id}"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def retry_delay(attempt: int) -> int:
    """Seconds to wait after the `attempt`-th failed delivery (1-based)."""
    return int(min(FIRST_RETRY_SECONDS * 2 ** (attempt - 1), LONGEST_RETRY_SECONDS))


def check_endpoint_url(url: str, allow_loopback: bool) -> str:
    """An https URL of a public host (http only to this machine, where the local stack
    allows it): deliveries must not reach private networks."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    loopback = host == "localhost" or _is_loopback(host)
    if parts.scheme == "http" and loopback and allow_loopback:
        return url
    if parts.scheme != "https" or not host or parts.username or parts.password:
        raise InvalidInput("invalid_endpoint_url", "The endpoint must be an https URL.")
    if loopback or not is_public_address(host, literal_only=True):
        raise InvalidInput(
            "invalid_endpoint_url", "The endpoint must be on the internet, not a private network."
        )
    return url


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_public_address(host: str, literal_only: bool = False) -> bool:
    """Whether `host` (an IP address) is a public one; a name is public unless
    `literal_only` is False (the sender checks what names resolve to)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return literal_only
    return address.is_global and not address.is_multicast
