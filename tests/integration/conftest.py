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
from callpay.adapters.dynamodb_outbox import STREAM_FILTER
from callpay.adapters.table_schema import create_table_request
from callpay.domain.clinic import Clinic
from callpay.domain.webhook_endpoint import MAX_ATTEMPTS
from devtools.local_gateway import LocalWebSocketGateway
from devtools.sqs_worker import SqsWorker
from devtools.stream_worker import StreamWorker
from platform_delivery.handler import lambda_handler as platform_delivery_handler
from platform_outbox.handler import lambda_handler as platform_outbox_handler
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
DELIVERY_QUEUE = "callpay-test-platform-events"
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
    # Events to the platform: the table's stream -> platform_outbox, the FIFO delivery
    # queue -> platform_delivery, and where deliveries that gave up end.
    outbox: StreamWorker
    deliveries: SqsWorker
    delivery_dead_letters: str

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
        dead_letters, delivery_queue = delivery_queues(sqs)
        mp.setenv("PLATFORM_EVENT_QUEUE_URL", delivery_queue)
        key_id = boto3.client("kms").create_key(Description="endpoint secrets")["KeyMetadata"]
        mp.setenv("ENDPOINT_SECRET_KEY_ID", key_id["KeyId"])
        mp.setenv("ALLOW_LOOPBACK_ENDPOINTS", "true")
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
            stream = boto3.client("dynamodb").describe_table(TableName=TABLE)["Table"]
            outbox = StreamWorker(
                boto3.client("dynamodbstreams"), stream["LatestStreamArn"],
                platform_outbox_handler, STREAM_FILTER, name="platform_outbox",
            )  # fmt: skip
            deliveries = SqsWorker(
                sqs, delivery_queue, platform_delivery_handler, name="platform_delivery"
            )
            yield Stack(aws, stripe_base, receiver, identity, gateway, worker, faults, outbox,
                        deliveries, dead_letters)  # fmt: skip
        finally:
            for proxy in faults.all():
                proxy.close()
            receiver.close()
            identity.close()
            gateway.stop()
            runtime.reset()
            mp.undo()


def delivery_queues(sqs: Any) -> tuple[str, str]:
    """The FIFO delivery queue and its dead letters, as infra/platform_events.py makes them."""
    dead_letters = sqs.create_queue(
        QueueName=f"{DELIVERY_QUEUE}-dead-letters.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": arn["Attributes"]["QueueArn"],
               "maxReceiveCount": MAX_ATTEMPTS}  # fmt: skip
    queue = sqs.create_queue(
        QueueName=f"{DELIVERY_QUEUE}.fifo",
        Attributes={"FifoQueue": "true", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    return dead_letters, queue


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
