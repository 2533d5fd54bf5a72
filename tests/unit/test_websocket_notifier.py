"""Fan-out to a call's sockets through @connections, with botocore's Stubber (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from callpay.adapters.websocket_notifier import ApiGatewayConnections, WebSocketNotifier
from callpay.domain.connection import Connection
from callpay.domain.payment_request import PaymentRequest, Status
from tests.support.fakes import InMemoryConnections

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def request(call_id: str = "call-1") -> PaymentRequest:
    return PaymentRequest(
        id="pr_1", call_id=call_id, clinic_id="c1", amount=8000, currency="aud",
        description="Consultation", status=Status.SUCCEEDED, created_at=NOW, updated_at=NOW,
        requested_by="clin-1",
    )  # fmt: skip


def connection(connection_id: str, call_id: str = "call-1") -> Connection:
    return Connection(
        connection_id=connection_id, call_id=call_id, audience="clinician", subject="s",
        connected_at=NOW,
    )  # fmt: skip


@pytest.fixture
def client() -> object:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url="https://example.execute-api.us-east-1.amazonaws.com/prod",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def test_gone_connection_is_deleted_and_throttled_one_kept(client: object) -> None:
    """Sequential (max_parallel=1) so the Stubber's queued answers meet connections in order."""
    store = InMemoryConnections()
    for cid in ("alive", "gone", "throttled"):
        store.add(connection(cid))
    store.add(connection("other-call", call_id="call-2"))
    stubber = Stubber(client)
    stubber.add_response("post_to_connection", {}, {"ConnectionId": "alive", "Data": ANY})
    stubber.add_client_error("post_to_connection", "GoneException", http_status_code=410)
    stubber.add_client_error("post_to_connection", "LimitExceededException", http_status_code=429)
    notifier = WebSocketNotifier(store, ApiGatewayConnections(lambda: client).post, max_parallel=1)
    with stubber:
        notifier.payment_request_updated(request())
        stubber.assert_no_pending_responses()
    assert set(store.by_id) == {"alive", "throttled", "other-call"}


def test_every_connection_of_the_call_gets_the_update_and_no_other_call() -> None:
    store = InMemoryConnections()
    for i in range(50):
        store.add(connection(f"c{i}"))
    store.add(connection("outsider", call_id="call-2"))
    frames: dict[str, dict[str, object]] = {}
    notifier = WebSocketNotifier(store, lambda cid, data: frames.__setitem__(cid, json.loads(data)))
    notifier.payment_request_updated(request())
    assert set(frames) == {f"c{i}" for i in range(50)}
    frame = frames["c0"]
    assert frame["type"] == "payment_request.updated"
    pushed = frame["payment_request"]
    assert isinstance(pushed, dict) and pushed["status"] == "succeeded" and pushed["id"] == "pr_1"
    assert "client_secret" not in pushed and "receipt_email" not in pushed
