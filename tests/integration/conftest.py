"""Integration fixtures: one moto server and one localstripe per session, wired to the handlers."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import stripe

from callpay import runtime
from callpay.adapters.table_schema import create_table_request
from callpay.domain.clinic import Clinic
from devtools.local_gateway import LocalWebSocketGateway
from devtools.sqs_worker import SqsWorker
from realtime.handler import lambda_handler as realtime_handler
from send_receipt.handler import lambda_handler as send_receipt_handler
from stripe_webhook.handler import lambda_handler as webhook_handler
from tests.support.events import LambdaContext
from tests.support.fault_proxy import FaultProxy
from tests.support.identity_provider import AUDIENCE, ISSUER, IdentityProvider
from tests.support.servers import (
    WebhookReceiver,
    localstripe_server,
    moto_server,
    register_webhook,
)

ACCOUNT_SECRET = "whsec_account_endpoint"
CONNECT_SECRET = "whsec_connect_endpoint"
TABLE = "callpay-test"
SECRET_ID = "callpay/test"
QUEUE = "callpay-test-receipts"
SENDER = "receipts@callpay.test"


@dataclass
class Faults:
    """The fault proxies the handlers reach AWS, Stripe and `@connections` through."""

    aws: FaultProxy
    stripe: FaultProxy
    connections: FaultProxy

    def all(self) -> tuple[FaultProxy, ...]:
        return (self.aws, self.stripe, self.connections)


@dataclass
class Stack:
    # The servers themselves: for a test's own look at what they hold, past the faults.
    aws_endpoint: str
    stripe_base: str
    receiver: WebhookReceiver
    identity: IdentityProvider
    gateway: LocalWebSocketGateway
    receipt_worker: SqsWorker
    faults: Faults

    def stripe(self) -> stripe.StripeClient:
        return stripe.StripeClient("sk_test_local", base_addresses={"api": self.stripe_base})


def deliver(body: bytes, headers: dict[str, str], *, as_base64: bool = False) -> tuple[int, bytes]:
    """Hand a webhook delivery to the handler as API Gateway would, and return its answer."""
    event = {
        "version": "2.0",
        "routeKey": "POST /webhooks/stripe",
        "rawPath": "/webhooks/stripe",
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": "/webhooks/stripe"}},
        "body": base64.b64encode(body).decode() if as_base64 else body.decode(),
        "isBase64Encoded": as_base64,
    }
    response = webhook_handler(event, LambdaContext())
    return response["statusCode"], response["body"].encode()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    mp = pytest.MonkeyPatch()
    identity = IdentityProvider()
    gateway = LocalWebSocketGateway(realtime_handler).start()
    with moto_server() as aws, localstripe_server() as stripe_base:
        # The handlers (and the receipt worker) reach every server through a fault proxy,
        # which forwards untouched unless a test plans a fault (tests/integration/test_faults.py).
        faults = Faults(
            FaultProxy(aws, one_at_a_time=True),
            FaultProxy(stripe_base),
            FaultProxy(gateway.callback_url),
        )
        for name, value in {
            "AWS_ENDPOINT_URL": faults.aws.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "TABLE_NAME": TABLE,
            "STRIPE_SECRET_ID": f"{SECRET_ID}/stripe",
            "WEBHOOK_SECRET_ID": f"{SECRET_ID}/webhooks",
            "TOKEN_SECRET_ID": f"{SECRET_ID}/tokens",
            "STRIPE_API_BASE": faults.stripe.url,
            "POWERTOOLS_METRICS_NAMESPACE": "callpay",
            "JWT_ISSUER": ISSUER,
            "JWT_AUDIENCE": AUDIENCE,
            "JWKS_URL": identity.jwks_url,
            "WEBSOCKET_CALLBACK_URL": faults.connections.url,
        }.items():
            mp.setenv(name, value)
        boto3.client("dynamodb").create_table(**create_table_request(TABLE))
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        mp.setenv("RECEIPT_QUEUE_URL", queue_url)
        mp.setenv("RECEIPT_SENDER", SENDER)
        boto3.client("ses").verify_email_identity(EmailAddress=SENDER)
        for name, value in {
            "stripe": {
                "stripe_api_key": "sk_test_local",
                "stripe_publishable_key": "pk_test_local",
            },
            "webhooks": {"webhook_secrets": [ACCOUNT_SECRET, CONNECT_SECRET]},
            "tokens": {"patient_token_key": secrets.token_urlsafe(48)},
        }.items():
            boto3.client("secretsmanager").create_secret(
                Name=f"{SECRET_ID}/{name}", SecretString=json.dumps(value)
            )
        runtime.reset()
        receiver = WebhookReceiver(deliver)
        register_webhook(stripe_base, receiver.url, ACCOUNT_SECRET)
        try:
            worker = SqsWorker(sqs, queue_url, send_receipt_handler)
            yield Stack(aws, stripe_base, receiver, identity, gateway, worker, faults)
        finally:
            for proxy in faults.all():
                proxy.close()
            receiver.close()
            identity.close()
            gateway.stop()
            runtime.reset()
            mp.undo()


@pytest.fixture
def clinic(stack: Stack) -> Clinic:
    """A fresh clinic, enabled and linked, so tests never share calls or requests."""
    clinic = Clinic(
        clinic_id=f"clinic-{uuid.uuid4().hex[:8]}",
        org_id="org-1",
        enabled=True,
        stripe_account_id="acct_local",
        charges_enabled=True,
    )
    runtime.store().put_clinic(clinic)
    return clinic


def claims_for(clinic: Clinic, sub: str = "clin-1", role: str = "team_member") -> dict[str, Any]:
    return {"sub": sub, "org_id": clinic.org_id, "role": role, "clinic_ids": clinic.clinic_id}
