"""`callpay stripe-endpoints`: both webhook endpoints, pinned to callpay's API version."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from callpay.adapters.stripe_gateway import STRIPE_API_VERSION
from callpay.domain.stripe_outcomes import HANDLED
from devtools.cli import main
from tests.support.recorded_stripe_server import Received, RecordedStripe

pytestmark = pytest.mark.integration


def enabled_events(received: Received) -> list[str]:
    """The SDK sends a list as enabled_events[0]=..., enabled_events[1]=..."""
    return [v for k, vs in received.form.items() if k.startswith("enabled_events[") for v in vs]


def webhook_endpoint(received: Received) -> dict[str, Any]:
    """Stripe's answer to POST /v1/webhook_endpoints (its documented object)."""
    return {
        "id": f"we_{uuid.uuid4().hex[:16]}", "object": "webhook_endpoint",
        "api_version": received.form["api_version"][0], "url": received.form["url"][0],
        "enabled_events": enabled_events(received), "status": "enabled",
        "secret": f"whsec_{uuid.uuid4().hex}", "livemode": False, "metadata": {},
    }  # fmt: skip


def test_both_endpoints_are_created_pinned_and_their_secrets_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stripe_api = RecordedStripe(answers={"/v1/webhook_endpoints": webhook_endpoint})
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_endpoints")
    url = "https://api.callpay.example/webhooks/stripe"
    try:
        assert main(["stripe-endpoints", "--url", url, "--api-base", stripe_api.url]) == 0
    finally:
        stripe_api.close()
    created = stripe_api.to("/v1/webhook_endpoints")
    assert [r.form.get("connect") for r in created] == [["false"], ["true"]]
    for request in created:
        assert request.form["api_version"] == [STRIPE_API_VERSION]
        assert request.form["url"] == [url]
        assert sorted(enabled_events(request)) == sorted(HANDLED)
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["webhook_secrets"]) == 2
    assert all(s.startswith("whsec_") for s in printed["webhook_secrets"])
