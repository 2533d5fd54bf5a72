"""The hot paths the benchmarks run, each on fresh state of a running local stack.

A `HotPath` makes the events for its invocations (a new payment request for each webhook
delivery, say, so no run meets another's leftovers) and checks what each invocation did:
its answer, the stored state, the frame the clinician's socket got. callpay's handler,
the naive sample and the floor (benchmarks/samples/) all get the same kind of events and
must all pass the same checks, so none is measured doing less than the others.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from devtools.endpoints import Endpoints
from devtools.http_events import HttpRequest, claims_as_strings, http_api_event
from devtools.identity import LocalIdentityProvider
from devtools.local_client import CallpayApi, expect
from devtools.stripe_signature import signature_header

Event = dict[str, Any]
AMOUNT = 8000


class WrongOutcome(AssertionError):
    """An invocation answered or changed something else than its hot path must."""


@dataclass
class BenchStack:
    """A running local stack, seen by the benchmarks: its API as a clinician, its table,
    and one call with the clinician's socket open on it (the pop-up's receiver)."""

    endpoints: Endpoints
    state_dir: Path
    call_id: str = field(default_factory=lambda: f"call-bench-{uuid.uuid4().hex[:8]}")
    feed: ClientConnection | None = None

    def __post_init__(self) -> None:
        self.identity = LocalIdentityProvider.in_dir(self.state_dir)
        self.clinician_claims = {
            "sub": "dr-bench", "org_id": self.endpoints.demo_org_id, "role": "team_member",
            "clinic_ids": self.endpoints.demo_clinic_id,
        }  # fmt: skip
        self.clinician_token = self.identity.token(
            "dr-bench", self.endpoints.demo_org_id, "team_member", [self.endpoints.demo_clinic_id]
        )
        self.api = CallpayApi(self.endpoints.http_url, self.clinician_token)
        environment = self.endpoints.environment
        self.table = environment["TABLE_NAME"]
        self.dynamodb = boto3.client(
            "dynamodb", endpoint_url=self.endpoints.aws_endpoint_url,
            region_name=self.endpoints.region, aws_access_key_id="local",
            aws_secret_access_key="local",
        )  # fmt: skip

    def open_feed(self) -> None:
        """The clinician's socket on the bench call (the call bound to the demo clinic),
        read all along by a thread of its own: frames pushed while a probe runs are taken
        in at once, so the socket never stops answering the gateway's pings."""
        if self.feed is not None:
            return
        query = urlencode({"call_id": self.call_id, "token": self.clinician_token,
                           "clinic_id": self.endpoints.demo_clinic_id})  # fmt: skip
        self.feed = connect(f"{self.endpoints.ws_url}?{query}", proxy=None, open_timeout=10)
        self._frames: list[dict[str, Any]] = []
        self._arrived = threading.Condition()
        threading.Thread(target=self._read, args=(self.feed,), daemon=True).start()

    def _read(self, feed: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            for frame in feed:
                with self._arrived:
                    self._frames.append(json.loads(frame))
                    self._arrived.notify_all()

    def pushed(self, payment_request_id: str, status: str, timeout: float = 10) -> None:
        """Until the clinician's socket got this request in this status."""

        def seen() -> bool:
            return any(
                f.get("type") == "payment_request.updated"
                and f["payment_request"]["id"] == payment_request_id
                and f["payment_request"]["status"] == status
                for f in self._frames
            )

        with self._arrived:
            if not self._arrived.wait_for(seen, timeout):
                raise WrongOutcome(f"no push of {payment_request_id} {status} in {timeout:g}s")

    def close(self) -> None:
        if self.feed is not None:
            self.feed.close()

    def create_request(self, amount: int = AMOUNT) -> dict[str, Any]:
        body = {"clinic_id": self.endpoints.demo_clinic_id, "amount": amount,
                "currency": "aud", "description": "Consultation"}  # fmt: skip
        return dict(expect(self.api.post(f"/calls/{self.call_id}/payment-requests", body),
                           201, "creating a payment request"))  # fmt: skip

    def patient_token(self) -> str:
        """The bench call's patient's access token (minted once by the clinician)."""
        if not hasattr(self, "_patient_token"):
            granted = expect(self.api.post(f"/calls/{self.call_id}/patient-access",
                                           {"clinic_id": self.endpoints.demo_clinic_id}),
                             201, "patient access")  # fmt: skip
            self._patient_token = str(granted["token"])
        return self._patient_token

    def mark_paid(self, payment_request_id: str) -> None:
        """Paid, as the webhook would leave it, without queueing a receipt (the stack's
        worker would send it): the patient's e-mail, the card, the charge."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"PK": {"S": f"PR#{payment_request_id}"}, "SK": {"S": "PR"}},
            UpdateExpression=(
                "SET #status = :paid, paid_at = :now, amount_captured = :amount, "
                "receipt_email = :email, charge = :charge, version = version + :one"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":paid": {"S": "succeeded"}, ":now": {"S": now}, ":amount": {"N": str(AMOUNT)},
                ":email": {"S": "patient@example.com"}, ":one": {"N": "1"},
                ":charge": {"M": {"charge_id": {"S": f"ch_{uuid.uuid4().hex[:24]}"},
                                  "card_brand": {"S": "visa"}, "card_last4": {"S": "4242"}}},
            },
        )  # fmt: skip

    def stored(self, payment_request_id: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(
            TableName=self.table,
            Key={"PK": {"S": f"PR#{payment_request_id}"}, "SK": {"S": "PR"}},
            ConsistentRead=True,
        )["Item"]
        return {name: next(iter(value.values())) for name, value in item.items()}

    def http_event(
        self, method: str, path: str, route: str, parameters: dict[str, str],
        body: Any = None, *, claims: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Event:  # fmt: skip
        """An HTTP API event as API Gateway hands it to the function (claims: the JWT
        authorizer's, on routes that have it)."""
        sent = {"content-type": "application/json", **(headers or {})}
        request = HttpRequest(
            method, path, "", list(sent.items()),
            json.dumps(body).encode() if body is not None else b"",
        )  # fmt: skip
        return http_api_event(
            request, route, parameters, claims_as_strings(claims) if claims else None,
            "bench.execute-api.local",
        )  # fmt: skip


@dataclass
class HotPath:
    """One request of one function, with its naive sample and its floor."""

    name: str  # what the report calls it
    function: str  # the deployed function: stripe_webhook
    handler: str  # callpay's module: stripe_webhook.handler
    naive: str  # benchmarks/samples/ modules
    floor: str
    make_event: Callable[[BenchStack], tuple[Event, Callable[[Any], None]]]

    @property
    def modules(self) -> tuple[str, str, str]:
        return (self.handler, self.naive, self.floor)


def _answered(answer: Any, status: int) -> dict[str, Any]:
    if not isinstance(answer, dict) or answer.get("statusCode") != status:
        raise WrongOutcome(f"expected HTTP {status}, got {str(answer)[:300]}")
    return answer


def _pushed(stack: BenchStack, payment_request_id: str, status: str) -> None:
    stack.pushed(payment_request_id, status)


# -- stripe_webhook: payment_intent.succeeded -------------------------------------------------


def succeeded_delivery(stack: BenchStack) -> tuple[Event, Callable[[Any], None]]:
    """A signed `payment_intent.succeeded` for a new request of the bench call, with the
    card as events before 2022-11-15 carry it (so the receipt needs no Stripe call)."""
    stack.open_feed()
    request = stack.create_request()
    intent_id = stack.stored(request["id"])["payment_intent_id"]
    body = json.dumps({
        "id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event",
        "type": "payment_intent.succeeded", "created": int(time.time()), "livemode": False,
        "data": {"object": {
            "id": intent_id, "object": "payment_intent", "status": "succeeded",
            "amount": AMOUNT, "amount_received": AMOUNT, "currency": "aud",
            "metadata": {"payment_request_id": request["id"]},
            "charges": {"object": "list", "data": [{
                "id": f"ch_{uuid.uuid4().hex[:24]}", "object": "charge", "amount": AMOUNT,
                "amount_captured": AMOUNT, "captured": True, "payment_intent": intent_id,
                "payment_method_details": {"type": "card",
                                           "card": {"brand": "visa", "last4": "4242"}},
            }]},
        }},
    }).encode()  # fmt: skip
    event = stack.http_event(
        "POST", "/webhooks/stripe", "POST /webhooks/stripe", {}, None,
        headers={"stripe-signature": signature_header(body, stack.endpoints.webhook_secret)},
    )  # fmt: skip
    event["body"] = body.decode()

    def check(answer: Any) -> None:
        _answered(answer, 200)
        stored = stack.stored(request["id"])
        if stored["status"] != "succeeded":
            raise WrongOutcome(f"{request['id']} is {stored['status']} after the delivery")
        _pushed(stack, request["id"], "succeeded")

    return event, check


STRIPE_WEBHOOK = HotPath(
    "webhook payment_intent.succeeded", "stripe_webhook", "stripe_webhook.handler",
    "naive_stripe_webhook", "floor_stripe_webhook", succeeded_delivery,
)  # fmt: skip

# -- request_payment: create a payment request ------------------------------------------------


def create_request(stack: BenchStack) -> tuple[Event, Callable[[Any], None]]:
    """A clinician's new request in the bench call (the JWT authorizer's claims), which
    the clinician's socket is told about."""
    stack.open_feed()
    body = {"clinic_id": stack.endpoints.demo_clinic_id, "amount": AMOUNT, "currency": "aud",
            "description": "Consultation"}  # fmt: skip
    path = f"/calls/{stack.call_id}/payment-requests"
    event = stack.http_event(
        "POST", path, "POST /calls/{call_id}/payment-requests", {"call_id": stack.call_id},
        body, claims=stack.clinician_claims,
    )  # fmt: skip

    def check(answer: Any) -> None:
        created = json.loads(_answered(answer, 201)["body"])
        stored = stack.stored(created["id"])
        if not str(stored.get("payment_intent_id", "")).startswith("pi_"):
            raise WrongOutcome(f"{created['id']} has no PaymentIntent: {stored}")
        _pushed(stack, created["id"], "requested")

    return event, check


CREATE_PAYMENT_REQUEST = HotPath(
    "create payment request", "request_payment", "request_payment.handler",
    "naive_create_payment_request", "floor_create_payment_request", create_request,
)  # fmt: skip


# -- request_payment: checkout ("Pay now") ------------------------------------------------------


def checkout(stack: BenchStack) -> tuple[Event, Callable[[Any], None]]:
    """The patient's "Pay now" on a new request of the bench call, with their token."""
    request = stack.create_request()
    path = f"/payment-requests/{request['id']}/checkout"
    event = stack.http_event(
        "POST", path, "POST /payment-requests/{payment_request_id}/checkout",
        {"payment_request_id": request["id"]}, {"email": "patient@example.com", "locale": "en"},
        headers={"authorization": f"Bearer {stack.patient_token()}"},
    )  # fmt: skip

    def check(answer: Any) -> None:
        paying = json.loads(_answered(answer, 200)["body"])
        if not paying["client_secret"].startswith(stack.stored(request["id"])["payment_intent_id"]):
            raise WrongOutcome(f"checkout answered another intent's secret: {paying}")
        if stack.stored(request["id"]).get("receipt_email") != "patient@example.com":
            raise WrongOutcome(f"{request['id']} did not keep the receipt address")

    return event, check


CHECKOUT = HotPath(
    "checkout", "request_payment", "request_payment.handler",
    "naive_checkout", "floor_checkout", checkout,
)  # fmt: skip


# -- realtime: $connect -------------------------------------------------------------------------


def clinician_connect(stack: BenchStack) -> tuple[Event, Callable[[Any], None]]:
    """A clinician opening the feed of a new call of the demo clinic with their JWT (checked
    against the identity provider's JWKS), which binds the call to the clinic."""
    call_id = f"call-open-{uuid.uuid4().hex[:10]}"
    connection_id = f"bench{uuid.uuid4().hex[:12]}="
    event = {
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT",
                           "connectionId": connection_id, "requestId": uuid.uuid4().hex},
        "queryStringParameters": {"call_id": call_id, "token": stack.clinician_token,
                                  "clinic_id": stack.endpoints.demo_clinic_id},
        "isBase64Encoded": False,
    }  # fmt: skip

    def check(answer: Any) -> None:
        _answered(answer, 200)
        item = stack.dynamodb.get_item(
            TableName=stack.table, ConsistentRead=True,
            Key={"PK": {"S": f"CONN#{connection_id}"}, "SK": {"S": "CONN"}},
        ).get("Item")  # fmt: skip
        if not item or item["call_id"]["S"] != call_id:
            raise WrongOutcome(f"no connection record for {connection_id}: {item}")

    return event, check


REALTIME_CONNECT = HotPath(
    "realtime $connect", "realtime", "realtime.handler",
    "naive_realtime_connect", "floor_realtime_connect", clinician_connect,
)  # fmt: skip


# -- send_receipt: one receipt job ---------------------------------------------------------------


def receipt_job(stack: BenchStack) -> tuple[Event, Callable[[Any], None]]:
    """The queue's job for a paid request (patient's e-mail given at checkout, card on the
    record): render the receipt, send it through SES, record it sent."""
    request = stack.create_request()
    stack.mark_paid(request["id"])
    job = json.dumps({"payment_request_id": request["id"]})
    event = {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex, "body": job,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": stack.endpoints.region,
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:callpay-local-receipts",
    }]}  # fmt: skip

    def check(answer: Any) -> None:
        if answer != {"batchItemFailures": []}:
            raise WrongOutcome(f"the receipt job failed: {answer}")
        sent = stack.dynamodb.get_item(
            TableName=stack.table, ConsistentRead=True,
            Key={"PK": {"S": f"RECEIPT#{request['id']}#payment"}, "SK": {"S": "RECEIPT"}},
        ).get("Item")  # fmt: skip
        if not sent or sent["state"]["S"] != "sent" or not sent.get("message_id"):
            raise WrongOutcome(f"receipt of {request['id']} not recorded as sent: {sent}")

    return event, check


