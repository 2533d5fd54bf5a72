"""Every sample event in events/ reaches a real route of its handler, over in-memory ports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callpay import runtime
from callpay.logic.hold_sweeper import HoldSweeper
from clinic_admin.handler import lambda_handler as clinic_admin_handler
from devtools.invoke import signed
from hold_sweeper.handler import lambda_handler as hold_sweeper_handler
from realtime.handler import lambda_handler as realtime_handler
from request_payment.handler import lambda_handler
from send_receipt.handler import lambda_handler as send_receipt_handler
from stripe_webhook.handler import lambda_handler as webhook_handler
from tests.support.events import LambdaContext, reply
from tests.unit.conftest import WEBHOOK_SECRET, Sockets, World

EVENTS = Path(__file__).resolve().parents[2] / "events"


def samples(function: str) -> list[Path]:
    return sorted((EVENTS / function).glob("*.json"))


@pytest.mark.parametrize(
    "path", samples("request_payment") + samples("clinic_admin"), ids=lambda p: p.name
)
def test_sample_api_event_is_routed(world: World, path: Path) -> None:
    event = json.loads(path.read_text())
    handler = clinic_admin_handler if path.parent.name == "clinic_admin" else lambda_handler
    response = handler(event, LambdaContext())
    if response["headers"].get("Content-Type", "").startswith("text/csv"):
        assert response["statusCode"] == 200
        return
    status, body = reply(response)
    # The samples name a request that does not exist here, or carry a placeholder token:
    # what matters is that a route answered, with the error contract.
    assert status < 500
    if status >= 400:
        assert body["error"]["code"] != "not_found"


@pytest.mark.parametrize("path", sorted((EVENTS / "stripe_webhook").glob("*.json")), ids=str)
def test_sample_stripe_delivery_verifies_once_signed(world: World, path: Path) -> None:
    event = json.loads(path.read_text())
    assert reply(webhook_handler(event, LambdaContext()))[0] == 400  # placeholder signature
    status, body = reply(webhook_handler(signed(event, WEBHOOK_SECRET), LambdaContext()))
    assert (status, body) == (200, {"received": True, "outcome": "ignored"})  # no such request


@pytest.mark.parametrize("path", samples("send_receipt"), ids=lambda p: p.name)
def test_sample_receipt_batch_is_processed(world: World, path: Path) -> None:
    event = json.loads(path.read_text())
    # The sample names requests that do not exist here: handled, nothing to send.
    assert send_receipt_handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert world.mailer.outbox == []


@pytest.mark.parametrize("path", samples("hold_sweeper"), ids=lambda p: p.name)
def test_sample_scheduled_event_sweeps_the_holds(
    world: World, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeper = HoldSweeper(
        store=world.store, gateway=world.gateway, notifier=world.notifier,
        receipts=world.queue, clock=world.clock,
    )  # fmt: skip
    monkeypatch.setattr(runtime, "hold_sweeper", lambda: sweeper)
    event = json.loads(path.read_text())
    assert hold_sweeper_handler(event, LambdaContext()) == {
        "warned": 0, "expired": 0, "captured": 0, "postponed": 0, "unreachable": 0
    }  # fmt: skip


@pytest.mark.parametrize("path", samples("realtime"), ids=lambda p: p.name)
def test_sample_websocket_event_is_routed(world: World, sockets: Sockets, path: Path) -> None:
    event = json.loads(path.read_text())
    status = realtime_handler(event, LambdaContext())["statusCode"]
    # $connect carries a placeholder token: refused as unauthenticated, not crashed.
    route = event["requestContext"]["routeKey"]
    assert status == (401 if route == "$connect" else 200)
    if route == "$default":
        (reply_frame,) = sockets.frames[event["requestContext"]["connectionId"]]
        assert reply_frame["type"] in {"pong", "error"}  # sync of an unknown socket: an error
