"""Ordinary clients of a running local stack, as the apps around callpay would be.

The clinician's and patient's apps (HTTP with bearer tokens, the call's WebSocket feed),
the patient's browser paying on localstripe (what Stripe.js does), and a look into the
mailbox moto keeps for SES and the receipt queue. The demo and the end-to-end tests use
only these. None of them goes through a proxy: the stack is on loopback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import requests
from websockets.sync.client import ClientConnection, connect

from devtools.endpoints import Endpoints
from devtools.processes import TimedOut, wait_until

Message = dict[str, Any]

# Stripe's test cards: paid, and attached but then declined (card_declined).
GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0341"
# A webhook takes localstripe a second; the receipt then goes through SQS and SES.
EMAIL_SECONDS = 20.0


class CallpayApi:
    """HTTP to the local API gateway, one bearer token per caller."""

    def __init__(self, http_url: str, token: str | None = None) -> None:
        self.base = http_url.rstrip("/")
        self.token = token
        self._session = direct_session()

    def as_(self, token: str | None) -> CallpayApi:
        """The same API for another caller."""
        return CallpayApi(self.base, token)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> requests.Response:
        sent = dict(headers or {})
        if self.token:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        return self._session.request(
            method, self.base + path, json=body, data=data, headers=sent, timeout=15
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, body, **kwargs)


class UnexpectedAnswer(AssertionError):
    """The API answered something else than the step expected."""


def expect(response: requests.Response, status: int, what: str) -> Any:
    """The answer's JSON (or text) if it has `status`, else UnexpectedAnswer saying what."""
    if response.status_code != status:
        raise UnexpectedAnswer(
            f"{what}: expected HTTP {status}, got {response.status_code}: {response.text[:500]}"
        )
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return response.json()
    return response.text


def set_up_clinic(org_admin: CallpayApi, clinic_id: str, settings: dict[str, Any]) -> Any:
    """What the admins do: enable payments with these settings, "Go to Stripe", finish
    onboarding (the local page completes it at once). The clinic's Stripe account after."""
    expect(
        org_admin.request("PUT", f"/clinics/{clinic_id}/settings", settings | {"enabled": True}),
        200,
        "enabling payments",
    )
    link = expect(
        org_admin.post(f"/clinics/{clinic_id}/stripe-account/link"), 200, "the onboarding link"
    )
    complete_onboarding(link["url"])
    return expect(org_admin.get(f"/clinics/{clinic_id}/stripe-account"), 200, "the Stripe account")


def complete_onboarding(url: str) -> None:
    """Open the onboarding link, as the clinic admin's browser would."""
    with direct_session() as session:
        expect(session.get(url, timeout=15), 200, "the Stripe onboarding page")


class CallFeed:
    """One socket on a call's feed, as a clinician or patient app keeps it open."""

    def __init__(self, ws_url: str, call_id: str, token: str, clinic_id: str | None = None) -> None:
        query = {"call_id": call_id, "token": token}
        if clinic_id:
            query["clinic_id"] = clinic_id
        self.url = f"{ws_url}?{urlencode(query)}"
        self.call_id = call_id
        self.history: list[Message] = []  # every message received, in order
        self._unread: list[Message] = []  # not yet returned by wait_for
        self._socket: ClientConnection | None = None

    def open(self) -> CallFeed:
        """Connect (a refused handshake raises websockets' InvalidStatus)."""
        # legacy=True: the connection itself, kept open across calls (this class is the
        # context manager); proxy=None: loopback never goes through a proxy.
        self._socket = connect(self.url, proxy=None, open_timeout=10, legacy=True)
        return self

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> CallFeed:
        return self.open() if self._socket is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, frame: Message) -> None:
        self._open_socket().send(json.dumps(frame))

    def sync(self, timeout: float = 10) -> Message:
        """`{"action": "sync"}` and the call's snapshot it brings back."""
        self.send({"action": "sync"})
        return self.wait_for(lambda m: m.get("type") == "call.snapshot", timeout, "snapshot")

    def wait_for(
        self, wanted: Callable[[Message], bool], timeout: float = 10, what: str = "message"
    ) -> Message:
        """The first unread message that is wanted, waiting up to `timeout` for it."""
        for unread in self._unread:
            if wanted(unread):
                self._unread.remove(unread)
                return unread
        deadline = time.monotonic() + timeout
        while (message := self._receive(deadline)) is not None:
            if wanted(message):
                return message
            self._unread.append(message)
        raise TimedOut(f"no {what} on the feed of {self.call_id} within {timeout:g}s")

    def update_of(self, payment_request_id: str, status: str, timeout: float = 10) -> Message:
        """The payment request as pushed when it reached `status`."""
        message = self.wait_for(
            lambda m: (
                m.get("type") == "payment_request.updated"
                and m["payment_request"]["id"] == payment_request_id
                and m["payment_request"]["status"] == status
            ),
            timeout,
            f"update of {payment_request_id} to {status!r}",
        )
        request: Message = message["payment_request"]
        return request

    def collect(self, seconds: float) -> None:
        """Receive whatever arrives within `seconds` (into history, unread)."""
        deadline = time.monotonic() + seconds
        while (message := self._receive(deadline)) is not None:
            self._unread.append(message)

    def updates_of(self, payment_request_id: str) -> list[Message]:
        """Every pushed state of this payment request received so far, in order."""
        return [
            m["payment_request"]
            for m in self.history
            if m.get("type") == "payment_request.updated"
            and m["payment_request"]["id"] == payment_request_id
        ]

    def _receive(self, deadline: float) -> Message | None:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            frame = self._open_socket().recv(timeout=left)
        except TimeoutError:
            return None
        message: Message = json.loads(frame)
        self.history.append(message)
        return message

    def _open_socket(self) -> ClientConnection:
        if self._socket is None:
            raise RuntimeError("open the feed first")
        return self._socket


