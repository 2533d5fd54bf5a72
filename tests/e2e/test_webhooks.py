"""Stripe redelivers: a captured delivery sent again, or sent several times at once,
changes things once and mails once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from devtools.local_client import WEBHOOK_ID, direct_session, register_webhook
from devtools.processes import wait_until
from devtools.stripe_signature import signature_header
from tests.e2e.conftest import GOOD_CARD, Call, LocalStack, assert_overlapped, at_once

pytestmark = pytest.mark.e2e

FORWARDED_HEADERS = ("Content-Type", "Stripe-Signature")


class DeliveryRecorder:
    """Stands in localstripe's registration for the gateway: keeps every raw delivery and
    forwards it, headers and all, to the gateway's webhook, answering what it answered
    (while `holding`, it keeps them without forwarding, and answers 200).

    localstripe cannot delete a webhook endpoint, and an extra one that stops listening
    would hold up every later delivery; so this one takes the stack's own registration
    and `close()` gives it back."""

    def __init__(self, stack: LocalStack) -> None:
        self.deliveries: list[bytes] = []
        self.forwarding = True
        self._stack = stack
        webhook_url = f"{stack.endpoints.http_url}/webhooks/stripe"
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.deliveries.append(body)
                status, content = 200, b""
                if recorder.forwarding:
                    headers = {name: self.headers[name] for name in FORWARDED_HEADERS}
                    with direct_session() as session:
                        answer = session.post(webhook_url, data=body, headers=headers, timeout=10)
                    status, content = answer.status_code, answer.content
                self.send_response(status)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._register(self.url)

    def delivery(self, event_type: str, intent_id: str) -> bytes | None:
        for body in self.deliveries:
            event = json.loads(body)
            if event["type"] == event_type and event["data"]["object"]["id"] == intent_id:
                return body
        return None

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Deliveries kept here, none forwarded: the test delivers them itself."""
        self.forwarding = False
        try:
            yield
        finally:
            self.forwarding = True

    def close(self) -> None:
        """The gateway's registration back as the stack made it, then the server gone."""
        try:
            self._register(f"{self._stack.endpoints.http_url}/webhooks/stripe")
        finally:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)

    def _register(self, url: str) -> None:
        # localstripe signs with the account endpoint's secret, as the stack registers it.
        endpoints = self._stack.endpoints
        register_webhook(endpoints.stripe_api_base, url, endpoints.webhook_secret, WEBHOOK_ID)


@pytest.fixture(scope="module")
def recorder(stack: LocalStack) -> Iterator[DeliveryRecorder]:
    recorder = DeliveryRecorder(stack)
    try:
        yield recorder
    finally:
        recorder.close()


def redeliver(stack: LocalStack, body: bytes, content_type: str, secret: str) -> requests.Response:
    return stack.api().post(
        "/webhooks/stripe",
        data=body,
        headers={"Content-Type": content_type, "Stripe-Signature": signature_header(body, secret)},
    )


def paid(
    stack: LocalStack, call: Call, email: str, recorder: DeliveryRecorder
) -> tuple[dict[str, Any], bytes]:
    """A request the patient paid, and localstripe's delivery of its success."""
    created = call.request_payment(stack.clinic_id)
    secret = call.checkout(created["id"], email)
    stack.browser().pay(secret, GOOD_CARD)
    delivery = wait_until(
        lambda: recorder.delivery("payment_intent.succeeded", secret.partition("_secret_")[0]),
        10,
        "the recorded delivery",
    )
    return created, delivery


def test_a_redelivered_webhook_is_answered_as_a_duplicate_with_one_change_and_one_email(
    stack: LocalStack, call: Call, email: str, recorder: DeliveryRecorder
) -> None:
    with stack.feed(call.call_id, call.clinician_token) as clinician:
        created, delivery = paid(stack, call, email, recorder)
        clinician.update_of(created["id"], "succeeded", timeout=15)
        stack.emails_to(email, at_least=1)

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
    # Counted once the receipt queue is empty: a second receipt would be mailed by then.
    assert len(stack.all_emails_to(email)) == 1


def test_concurrent_duplicate_deliveries_of_one_event_have_one_effect(
    stack: LocalStack, call: Call, email: str, recorder: DeliveryRecorder
) -> None:
    with stack.feed(call.call_id, call.clinician_token) as clinician:
        with recorder.holding():
            created, delivery = paid(stack, call, email, recorder)

        answers = at_once(
            8,
            lambda _: redeliver(
                stack, delivery, "application/json", stack.endpoints.webhook_secret
            ),
        )

        assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
        assert sorted(a.json()["outcome"] for a in answers) == ["applied"] + ["duplicate"] * 7
        clinician.update_of(created["id"], "succeeded", timeout=15)
        # Pushed before the deliveries were answered: a second one would be here by now.
        clinician.collect(seconds=1)
    assert [u["status"] for u in clinician.updates_of(created["id"])] == ["requested", "succeeded"]
    assert len(stack.all_emails_to(email)) == 1
    assert_overlapped(stack.invocations(answers), "stripe_webhook")
