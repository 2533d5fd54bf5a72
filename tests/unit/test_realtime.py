"""Who may open a call's feed, and what a socket gets back, through the realtime handler."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from callpay import runtime
from tests.support.events import clinician_claims
from tests.support.fakes import tokens
from tests.unit.conftest import CLINICIAN_TOKENS, Sockets, World, ws
from tests.unit.test_request_payment_api import create


def patient_token(call_id: str = "call-1") -> str:
    return tokens().mint(call_id, "clinic-1", datetime.now(UTC))[0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"call_id": "call-1", "token": "jwt-clinic-1"}, 200),
        ({"call_id": "call-1", "token": "jwt-clinic-2"}, 403),  # another clinic's clinician
        ({"call_id": "call-1", "token": "jwt-forged"}, 401),
        ({"call_id": "call-1"}, 400),
        ({"token": "jwt-clinic-1"}, 400),
        ({"call_id": "bad id!", "token": "jwt-clinic-1"}, 400),
    ],
)
def test_connect_admits_only_the_calls_clinicians(
    world: World, sockets: Sockets, query: dict[str, str], expected: int
) -> None:
    create()  # binds call-1 to clinic-1
    assert ws("$connect", "conn-1", query) == expected
    assert (runtime.connections().get("conn-1") is not None) is (expected == 200)


def test_connect_admits_the_patient_of_the_call_only(world: World, sockets: Sockets) -> None:
    create()
    assert ws("$connect", "p1", {"call_id": "call-1", "token": patient_token("call-1")}) == 200
    assert ws("$connect", "p2", {"call_id": "call-1", "token": patient_token("call-2")}) == 403
    stored = runtime.connections().get("p1")
    assert stored is not None and stored.audience == "patient"


def test_clinician_opening_an_unused_call_names_its_clinic(world: World, sockets: Sockets) -> None:
    assert ws("$connect", "c1", {"call_id": "fresh", "token": "jwt-clinic-1"}) == 403
    query = {"call_id": "fresh", "token": "jwt-clinic-1", "clinic_id": "clinic-1"}
    assert ws("$connect", "c1", query) == 200
    assert world.store.call_clinic("fresh") == "clinic-1"
    # the call now belongs to clinic-1: clinic-2 cannot take it over
    query2 = {"call_id": "fresh", "token": "jwt-clinic-2", "clinic_id": "clinic-2"}
    assert ws("$connect", "c2", query2) == 403


def test_sync_returns_the_calls_snapshot_and_ping_a_pong(world: World, sockets: Sockets) -> None:
    _, created = create()
    ws("$connect", "c1", {"call_id": "call-1", "token": "jwt-clinic-1"})
    assert ws("$default", "c1", body='{"action": "sync"}') == 200
    assert ws("$default", "c1", body='{"action": "ping"}') == 200
    snapshot, pong = sockets.frames["c1"]
    assert snapshot["type"] == "call.snapshot" and snapshot["call_id"] == "call-1"
    assert [r["id"] for r in snapshot["payment_requests"]] == [created["id"]]
    assert pong == {"type": "pong"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "invalid_frame"),
        ("[1]", "unknown_action"),
        ('{"action": "refund"}', "unknown_action"),
        (None, "invalid_frame"),
        ('{"action": "sync", "pad": "' + "x" * 5000 + '"}', "invalid_frame"),
    ],
)
def test_bad_frames_get_an_error_frame(
    world: World, sockets: Sockets, body: str | None, code: str
) -> None:
    create()
    ws("$connect", "c1", {"call_id": "call-1", "token": "jwt-clinic-1"})
    assert ws("$default", "c1", body=body) == 200
    assert sockets.frames["c1"][-1]["error"]["code"] == code


def test_disconnect_forgets_the_connection(world: World, sockets: Sockets) -> None:
    create()
    ws("$connect", "c1", {"call_id": "call-1", "token": "jwt-clinic-1"})
    assert ws("$disconnect", "c1") == 200
    assert runtime.connections().get("c1") is None


def test_a_clinician_cannot_open_a_call_for_a_clinic_that_does_not_exist(
    world: World, sockets: Sockets
) -> None:
    CLINICIAN_TOKENS["jwt-ghost"] = clinician_claims(sub="ghost", clinics="clinic-ghost")
    query = {"call_id": "fresh", "token": "jwt-ghost", "clinic_id": "clinic-ghost"}
    assert ws("$connect", "g1", query) == 409
    assert world.store.call_clinic("fresh") is None  # nobody can squat the call


def test_a_pay_later_links_socket_hears_of_its_request_only(world: World, sockets: Sockets) -> None:
    _, other = create()
    _, mine = create()
    link = tokens().mint("call-1", "clinic-1", datetime.now(UTC), payment_request_id=mine["id"])[0]
    assert ws("$connect", "link", {"call_id": "call-1", "token": link}) == 200
    assert ws("$connect", "doctor", {"call_id": "call-1", "token": "jwt-clinic-1"}) == 200
    ws("$default", "link", body='{"action": "sync"}')
    (snapshot,) = sockets.frames["link"]
    assert [r["id"] for r in snapshot["payment_requests"]] == [mine["id"]]
    for pr_id in (other["id"], mine["id"]):
        stored = world.store.get(pr_id)
        assert stored is not None
        runtime.notifier().payment_request_updated(stored)
    heard = [f["payment_request"]["id"] for f in sockets.frames["link"][1:]]
    assert heard == [mine["id"]]
    assert [f["payment_request"]["id"] for f in sockets.frames["doctor"]] == [
        other["id"], mine["id"]
    ]  # fmt: skip


def test_a_store_too_busy_at_connect_is_a_503_to_connect_again_and_a_fault_a_500(
    world: World, sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    create()
    query = {"call_id": "call-1", "token": "jwt-clinic-1"}

    def failing(code: str) -> Callable[..., None]:
        def add(connection: object) -> None:
            raise ClientError({"Error": {"Code": code, "Message": "no"}}, "PutItem")

        return add

    monkeypatch.setattr(runtime.connections(), "add", failing("ThrottlingException"))
    assert ws("$connect", "c1", query) == 503
    monkeypatch.setattr(runtime.connections(), "add", failing("ValidationException"))
    assert ws("$connect", "c1", query) == 500
    assert runtime.connections().get("c1") is None
