"""POSTs a signed event to a platform endpoint, and signs it the Standard Webhooks way.

Signing is the `standardwebhooks` library's (webhook-id, webhook-timestamp, and
webhook-signature `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`). Sending follows no
redirect and refuses hosts that resolve to private, loopback or link-local addresses
(unless the local stack allows loopback), so an endpoint cannot aim callpay at its own
network.
"""

from __future__ import annotations

import ipaddress
import socket
from datetime import datetime
from urllib.parse import urlsplit

import urllib3

from callpay.domain.webhook_endpoint import is_public_address
from callpay.ports import Sent

CONNECT_SECONDS = 3
READ_SECONDS = 10
USER_AGENT = "callpay-webhooks/1"


def signed_headers(secret: str, event_id: str, at: datetime, body: str) -> dict[str, str]:
    from standardwebhooks.webhooks import Webhook  # noqa: PLC0415

    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
    }


class HttpEventSender:
    def __init__(self, allow_loopback: bool = False) -> None:
        self._allow_loopback = allow_loopback
        self._pool = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=CONNECT_SECONDS, read=READ_SECONDS)
        )

    def post(self, url: str, body: str, headers: dict[str, str]) -> Sent:
        refused = self._refused(url)
        if refused:
            return Sent(None, refused)
        try:
            answer = self._pool.request(
                "POST", url, body=body.encode(), headers=headers, redirect=False,
                preload_content=False,
            )  # fmt: skip
            answer.read(1024, decode_content=False)  # the answer's body is not needed
            answer.release_conn()
        except urllib3.exceptions.HTTPError as error:
            return Sent(None, type(error).__name__)
        return Sent(answer.status)

    def _refused(self, url: str) -> str | None:
        host = urlsplit(url).hostname or ""
        try:
            addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
        except OSError:
            return "unresolvable host"
        for address in addresses:
            if self._allow_loopback and ipaddress.ip_address(address).is_loopback:
                continue
            if not is_public_address(address):
                return "host resolves to a private address"
        return None
