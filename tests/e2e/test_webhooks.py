"""Stripe redelivers: a captured delivery sent again changes nothing and mails nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from devtools.local_client import register_webhook
from devtools.local_connect import signature_header
from devtools.processes import wait_until
from tests.e2e.conftest import GOOD_CARD, Call, LocalStack

pytestmark = pytest.mark.e2e


class DeliveryRecorder:
    """A second webhook endpoint registered in localstripe: keeps every raw delivery."""

    def __init__(self) -> None:
        self.deliveries: list[bytes] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                recorder.deliveries.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def delivery(self, event_type: str, intent_id: str) -> bytes | None:
        for body in self.deliveries:
            event = json.loads(body)
            if event["type"] == event_type and event["data"]["object"]["id"] == intent_id:
                return body
        return None

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture(scope="module")
def recorder(stack: LocalStack) -> Iterator[DeliveryRecorder]:
    recorder = DeliveryRecorder()
    register_webhook(stack.endpoints.stripe_api_base, recorder.url, "whsec_recorder", "recorder")
    yield recorder
    recorder.close()


def redeliver(stack: LocalStack, body: bytes, content_type: str, secret: str) -> requests.Response:
    return requests.post(
        f"{stack.endpoints.http_url}/webhooks/stripe",
        data=body,
        headers={"Content-Type": content_type, "Stripe-Signature": signature_header(body, secret)},
        timeout=10,
    )


def test_a_redelivered_webhook_is_answered_as_a_duplicate_with_one_change_and_one_email(
    stack: LocalStack, call: Call, email: str, recorder: DeliveryRecorder
) -> None:
    with stack.feed(call.call_id, call.clinician_token) as clinician:
        created = call.request_payment(stack.clinic_id)
        secret = call.checkout(created["id"], email)
        intent_id = secret.partition("_secret_")[0]
        stack.browser().pay(secret, GOOD_CARD)
        clinician.update_of(created["id"], "succeeded", timeout=15)
        stack.emails_to(email, at_least=1)
        delivery = wait_until(
            lambda: recorder.delivery("payment_intent.succeeded", intent_id),
            10,
            "the recorded delivery",
        )

        # Signed afresh (a signature is good for five minutes), as text and as a binary
        # body that API Gateway hands over base64-encoded.
        for content_type in ("application/json; charset=utf-8", "application/octet-stream"):
            answer = redeliver(stack, delivery, content_type, stack.endpoints.webhook_secret)
            assert answer.status_code == 200, answer.text
            assert answer.json()["outcome"] == "duplicate"
        forged = redeliver(stack, delivery, "application/json", "whsec_not_ours")
        assert forged.status_code == 400

        clinician.collect(seconds=2)  # anything pushed by the redeliveries arrives by now
    assert [u["status"] for u in clinician.updates_of(created["id"])] == ["requested", "succeeded"]
    assert len(stack.emails_to(email, at_least=1)) == 1
