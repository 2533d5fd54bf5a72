"""The clinic's receipt details come from one model: settings in and out, the details an
update may clear, the stored clinic and the receipt all have exactly its fields."""

from __future__ import annotations

import pytest

from callpay import runtime
from callpay.api_models import ClinicSettingsIn, ClinicSettingsOut
from callpay.domain.clinic import Clinic
from callpay.domain.payment_request import Status
from callpay.domain.receipt_details import RECEIPT_DETAILS
from callpay.domain.stripe_objects import StripeEvent
from callpay.logic.clinics import CLEARABLE
from callpay.logic.receipts import clinic_details
from callpay.receipts.receipt import ClinicDetails
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World
from tests.unit.test_clinic_admin import clinic_call
from tests.unit.test_request_payment_api import create

DETAILS = {
    "legal_name": "Harbour Health Pty Ltd",
    "address": "1 Harbour St\nSydney NSW 2000",
    "tax_id": "51 824 753 556",
    "tax_id_label": "ABN",
    "provider_name": "Dr Sam Lee",
    "provider_number": "2426711A",
    "tax_statement": "GST-free health service",
}


def test_every_place_has_exactly_the_receipt_details() -> None:
    assert set(DETAILS) == set(RECEIPT_DETAILS)
    for model in (ClinicSettingsIn, ClinicSettingsOut, Clinic, ClinicDetails):
        assert set(RECEIPT_DETAILS) <= set(model.model_fields), model
    assert set(ClinicDetails.model_fields) == {*RECEIPT_DETAILS, "time_zone"}
    assert set(RECEIPT_DETAILS) <= set(CLEARABLE)


def test_details_put_in_settings_are_read_back_and_reach_the_receipt(world: World) -> None:
    status, body = clinic_call("PUT", "/clinics/clinic-1/settings", DETAILS)
    assert status == 200 and {k: body[k] for k in DETAILS} == DETAILS
    assert (
        clinic_details(world.store.clinics["clinic-1"]).model_dump(include=set(DETAILS)) == DETAILS
    )
    _, created = create()
    request = world.store.requests[created["id"]]
    paid = intent_event("payment_intent.succeeded", str(request.payment_intent_id), request.id)
    world.events.apply(StripeEvent.model_validate(paid))
    assert world.store.requests[request.id].status is Status.SUCCEEDED
    text = runtime.receipt_book().rendered(world.store.requests[request.id], choice="en").text
    for value in ("Harbour Health Pty Ltd", "51 824 753 556", "2426711A", "GST-free"):
        assert value in text


@pytest.mark.parametrize("name", RECEIPT_DETAILS)
def test_an_empty_string_clears_each_detail(world: World, name: str) -> None:
    clinic_call("PUT", "/clinics/clinic-1/settings", DETAILS)
    status, body = clinic_call("PUT", "/clinics/clinic-1/settings", {name: ""})
    assert status == 200 and body[name] is None
    assert getattr(world.store.clinics["clinic-1"], name) is None
    assert getattr(clinic_details(world.store.clinics["clinic-1"]), name) is None


def test_a_detail_over_500_characters_is_refused(world: World) -> None:
    status, body = clinic_call("PUT", "/clinics/clinic-1/settings", {"legal_name": "x" * 501})
    assert status == 422 and "legal_name" in body["error"]["message"]
