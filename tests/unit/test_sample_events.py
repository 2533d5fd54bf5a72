"""Every sample event in events/ reaches a real route of its handler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.invoke import signed
from request_payment.handler import lambda_handler
from stripe_webhook.handler import lambda_handler as webhook_handler
from tests.support.events import LambdaContext, reply
from tests.unit.conftest import WEBHOOK_SECRET, World

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.mark.parametrize("path", sorted((EVENTS / "request_payment").glob("*.json")), ids=str)
def test_sample_api_event_is_routed(world: World, path: Path) -> None:
    event = json.loads(path.read_text())
    status, body = reply(lambda_handler(event, LambdaContext()))
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