class PatientBrowser:
    """What Stripe.js does in the patient's browser: the card goes to Stripe, never to us.

    localstripe only takes secret keys for these calls (Stripe.js uses the publishable key
    and the client secret); any `sk_` key works there, and it is not callpay's."""

    def __init__(self, stripe_api_base: str) -> None:
        import stripe  # noqa: PLC0415

        self._client = stripe.StripeClient(
            "sk_test_patient_browser",
            base_addresses={"api": stripe_api_base},
            http_client=stripe.RequestsClient(session=direct_session()),
        )

    def pay(self, client_secret: str, card_number: str) -> Any:
        """Attach the card to the PaymentIntent and confirm; a decline raises CardError."""
        intent_id = client_secret.partition("_secret_")[0]
        number = card_number.replace(" ", "")
        method = self._client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        )
        self._client.v1.payment_intents.update(intent_id, params={"payment_method": method.id})
        return self._client.v1.payment_intents.confirm(intent_id)


def direct_session() -> requests.Session:
    """A requests session that ignores HTTP(S)_PROXY and the like: loopback only."""
    session = requests.Session()
    session.trust_env = False
    return session


# The id the stack registers its own webhook endpoint under in localstripe.
WEBHOOK_ID = "callpay"


def register_webhook(
    stripe_api_base: str, url: str, secret: str, webhook_id: str = WEBHOOK_ID
) -> None:
    """Make localstripe deliver its events to `url`, signed with `secret`. localstripe
    cannot delete an endpoint: registering an id again replaces it."""
    with direct_session() as session:
        session.post(
            f"{stripe_api_base}/_config/webhooks/{webhook_id}",
            json={"url": url, "secret": secret},
            timeout=5,
        ).raise_for_status()


def sent_emails(aws_endpoint_url: str, to: str) -> list[dict[str, Any]]:
    """The e-mails SES (moto) has sent to this address, oldest first."""
    with direct_session() as session:
        data = session.get(f"{aws_endpoint_url}/moto-api/data.json", timeout=10).json()
    return [
        message
        for message in data.get("ses", {}).get("Message", [])
        if to in message.get("destinations", {}).get("ToAddresses", [])
    ]


def wait_for_emails(
    aws_endpoint_url: str, to: str, count: int, timeout: float = EMAIL_SECONDS
) -> list[dict[str, Any]]:
    """The e-mails sent to `to`, once there are at least `count` of them."""

    def arrived() -> list[dict[str, Any]] | None:
        found = sent_emails(aws_endpoint_url, to)
        return found if len(found) >= count else None

    return wait_until(arrived, timeout, f"{count} e-mail(s) to {to} in SES (moto)")


def wait_until_receipts_are_sent(endpoints: Endpoints, timeout: float = EMAIL_SECONDS) -> None:
    """Until the receipt queue is empty: nothing waiting, nothing being handled (in
    flight), so every receipt queued so far has been mailed or has failed."""
    import boto3  # noqa: PLC0415

    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoints.aws_endpoint_url,
        region_name=endpoints.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto takes any key
    )
    queue_url = endpoints.environment["RECEIPT_QUEUE_URL"]
    counts = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed")  # fmt: skip

    def drained() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(counts))
        return all(int(attributes["Attributes"].get(name, "0")) == 0 for name in counts)

    wait_until(drained, timeout, "the receipt queue to be drained")


class _Text(HTMLParser):
    BLOCKS = frozenset({"p", "div", "tr", "h1", "h2", "h3", "h4", "li", "table", "section",
                        "header", "footer", "br", "hr"})  # fmt: skip
    SKIPPED = frozenset({"style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in {"td", "th"}:
            self.parts.append("  ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(" ".join(data.split()) if data.strip() else "")


def html_as_text(html: str) -> str:
    """A plain rendering of an HTML e-mail, one block per line."""
    parser = _Text()
    parser.feed(html)
    lines = ("".join(parser.parts)).splitlines()
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())
