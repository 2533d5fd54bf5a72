"""In-call pop-ups over real sockets: the local WebSocket gateway runs the realtime handler,
the notifier posts through its @connections API, Stripe's webhook comes from localstripe."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from callpay.domain.clinic import Clinic
from tests.integration.conftest import TABLE, Stack, claims_for
from tests.integration.test_payment_loop import (
    GOOD_CARD,
    api,
    patient_checkout,
    patient_token,
    pay,
    request_payment,
    stored,
)
from tests.support.events import http_event
from tests.support.servers import wait_until

pytestmark = pytest.mark.integration


def open_feed(stack: Stack, call_id: str, token: str, **extra: str) -> ClientConnection:
    query = urlencode({"call_id": call_id, "token": token, **extra})
    return connect(f"{stack.gateway.ws_url}?{query}", open_timeout=5)


def receive(socket: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return dict(json.loads(socket.recv(timeout=timeout)))


def nothing_for(socket: ClientConnection, seconds: float = 1.5) -> bool:
    try:
        socket.recv(timeout=seconds)
    except TimeoutError:
        return True
    return False


def connection_ids(call_id: str) -> set[str]:
    items = boto3.client("dynamodb").query(
        TableName=TABLE,
        IndexName="by_call",
        KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :c)",
        ExpressionAttributeValues={":pk": {"S": f"CALL#{call_id}"}, ":c": {"S": "CONN#"}},
    )["Items"]
    return {item["connection_id"]["S"] for item in items}


def test_clinician_and_patient_see_the_payment_land_and_an_outsider_sees_nothing(
    stack: Stack, clinic: Clinic
) -> None:
    call_id, other_call = f"call-{uuid.uuid4().hex[:8]}", f"call-{uuid.uuid4().hex[:8]}"
    clinician_jwt = stack.identity.token(claims_for(clinic))
    with (
        open_feed(stack, call_id, clinician_jwt, clinic_id=clinic.clinic_id) as clinician,
        open_feed(stack, call_id, patient_token(clinic, call_id)) as patient,
        open_feed(stack, other_call, patient_token(clinic, other_call)) as outsider,
    ):
        pay_and_watch(stack, clinic, call_id, clinician, patient, outsider)


def pay_and_watch(stack: Stack, clinic: Clinic, call_id: str, *sockets: ClientConnection) -> None:
    clinician, patient, outsider = sockets
    created = request_payment(clinic, call_id)
    for socket in (clinician, patient):
        message = receive(socket)
        assert message["type"] == "payment_request.updated"
        assert message["payment_request"]["id"] == created["id"]
        assert message["payment_request"]["status"] == "requested"

    patient_checkout(clinic, call_id, created["id"])
    intent_id = stored(created["id"]).payment_intent_id
    assert intent_id
    pay(stack, intent_id, GOOD_CARD)

    for socket in (clinician, patient):
        popup = receive(socket)
        assert popup["type"] == "payment_request.updated"
        assert popup["payment_request"]["status"] == "succeeded"
        assert popup["payment_request"]["amount_captured"] == 8000
        assert "client_secret" not in popup["payment_request"]
    assert nothing_for(outsider)


def test_reconnecting_client_gets_the_current_state_with_sync(stack: Stack, clinic: Clinic) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    created = request_payment(clinic, call_id)
    api(http_event("POST", f"/payment-requests/{created['id']}/cancel", claims=claims_for(clinic)))
    with open_feed(stack, call_id, patient_token(clinic, call_id)) as socket:
        socket.send(json.dumps({"action": "sync"}))
        snapshot = receive(socket)
        socket.send(json.dumps({"action": "ping"}))
        assert receive(socket) == {"type": "pong"}
        socket.send("not json")
        assert receive(socket)["error"]["code"] == "invalid_frame"
    assert snapshot["type"] == "call.snapshot" and snapshot["call_id"] == call_id
    assert [(r["id"], r["status"]) for r in snapshot["payment_requests"]] == [
        (created["id"], "canceled")
    ]


def test_a_closed_socket_is_cleaned_up_on_the_next_push(stack: Stack, clinic: Clinic) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    token = patient_token(clinic, call_id)
    with open_feed(stack, call_id, token) as staying, open_feed(stack, call_id, token) as leaving:
        assert len(connection_ids(call_id)) == 2
        drop_and_push(clinic, call_id, staying, leaving)


def drop_and_push(
    clinic: Clinic, call_id: str, staying: ClientConnection, leaving: ClientConnection
) -> None:
    # The client's network drops: the gateway notices and runs $disconnect.
    leaving.socket.close()
    wait_until(lambda: len(connection_ids(call_id)) == 1, what="disconnect")
    # API Gateway does not promise $disconnect: a record can outlive its socket.
    # Leave one behind, then push: its 410 Gone must remove it.
    boto3.client("dynamodb").put_item(
        TableName=TABLE,
        Item={
            "PK": {"S": "CONN#stale-one"}, "SK": {"S": "CONN"}, "kind": {"S": "connection"},
            "GSI1PK": {"S": f"CALL#{call_id}"}, "GSI1SK": {"S": "CONN#stale-one"},
            "connection_id": {"S": "stale-one"}, "call_id": {"S": call_id},
            "audience": {"S": "patient"}, "subject": {"S": "x"},
            "connected_at": {"S": "2026-11-21T00:00:00Z"},
        },
    )  # fmt: skip
    assert "stale-one" in connection_ids(call_id)
    created = request_payment(clinic, call_id)
    assert receive(staying)["payment_request"]["id"] == created["id"]
    assert "stale-one" not in connection_ids(call_id)  # its 410 Gone removed it
    assert len(connection_ids(call_id)) == 1


@pytest.mark.parametrize("who", ["forged", "other_clinic", "other_call_patient"])
def test_the_feed_refuses_strangers(stack: Stack, clinic: Clinic, who: str) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    request_payment(clinic, call_id)
    token = {
        "forged": "not-a-token",
        "other_clinic": stack.identity.token(claims_for(clinic) | {"clinic_ids": "elsewhere"}),
        "other_call_patient": patient_token(clinic, f"call-{uuid.uuid4().hex[:8]}"),
    }[who]
    with pytest.raises(InvalidStatus) as refused:
        open_feed(stack, call_id, token)
    assert refused.value.response.status_code in {401, 403}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[" * 2048 + "]" * 2048, "invalid_frame"),  # 4 KB: closed the socket (1006) before
        ('{"action": "sync", "pad": "' + "x" * 200_000 + '"}', "invalid_frame"),
        ('{"action": "sync", "n": ' + "9" * 5000 + "}", "invalid_frame"),
        ("[1]", "unknown_action"),
        ('{"action": ["sync"]}', "unknown_action"),
        ('{"action": "refund"}', "unknown_action"),
    ],
)
def test_a_frame_of_any_shape_is_answered_over_the_socket_and_the_socket_stays(
    stack: Stack, clinic: Clinic, frame: str, code: str
) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    with open_feed(stack, call_id, patient_token(clinic, call_id)) as socket:
        socket.send(frame)
        reply = receive(socket)
        assert reply["type"] == "error" and reply["error"]["code"] == code
        socket.send(json.dumps({"action": "ping"}))
        assert receive(socket) == {"type": "pong"}
        assert len(connection_ids(call_id)) == 1


def test_a_binary_frame_closes_the_socket_with_1003_as_api_gateway_does(
    stack: Stack, clinic: Clinic
) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    with open_feed(stack, call_id, patient_token(clinic, call_id)) as socket:
        socket.send(b'{"action": "ping"}')
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    wait_until(lambda: not connection_ids(call_id), what="$disconnect")


FRAMES = st.one_of(
    st.text(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["action", "x"]), inner, max_size=3)
        ),
        max_leaves=10,
    ).map(json.dumps),
    st.integers(0, 2048).map(lambda n: "[" * n + "]" * n),  # up to 4 KB: reaches the parser
    st.sampled_from(['{"action": "ping"}', '{"action": "sync"}', '{"action": "Sync"}']),
)


def test_arbitrary_frames_over_a_real_socket_each_get_one_answer(
    stack: Stack, clinic: Clinic
) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    with open_feed(stack, call_id, patient_token(clinic, call_id)) as socket:

        @settings(max_examples=60, deadline=None, database=None)
        @given(frame=FRAMES)
        def answered(frame: str) -> None:
            socket.send(frame)
            reply = receive(socket)
            assert reply["type"] in {"pong", "error", "call.snapshot"}, reply
            if reply["type"] == "error":
                assert reply["error"]["code"] in {"invalid_frame", "unknown_action"}

        answered()
        assert len(connection_ids(call_id)) == 1
