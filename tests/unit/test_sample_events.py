"""Every sample event in events/ reaches a real route of its handler, over in-memory ports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callpay.domain.access import Clinician
from callpay.logic.hold_sweeper import HoldSweeper
from clinic_admin.handler import lambda_handler as clinic_admin_handler
from devtools.invoke import signed
from hold_sweeper import composition as hold_sweeper_parts
from hold_sweeper.handler import lambda_handler as hold_sweeper_handler
from platform_api import composition as platform_api_parts
from platform_api.handler import lambda_handler as platform_api_handler
from platform_delivery.handler import lambda_handler as platform_delivery_handler
from platform_outbox.handler import lambda_handler as platform_outbox_handler
from realtime.handler import lambda_handler as realtime_handler
from request_payment.handler import lambda_handler
from send_receipt.handler import lambda_handler as send_receipt_handler
from stripe_webhook.handler import lambda_handler as webhook_handler
from tests.support.events import LambdaContext, reply
from tests.unit.conftest import WEBHOOK_SECRET, Sockets, World

EVENTS = Path(__file__).resolve().parents[2] / "events"


def samples(function: str) -> list[Path]:
    return sorted((EVENTS / function).glob("*.json"))


API_HANDLERS = {
    "request_payment": lambda_handler,
    "clinic_admin": clinic_admin_handler,
    "platform_api": platform_api_handler,
}


@pytest.mark.parametrize(
    "path",
    samples("request_payment") + samples("clinic_admin") + samples("platform_api"),
    ids=lambda p: p.name,
)
def test_sample_api_event_is_routed(world: World, path: Path) -> None:
    event = json.loads(path.read_text())
    handler = API_HANDLERS[path.parent.name]
    response = handler(event, LambdaContext())
    if response["statusCode"] in {201, 204}:
        return  # made (an invoice, an endpoint) or removed
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
    monkeypatch.setattr(hold_sweeper_parts, "hold_sweeper", lambda: sweeper)
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


def test_sample_outbox_batch_is_fanned_out(world: World) -> None:
    event = json.loads((EVENTS / "platform_outbox" / "outbox_stream_batch.json").read_text())
    platform_api_parts.webhook_endpoints().register(
        Clinician(sub="boss", org_id="org-1", role="org_admin", clinic_ids=frozenset()),
        "org-1", "https://emr.example.com/hooks", None, [],
    )  # fmt: skip
    assert platform_outbox_handler(event, LambdaContext()) == {"batchItemFailures": []}
    ((delivery),) = world.deliveries.sent
    assert delivery.event_type == "invoice.paid" and '"INV-1001"' in delivery.payload


def test_sample_delivery_batch_is_processed(world: World) -> None:
    event = json.loads((EVENTS / "platform_delivery" / "delivery_batch.json").read_text())
    # The sample's endpoint does not exist here: nothing to send, nothing failed.
    assert platform_delivery_handler(event, LambdaContext()) == {"batchItemFailures": []}


def test_sample_api_contract_events_are_answered() -> None:
    from api_contract.handler import lambda_handler as api_contract  # noqa: PLC0415

    document = api_contract(
        json.loads((EVENTS / "api_contract/get_openapi.json").read_text()), LambdaContext()
    )
    assert document["statusCode"] == 200 and json.loads(document["body"])["openapi"] == "3.1.0"
    miss = reply(
        api_contract(
            json.loads((EVENTS / "api_contract/route_miss.json").read_text()), LambdaContext()
        )
    )
    assert miss == (405, {"error": {"code": "method_not_allowed", "message": "Use GET here."}})
