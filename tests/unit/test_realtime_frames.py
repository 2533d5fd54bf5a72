"""Frames of any shape on the WebSocket feed get an answer, and the socket stays: through
`reply_to` and through the realtime handler (tests/integration/test_realtime.py sends the
same over a real socket)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callpay import runtime
from callpay.logic.realtime import Realtime
from tests.support.fakes import Clock, InMemoryConnections, InMemoryStore
from tests.unit.conftest import Sockets, World, ws
from tests.unit.test_request_payment_api import create

DEEP_4KB = "[" * 2048 + "]" * 2048  # closed the socket (1006) with no message before


@pytest.fixture
def connected(world: World, sockets: Sockets) -> Sockets:
    create()
    assert ws("$connect", "c1", {"call_id": "call-1", "token": "jwt-clinic-1"}) == 200
    return sockets


def answer_to(sockets: Sockets, frame: str | None) -> dict[str, Any]:
    """The one frame the socket got back for `frame`."""
    sent = len(sockets.frames.get("c1", []))
    assert ws("$default", "c1", body=frame) == 200
    (reply,) = sockets.frames["c1"][sent:]
    return reply


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (DEEP_4KB, "invalid_frame"),
        ('{"action": ' * 1000 + "1" + "}" * 1000, "invalid_frame"),
        ('{"action": "sync", "n": ' + "9" * 5000 + "}", "invalid_frame"),
        ("x" * 1_000_000, "invalid_frame"),
        ('{"action": "sync", "pad": "' + "é" * 3000 + '"}', "invalid_frame"),  # 6 KB of UTF-8
        ('"\\ud800"', "invalid_frame"),
        ("", "invalid_frame"),
        ("1", "unknown_action"),
        ("null", "unknown_action"),
        ("[]", "unknown_action"),
        ('"sync"', "unknown_action"),
        ('{"action": 5}', "unknown_action"),
        ('{"action": ["sync"]}', "unknown_action"),
        ('{"action": {"sync": true}}', "unknown_action"),
        ('{"action": "SYNC"}', "unknown_action"),
        ('{"type": "sync"}', "unknown_action"),
    ],
)
def test_a_frame_of_any_shape_gets_an_error_frame_and_the_socket_stays(
    connected: Sockets, frame: str, code: str
) -> None:
    reply = answer_to(connected, frame)
    assert reply == {"type": "error", "error": {"code": code, "message": reply["error"]["message"]}}
    assert runtime.connections().get("c1") is not None
    assert answer_to(connected, '{"action": "ping"}') == {"type": "pong"}  # still answering


def test_a_frame_with_extra_fields_is_still_understood(connected: Sockets) -> None:
    assert answer_to(connected, '{"action": "ping", "id": 7, "nested": [[[]]]}') == {"type": "pong"}
    assert answer_to(connected, '{"action": "sync", "since": null}')["type"] == "call.snapshot"


def test_a_fault_of_ours_answers_internal_error_with_an_id_and_keeps_the_socket(
    connected: Sockets,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(call_id: str) -> list[Any]:
        raise RuntimeError("the table is on fire")

    monkeypatch.setattr(world.store, "by_call", broken)
    reply = answer_to(connected, '{"action": "sync"}')
    assert reply["type"] == "error" and reply["error"]["code"] == "internal_error"
    error_id = reply["error"]["error_id"]
    assert error_id in reply["error"]["message"] and "fire" not in reply["error"]["message"]
    (logged,) = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert logged.error_id == error_id  # type: ignore[attr-defined]
    assert runtime.connections().get("c1") is not None


def test_a_fault_of_ours_at_connect_refuses_the_socket_with_a_500_and_an_error_id(
    sockets: Sockets, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from realtime.handler import lambda_handler  # noqa: PLC0415
    from tests.support.events import LambdaContext  # noqa: PLC0415

    create()
    monkeypatch.setattr(world.store, "call_clinic", lambda call_id: 1 / 0)
    event = {
        "requestContext": {"routeKey": "$connect", "connectionId": "c9"},
        "queryStringParameters": {"call_id": "call-1", "token": "jwt-clinic-1"},
    }
    answer = lambda_handler(event, LambdaContext())
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 500 and body["error"]["code"] == "internal_error"
    assert body["error"]["error_id"] in body["error"]["message"]
    assert runtime.connections().get("c9") is None


# -- properties -------------------------------------------------------------------------

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip
frames = st.one_of(
    st.none(),
    st.text(max_size=200),
    json_value.map(json.dumps),
    st.dictionaries(st.sampled_from(["action", "type", "id"]) | st.text(max_size=5),
                    st.sampled_from(["sync", "ping", "Sync", ""]) | json_value,
                    max_size=4).map(json.dumps),
    st.integers(0, 6000).map(lambda n: "[" * n + "]" * n),
    st.integers(0, 6000).map(lambda n: '{"action":' * n + '"ping"' + "}" * n),
    st.integers(1, 7000).map(lambda n: '{"action": "ping", "n": ' + "7" * n + "}"),
    st.integers(3000, 200_000).map(lambda n: '{"action": "ping", "pad": "' + "x" * n + '"}'),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
)  # fmt: skip
PROPERTY_SETTINGS = settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(frame=frames)
def test_reply_to_answers_any_frame_with_one_json_frame(frame: str | None) -> None:
    store, connections = InMemoryStore(), InMemoryConnections()
    realtime = Realtime(store=store, connections=connections, clock=Clock())
    reply = json.loads(realtime.reply_to("c1", frame))
    assert reply["type"] in {"pong", "error"}  # "c1" is not connected: no snapshot
    if reply["type"] == "error":
        assert reply["error"]["code"] in {"invalid_frame", "unknown_action", "not_connected"}


@PROPERTY_SETTINGS
@given(frame=frames)
def test_the_handler_answers_any_frame_and_keeps_the_socket(
    connected: Sockets, world: World, frame: str | None
) -> None:
    before = copy.deepcopy((world.store.requests, world.store.calls))
    reply = answer_to(connected, frame)
    assert reply["type"] in {"pong", "error", "call.snapshot"}
    if reply["type"] == "error":
        assert reply["error"]["code"] in {"invalid_frame", "unknown_action"}
    assert runtime.connections().get("c1") is not None
    assert (world.store.requests, world.store.calls) == before
