"""Clinic setup through the clinic_admin handler, over in-memory ports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from callpay.domain.clinic import Clinic
from callpay.domain.stripe_objects import StripeEvent
from clinic_admin.handler import lambda_handler
from stripe_webhook import composition as stripe_webhook_parts
from tests.support.events import LambdaContext, clinician_claims, http_event, reply
from tests.unit.conftest import World
from tests.unit.test_request_payment_api import checkout, create

ORG_ADMIN = clinician_claims(sub="boss", role="org_admin", clinics="clinic-1 clinic-new")
TEAM_ADMIN = clinician_claims(sub="admin-1", role="team_admin")


def clinic_call(
    method: str, path: str, body: Any = None, claims: dict[str, str] = TEAM_ADMIN, **kw: Any
) -> tuple[int, Any]:
    response = lambda_handler(http_event(method, path, body, claims=claims, **kw), LambdaContext())
    if response["headers"].get("Content-Type", "").startswith("text/csv"):
        return response["statusCode"], response["body"]
    return reply(response)


def test_org_admin_sets_up_a_new_clinic_and_team_admin_edits_its_receipt_details(
    world: World,
) -> None:
    status, body = clinic_call(
        "PUT", "/clinics/clinic-new/settings", {"enabled": True, "country": "au"}, claims=ORG_ADMIN
    )
    assert status == 200 and body["enabled"] is True and body["org_id"] == "org-1"
    assert body["country"] == "AU" and body["stripe_account_linked"] is False
    team_admin = clinician_claims(sub="admin-2", role="team_admin", clinics="clinic-new")
    details = {"legal_name": "Harbour Health", "tax_id": "51 824 753 556", "tax_id_label": "ABN"}
    status, body = clinic_call("PUT", "/clinics/clinic-new/settings", details, claims=team_admin)
    assert status == 200 and body["legal_name"] == "Harbour Health" and body["enabled"] is True
    trail = world.store.clinic_audit("clinic-new")
    assert [(a.subject, a.action) for a in trail] == [("boss", "settings"), ("admin-2", "settings")]
    assert trail[1].changes["legal_name"] == (None, "Harbour Health")
    assert "enabled" not in trail[1].changes


def test_only_an_org_admin_enables_payments(world: World) -> None:
    status, body = clinic_call("PUT", "/clinics/clinic-1/settings", {"enabled": False})
    assert status == 403 and body["error"]["code"] == "org_admin_only"
    assert world.store.clinics["clinic-1"].enabled is True


def test_a_team_admin_cannot_set_up_a_clinic_nobody_enabled(world: World) -> None:
    admin = clinician_claims(role="team_admin", clinics="clinic-new")
    status, body = clinic_call(
        "PUT", "/clinics/clinic-new/settings", {"legal_name": "x"}, claims=admin
    )
    assert status == 404 and body["error"]["code"] == "clinic_not_set_up"
    assert "clinic-new" not in world.store.clinics


@pytest.mark.parametrize(
    "body",
    [
        {"default_currency": "zzz"},
        {"time_zone": "Mars/Olympus"},
        {"minimum_amount": 5000, "maximum_amount": 100},
        {"enabled": "yes"},
        {"unknown": 1},
        {"maximum_amount": -5},
    ],
)
def test_bad_settings_are_422_and_change_nothing(world: World, body: dict[str, Any]) -> None:
    before = world.store.clinics["clinic-1"]
    status, _ = clinic_call("PUT", "/clinics/clinic-1/settings", body, claims=ORG_ADMIN)
    assert status == 422
    assert world.store.clinics["clinic-1"] == before


def test_clearing_a_receipt_detail(world: World) -> None:
    clinic_call("PUT", "/clinics/clinic-1/settings", {"provider_number": "2426621B"})
    status, body = clinic_call("PUT", "/clinics/clinic-1/settings", {"provider_number": ""})
    assert status == 200 and body["provider_number"] is None


def test_link_creates_one_account_and_account_updated_enables_charges(world: World) -> None:
    clinic_call("PUT", "/clinics/clinic-new/settings", {"enabled": True}, claims=ORG_ADMIN)
    status, body = clinic_call("POST", "/clinics/clinic-new/stripe-account/link", claims=ORG_ADMIN)
    assert status == 200 and body["url"].startswith("https://connect.stripe.test/setup/acct_1")
    again = clinic_call("POST", "/clinics/clinic-new/stripe-account/link", claims=ORG_ADMIN)[1]
    assert again["url"] == body["url"] and len(world.connect.created) == 1
    _, account = clinic_call("GET", "/clinics/clinic-new/stripe-account", claims=ORG_ADMIN)
    assert account == {
        "linked": True, "stripe_account_id": "acct_1", "charges_enabled": False,
        "details_submitted": False, "requirements_due": [],
    }  # fmt: skip
    # The clinic cannot take payments until Stripe says the account can.
    body = {"clinic_id": "clinic-new", "amount": 5000, "currency": "aud", "description": "x"}
    owner = clinician_claims(clinics="clinic-new")
    assert (
        create(body, call_id="call-9", claims=owner)[1]["error"]["code"]
        == "stripe_account_not_ready"
    )
    event = {
        "id": "evt_acct_1", "type": "account.updated", "created": 100, "account": "acct_1",
        "data": {"object": {"id": "acct_1", "object": "account", "charges_enabled": True,
                            "details_submitted": True, "requirements": {"currently_due": []}}},
    }  # fmt: skip
    world_apply(event)
    assert create(body, call_id="call-9", claims=owner)[0] == 201
    assert world.store.clinic_audit("clinic-new")[-1].action == "stripe_account.updated"


def world_apply(event: dict[str, Any]) -> str:
    applied = stripe_webhook_parts.connect_events().apply(StripeEvent.model_validate(event))
    return applied.outcome.value


def test_connect_events_are_applied_once_and_in_order(world: World) -> None:
    newer = {
        "id": "evt_2", "type": "account.updated", "created": 200, "account": "acct_clinic1",
        "data": {"object": {"id": "acct_clinic1", "object": "account", "charges_enabled": False,
                            "requirements": {"currently_due": ["external_account"]}}},
    }  # fmt: skip
    older = newer | {"id": "evt_1", "created": 100}
    older["data"] = {"object": {"id": "acct_clinic1", "object": "account", "charges_enabled": True}}
    assert world_apply(newer) == "applied"
    assert world_apply(newer) == "duplicate"
    assert world_apply(older) == "stale"
    clinic = world.store.clinics["clinic-1"]
    assert clinic.charges_enabled is False and clinic.requirements_due == ("external_account",)


def test_deauthorization_unlinks_and_open_requests_say_why_they_cannot_be_paid(
    world: World,
) -> None:
    _, created = create()
    event = {
        "id": "evt_deauth", "type": "account.application.deauthorized", "created": 300,
        "account": "acct_clinic1", "data": {"object": {"object": "application", "id": "ca_1"}},
    }  # fmt: skip
    assert world_apply(event) == "applied"
    assert world.store.clinics["clinic-1"].stripe_account_id is None
    status, body = checkout(created["id"], {"email": "p@example.com"})
    assert status == 409 and body["error"]["code"] == "stripe_account_removed"


def test_removing_the_account_keeps_history(world: World) -> None:
    _, created = create()
    status, body = clinic_call("DELETE", "/clinics/clinic-1/stripe-account")
    assert status == 200 and body["linked"] is False
    assert world.store.get(created["id"]) is not None
    assert clinic_call("DELETE", "/clinics/clinic-1/stripe-account")[0] == 409
    assert world.store.clinic_audit("clinic-1")[-1].changes["stripe_account_id"] == (
        "acct_clinic1",
        None,
    )


def report(**query: str) -> dict[str, Any]:
    event = http_event("GET", "/clinics/clinic-1/payments", claims=TEAM_ADMIN)
    event["queryStringParameters"] = query
    return lambda_handler(event, LambdaContext())


def test_payments_report_as_json_and_csv(world: World) -> None:
    start = world.clock.now.isoformat()
    create()
    world.clock.tick(60)
    formula = {"clinic_id": "clinic-1", "amount": 9000, "currency": "aud", "description": "=1+2"}
    create(formula, call_id="call-2")
    end = (world.clock.now.replace(microsecond=0) + timedelta(seconds=1)).isoformat()
    status, body = reply(report(**{"from": start, "to": end}))
    assert status == 200 and [p["amount"] for p in body["payments"]] == [8000, 9000]
    assert reply(report(**{"from": start, "to": start}))[0] == 422  # empty period
    response = report(**{"from": start, "to": end, "format": "csv", "status": "requested"})
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response["body"])))
    assert [r["amount"] for r in rows] == ["8000", "9000"]
    assert rows[1]["description"] == "'=1+2"  # a spreadsheet must not run it as a formula
    assert reply(report(**{"from": start, "to": end, "status": "succeeded"}))[1]["payments"] == []


@pytest.mark.parametrize(
    ("query", "code"),
    [({"from": "yesterday"}, "invalid_date"), ({"status": "paid"}, "invalid_status"),
     ({"from": "2026-02-01", "to": "2026-01-01"}, "invalid_period")],
)  # fmt: skip
def test_bad_report_filters_are_4xx(world: World, query: dict[str, str], code: str) -> None:
    event = http_event("GET", "/clinics/clinic-1/payments", claims=TEAM_ADMIN)
    event["queryStringParameters"] = query
    status, body = reply(lambda_handler(event, LambdaContext()))
    assert status in {400, 422} and body["error"]["code"] == code


def test_other_clinics_and_members_cannot_see_settings(world: World) -> None:
    member = clinician_claims()
    assert clinic_call("GET", "/clinics/clinic-1/settings", claims=member)[0] == 403
    other = clinician_claims(role="team_admin", clinics="clinic-2")
    assert clinic_call("GET", "/clinics/clinic-1/settings", claims=other)[0] == 403
    foreign_org_admin = clinician_claims(role="org_admin", org_id="org-2", clinics="clinic-x")
    assert clinic_call("GET", "/clinics/clinic-1/settings", claims=foreign_org_admin)[0] == 403
    assert isinstance(world.store.clinics["clinic-1"], Clinic)


def test_concurrent_link_calls_create_one_account(world: World) -> None:
    clinic_call("PUT", "/clinics/clinic-new/settings", {"enabled": True}, claims=ORG_ADMIN)
    create = world.connect.create_account
    answers: list[Any] = []

    def racing(clinic_id: str, country: str | None, key: str) -> str:
        # While the first call talks to Stripe, another admin edits the settings (a new
        # version) and presses "Go to Stripe" too.
        if not answers:
            answers.append(None)
            clinic_call("PUT", "/clinics/clinic-new/settings", {"legal_name": "Harbour"},
                        claims=ORG_ADMIN)  # fmt: skip
            answers.append(
                clinic_call("POST", "/clinics/clinic-new/stripe-account/link", claims=ORG_ADMIN)
            )
        return create(clinic_id, country, key)

    world.connect.create_account = racing  # type: ignore[method-assign]
    first = clinic_call("POST", "/clinics/clinic-new/stripe-account/link", claims=ORG_ADMIN)
    assert first[0] == 200 and answers[1][0] == 200
    assert first[1]["url"] == answers[1][1]["url"]
    assert [key for _, key in world.connect.created] == ["clinic:clinic-new:account:1"]
    assert world.store.clinics["clinic-new"].stripe_account_id == "acct_1"
    linked = [a for a in world.store.clinic_audit("clinic-new") if a.action.endswith("linked")]
    assert len(linked) == 1


def test_a_stray_accounts_events_never_touch_the_clinic(world: World) -> None:
    # An account the clinic is not linked to (replaced, or created by a lost race) still
    # points at the clinic.
    world.store.accounts["acct_stray"] = "clinic-1"
    event = {
        "id": "evt_stray", "type": "account.updated", "created": 500, "account": "acct_stray",
        "data": {"object": {"id": "acct_stray", "object": "account", "charges_enabled": False}},
    }  # fmt: skip
    assert world_apply(event) == "ignored"
    clinic = world.store.clinics["clinic-1"]
    assert clinic.charges_enabled is True and clinic.stripe_account_id == "acct_clinic1"
    assert world.store.clinic_audit("clinic-1") == [] and "evt_stray" not in world.store.events


def test_relinking_after_removal_claims_a_new_key(world: World) -> None:
    clinic_call("DELETE", "/clinics/clinic-1/stripe-account")
    version = world.store.clinics["clinic-1"].version
    assert clinic_call("POST", "/clinics/clinic-1/stripe-account/link")[0] == 200
    assert world.connect.created == [("clinic-1", f"clinic:clinic-1:account:{version}")]


def test_a_patient_token_is_refused_without_reading_the_patient_token_key(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """clinic_admin is not granted the patient token key (infra/stack.py): a patient's
    token reaching it must be a 403, not a read of that secret (which would be a 500)."""
    from callpay import runtime  # noqa: PLC0415
    from tests.support.fakes import tokens  # noqa: PLC0415

    patient_token = tokens().mint("call-1", "clinic-1", world.clock())[0]

    def secret_read(*args: object) -> object:
        raise AssertionError("clinic_admin read the patient token key")

    monkeypatch.setattr(runtime, "patient_tokens", secret_read)
    monkeypatch.setattr(runtime, "token_key", secret_read)
    for method, path in (
        ("GET", "/clinics/clinic-1/settings"),
        ("GET", "/clinics/clinic-1/payments"),
    ):
        response = lambda_handler(http_event(method, path, token=patient_token), LambdaContext())
        status, body = reply(response)
        assert (status, body["error"]["code"]) == (403, "clinician_only"), path
