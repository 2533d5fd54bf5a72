"""What the pay page and panels need from the API: the patient's link, the clinic's name at
checkout, and the receipt number once paid."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from callpay import runtime
from callpay.config import ConfigurationError, Settings
from callpay.domain.stripe_objects import StripeEvent
from request_payment.handler import lambda_handler
from tests.support.events import LambdaContext, clinician_claims, http_event, reply
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World

CLINICIAN = clinician_claims()
PAGE = "https://pay.callpay.test/pay/"


def call(event: dict[str, Any]) -> tuple[int, Any]:
    return reply(lambda_handler(event, LambdaContext()))


def patient_access(call_id: str = "call-1") -> dict[str, Any]:
    status, body = call(
        http_event(
            "POST", f"/calls/{call_id}/patient-access", {"clinic_id": "clinic-1"}, claims=CLINICIAN
        )
    )
    assert status == 201, body
    return dict(body)


def create_request() -> dict[str, Any]:
    body = {"clinic_id": "clinic-1", "amount": 8000, "currency": "aud", "description": "Visit"}
    status, created = call(
        http_event("POST", "/calls/call-1/payment-requests", body, claims=CLINICIAN)
    )
    assert status == 201, created
    return dict(created)


def test_patient_access_links_the_pay_page_with_the_token_in_the_fragment(world: World) -> None:
    world.service.patient_page_url = PAGE
    access = patient_access("call-1:a.b")
    link = urlsplit(access["patient_url"])
    assert f"{link.scheme}://{link.netloc}{link.path}" == PAGE
    assert link.query == ""  # a query string would reach the server's access logs
    assert parse_qs(link.fragment) == {"call_id": ["call-1:a.b"], "token": [access["token"]]}


def test_the_token_in_the_link_opens_that_call(world: World) -> None:
    world.service.patient_page_url = PAGE
    access = patient_access()
    token = parse_qs(urlsplit(access["patient_url"]).fragment)["token"][0]
    status, body = call(http_event("GET", "/calls/call-1/payment-requests", token=token))
    assert status == 200 and body == {"payment_requests": []}


def test_without_a_pay_page_patient_access_has_no_link(world: World) -> None:
    access = patient_access()
    assert access["patient_url"] is None and access["token"]


def test_the_pay_page_is_read_from_the_environment() -> None:
    settings = Settings.from_env({"TABLE_NAME": "t", "PATIENT_PAGE_URL": PAGE})
    assert settings.patient_page_url == PAGE
    assert Settings.from_env({"TABLE_NAME": "t"}).patient_page_url is None


def test_a_pay_page_that_is_not_a_url_is_refused_at_start() -> None:
    with pytest.raises(ConfigurationError, match="PATIENT_PAGE_URL"):
        Settings.from_env({"TABLE_NAME": "t", "PATIENT_PAGE_URL": "pay page"})


def test_checkout_names_the_clinic_being_paid(world: World) -> None:
    world.store.clinics["clinic-1"] = world.store.clinics["clinic-1"].model_copy(
        update={"legal_name": "Harbour Telehealth Pty Ltd"}
    )
    created = create_request()
    token = patient_access()["token"]
    status, body = call(
        http_event(
            "POST",
            f"/payment-requests/{created['id']}/checkout",
            {"email": "p@example.com"},
            token=token,
        )
    )
    assert status == 200, body
    assert body["clinic_name"] == "Harbour Telehealth Pty Ltd"


def test_a_paid_request_carries_its_receipt_number(world: World) -> None:
    created = create_request()
    assert created["receipt_number"] is None
    event = intent_event("payment_intent.succeeded", "pi_1", created["id"])
    world.events.apply(StripeEvent.model_validate(event))
    status, body = call(http_event("GET", f"/payment-requests/{created['id']}", claims=CLINICIAN))
    assert status == 200 and body["status"] == "succeeded"
    stored = world.store.get(created["id"])
    assert stored is not None
    # The number the receipt itself (email and page) shows.
    receipt = runtime.receipt_book().receipt_of(stored, world.store.get_clinic("clinic-1"))
    assert body["receipt_number"] == receipt.receipt_number
    assert body["receipt_number"].startswith("R-")