SEND_RECEIPT = HotPath(
    "send receipt", "send_receipt", "send_receipt.handler",
    "naive_send_receipt", "floor_send_receipt", receipt_job,
)  # fmt: skip


# -- clinic_admin: the clinic's settings ---------------------------------------------------------


def clinic_settings(stack: BenchStack) -> tuple[Event, Callable[[Any], None]]:
    """A clinic admin opening the clinic's settings (the JWT authorizer's claims)."""
    clinic_id = stack.endpoints.demo_clinic_id
    claims = stack.clinician_claims | {"sub": "admin-bench", "role": "team_admin"}
    event = stack.http_event(
        "GET", f"/clinics/{clinic_id}/settings", "GET /clinics/{clinic_id}/settings",
        {"clinic_id": clinic_id}, claims=claims,
    )  # fmt: skip

    def check(answer: Any) -> None:
        settings = json.loads(_answered(answer, 200)["body"])
        if settings["clinic_id"] != clinic_id or settings["enabled"] is not True:
            raise WrongOutcome(f"another clinic's settings: {settings}")

    return event, check


CLINIC_SETTINGS = HotPath(
    "clinic settings", "clinic_admin", "clinic_admin.handler",
    "naive_clinic_settings", "floor_clinic_settings", clinic_settings,
)  # fmt: skip

HOT_PATHS = (
    STRIPE_WEBHOOK, CREATE_PAYMENT_REQUEST, CHECKOUT, REALTIME_CONNECT, SEND_RECEIPT,
    CLINIC_SETTINGS,
)  # fmt: skip
