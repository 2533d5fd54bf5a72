"""Clinic setup against the real store (moto): Connect calls answered from recorded Stripe
responses over HTTP (localstripe has no Connect), Connect webhooks signed like Stripe's."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import stripe

from callpay import runtime
from callpay.adapters.stripe_connect import StripeConnect
from clinic_admin import composition as clinic_admin_parts
from clinic_admin.handler import lambda_handler as clinic_admin
from tests.integration.conftest import CONNECT_SECRET, TABLE, deliver
from tests.integration.test_payment_loop import api
from tests.support.events import LambdaContext, clinician_claims, http_event, reply
from tests.support.recorded_stripe_server import RecordedStripe
from tests.support.stripe_events import signature

pytestmark = pytest.mark.integration

RECORDED_ACCOUNT = "acct_1Nv0FGQ9RKHgCVdK"
RETURN = "https://app.videoplatform.test/clinics/{clinic_id}/stripe-return"
REFRESH = "https://app.videoplatform.test/clinics/{clinic_id}/stripe-refresh"


@pytest.fixture(params=[False], ids=["recorded"])
def recorded_connect(
    stack: object, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[RecordedStripe]:
    recorded = RecordedStripe(accounts_by_key=request.param)
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": recorded.url})
    connect = StripeConnect(lambda: client, RETURN, REFRESH)
    monkeypatch.setattr(clinic_admin_parts, "connect_onboarding", lambda: connect)
    clinic_admin_parts.clinic_admin.cache_clear()
    yield recorded
    clinic_admin_parts.clinic_admin.cache_clear()
    recorded.close()


def admin_call(method: str, path: str, claims: dict[str, str], body: Any = None) -> tuple[int, Any]:
    return reply(clinic_admin(http_event(method, path, body, claims=claims), LambdaContext()))


def connect_event(
    event_type: str, obj: dict[str, Any], account: str = RECORDED_ACCOUNT
) -> tuple[int, str]:
    event = {
        "id": f"evt_{uuid.uuid4().hex[:12]}", "object": "event", "type": event_type,
        "created": int(time.time()), "account": account, "data": {"object": obj},
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


@pytest.mark.parametrize("recorded_connect", [True], indirect=True, ids=["keyed"])
def test_concurrent_link_calls_make_one_account_and_a_strays_events_are_ignored(
    recorded_connect: RecordedStripe,
) -> None:
    clinic_id = f"clinic-{uuid.uuid4().hex[:8]}"
    org_admin = clinician_claims(sub="boss", role="org_admin", clinics=clinic_id)
    path = f"/clinics/{clinic_id}"
    assert admin_call("PUT", f"{path}/settings", org_admin, {"enabled": True})[0] == 200

    def link(_: int) -> tuple[int, Any]:
        return admin_call("POST", f"{path}/stripe-account/link", org_admin)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(link, range(6)))
    assert [status for status, _ in answers] == [200] * 6
    assert len(recorded_connect.accounts) == 1  # one idempotency key, so one Stripe account
    keys = {r.headers["idempotency-key"] for r in recorded_connect.to("/v1/accounts")}
    assert keys == {f"clinic:{clinic_id}:account:1"}
    (account,) = recorded_connect.accounts.values()
    status, linked = admin_call("GET", f"{path}/stripe-account", org_admin)
    assert status == 200 and linked["stripe_account_id"] == account
    actions = [a.action for a in runtime.clinic_store().clinic_audit(clinic_id)]
    assert actions == ["settings", "stripe_account.linked"]

    # An account the clinic is not linked to (say left over from before a re-link) never
    # changes charges_enabled, even if something points it at the clinic.
    stray = "acct_stray_" + uuid.uuid4().hex[:6]
    boto3.client("dynamodb").put_item(
        TableName=TABLE,
        Item={"PK": {"S": f"ACCOUNT#{stray}"}, "SK": {"S": "ACCOUNT"},
              "kind": {"S": "stripe_account"}, "clinic_id": {"S": clinic_id}},
    )  # fmt: skip
    ready = {"id": stray, "object": "account", "charges_enabled": True,
             "details_submitted": True, "requirements": {"currently_due": []}}  # fmt: skip
    assert connect_event("account.updated", ready, account=stray) == (200, "ignored")
    assert admin_call("GET", f"{path}/stripe-account", org_admin)[1]["charges_enabled"] is False
