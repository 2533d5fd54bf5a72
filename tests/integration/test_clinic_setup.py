"""Clinic setup against the real store (moto): Connect calls answered from recorded Stripe
responses over HTTP (localstripe has no Connect), Connect webhooks signed like Stripe's."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from callpay import runtime
from callpay.adapters.stripe_connect import StripeConnect
from clinic_admin.handler import lambda_handler as clinic_admin
from tests.integration.conftest import CONNECT_SECRET, deliver
from tests.integration.test_payment_loop import api
from tests.support.events import LambdaContext, clinician_claims, http_event, reply
from tests.support.recorded_stripe_server import RecordedStripe
from tests.support.stripe_events import signature

pytestmark = pytest.mark.integration

RECORDED_ACCOUNT = "acct_1Nv0FGQ9RKHgCVdK"
RETURN = "https://app.videoplatform.test/clinics/{clinic_id}/stripe-return"
REFRESH = "https://app.videoplatform.test/clinics/{clinic_id}/stripe-refresh"


@pytest.fixture
def recorded_connect(stack: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordedStripe]:
    recorded = RecordedStripe()
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": recorded.url})
    monkeypatch.setattr(
        runtime, "connect_onboarding", lambda: StripeConnect(lambda: client, RETURN, REFRESH)
    )
    runtime.clinic_admin.cache_clear()
    yield recorded
    runtime.clinic_admin.cache_clear()
    recorded.close()


def admin_call(method: str, path: str, claims: dict[str, str], body: Any = None) -> tuple[int, Any]:
    return reply(clinic_admin(http_event(method, path, body, claims=claims), LambdaContext()))


def connect_event(event_type: str, obj: dict[str, Any]) -> tuple[int, str]:
    event = {
        "id": f"evt_{uuid.uuid4().hex[:12]}", "object": "event", "type": event_type,
        "created": int(time.time()), "account": RECORDED_ACCOUNT, "data": {"object": obj},
    }  # fmt: skip
    body = json.dumps(event).encode()
    status, answer = deliver(body, {"stripe-signature": signature(body, CONNECT_SECRET)})
    return status, json.loads(answer).get("outcome", "")


def test_enable_link_onboard_take_a_payment_then_deauthorize(
    recorded_connect: RecordedStripe,
) -> None:
    clinic_id = f"clinic-{uuid.uuid4().hex[:8]}"
    org_admin = clinician_claims(sub="boss", role="org_admin", clinics=clinic_id)
    clinician = clinician_claims(sub="dr", clinics=clinic_id)
    path = f"/clinics/{clinic_id}"

    enable = {"enabled": True, "country": "AU", "legal_name": "Harbour"}
    status, settings = admin_call("PUT", f"{path}/settings", org_admin, enable)
    assert status == 200 and settings["enabled"] is True

    status, link = admin_call("POST", f"{path}/stripe-account/link", org_admin)
    assert status == 200 and link["url"].startswith("https://connect.stripe.com/setup/s/")
    (created,) = recorded_connect.to("/v1/accounts")
    assert created.form["controller[stripe_dashboard][type]"] == ["full"]
    assert created.form["metadata[clinic_id]"] == [clinic_id]
    assert created.form["country"] == ["AU"]
    assert created.headers["idempotency-key"] == f"clinic:{clinic_id}:account:1"
    assert "stripe-account" not in created.headers  # a platform call, not on the clinic's account
    (linked,) = recorded_connect.to("/v1/account_links")
    assert linked.form["account"] == [RECORDED_ACCOUNT]
    assert linked.form["type"] == ["account_onboarding"]
    assert linked.form["return_url"] == [RETURN.replace("{clinic_id}", clinic_id)]

    # Re-linking ("edit") makes a new single-use link for the same account.
    admin_call("POST", f"{path}/stripe-account/link", org_admin)
    assert len(recorded_connect.to("/v1/accounts")) == 1
    assert len(recorded_connect.to("/v1/account_links")) == 2

    body = {"clinic_id": clinic_id, "amount": 5000, "currency": "aud", "description": "x"}
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    request = http_event("POST", f"/calls/{call_id}/payment-requests", body, claims=clinician)
    status, refused = api(request)
    assert status == 409 and refused["error"]["code"] == "stripe_account_not_ready"

    ready = {"id": RECORDED_ACCOUNT, "object": "account", "charges_enabled": True,
             "details_submitted": True, "requirements": {"currently_due": []}}  # fmt: skip
    assert connect_event("account.updated", ready) == (200, "applied")
    status, account = admin_call("GET", f"{path}/stripe-account", org_admin)
    assert account == {"linked": True, "stripe_account_id": RECORDED_ACCOUNT,
                       "charges_enabled": True, "details_submitted": True,
                       "requirements_due": []}  # fmt: skip
    assert api(request)[0] == 201

    assert connect_event("account.application.deauthorized", {"object": "application"}) == (
        200, "applied",
    )  # fmt: skip
    status, account = admin_call("GET", f"{path}/stripe-account", org_admin)
    assert account["linked"] is False and account["charges_enabled"] is False
    actions = [a.action for a in runtime.clinic_store().clinic_audit(clinic_id)]
    assert actions == ["settings", "stripe_account.linked", "stripe_account.updated",
                       "stripe_account.deauthorized"]  # fmt: skip
    # A later event for the forgotten account is not ours any more.
    assert connect_event("account.updated", ready) == (200, "ignored")
