"""The payment request routes, through the real handler, over in-memory ports."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from callpay.domain.errors import PaymentDeclined, UpstreamUnavailable
from callpay.domain.payment_request import Status
from request_payment.handler import lambda_handler
from tests.support.events import LambdaContext, clinician_claims, http_event, reply
from tests.unit.conftest import World

CLINICIAN = clinician_claims()
OTHER_CLINIC = clinician_claims(sub="clin-2", clinics="clinic-2")
BODY = {"clinic_id": "clinic-1", "amount": 8000, "currency": "AUD", "description": "Consultation"}


def call(event: dict[str, Any]) -> tuple[int, Any]:
    return reply(lambda_handler(event, LambdaContext()))


def create(body: Any = BODY, call_id: str = "call-1", **kw: Any) -> tuple[int, Any]:
    kw.setdefault("claims", CLINICIAN)
    return call(http_event("POST", f"/calls/{call_id}/payment-requests", body, **kw))


def patient_token(call_id: str = "call-1") -> str:
    status, body = call(
        http_event(
            "POST", f"/calls/{call_id}/patient-access", {"clinic_id": "clinic-1"}, claims=CLINICIAN
        )
    )
    assert status == 201
    return str(body["token"])


def checkout(pr_id: str, body: Any, token: str | None = None, **kw: Any) -> tuple[int, Any]:
    if token is None and "claims" not in kw:
        token = patient_token()
    return call(http_event("POST", f"/payment-requests/{pr_id}/checkout", body, token=token, **kw))


def test_create_returns_201_and_stores_the_request(world: World) -> None:
    status, body = create()
    assert status == 201
    assert body["status"] == "requested"
    assert body["amount"] == 8000 and body["currency"] == "aud"
    stored = world.store.get(body["id"])
    assert stored is not None and stored.payment_intent_id == "pi_1"
    assert stored.stripe_account == "acct_clinic1"
    assert [a.action for a in world.store.audit_trail(body["id"])] == ["created"]
    assert "client_secret" not in body and "receipt_email" not in body


def test_description_is_not_sent_to_stripe_unless_the_clinic_opted_in(world: World) -> None:
    create()
    assert world.gateway.created[0]["description"] is None
    world.store.clinics["clinic-1"] = world.store.clinics["clinic-1"].model_copy(
        update={"share_description_with_stripe": True}
    )
    create(call_id="call-2")
    assert world.gateway.created[1]["description"] == "Consultation"


def test_same_idempotency_key_returns_the_same_request_and_one_intent(world: World) -> None:
    headers = {"idempotency-key": "abc-123"}
    first = create(headers=headers)
    again = create(headers=headers)
    assert first[0] == again[0] == 201
    assert first[1]["id"] == again[1]["id"]
    assert len(world.gateway.created) == 1
    assert len(world.store.requests) == 1


def test_idempotency_key_reused_with_another_body_is_refused(world: World) -> None:
    create(headers={"idempotency-key": "k"})
    status, body = create(BODY | {"amount": 9000}, headers={"idempotency-key": "k"})
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"
    assert len(world.store.requests) == 1


def test_unicode_description_is_kept_exactly(world: World) -> None:
    text = "Consultation — 診察 🩺 <b>x</b>"
    status, body = create(BODY | {"description": text})
    assert status == 201
    assert world.store.get(body["id"]).description == text  # type: ignore[union-attr]


VALID = {"clinic_id": "clinic-1", "amount": 8000, "currency": "aud", "description": "x"}


def body_with(**changes: Any) -> str:
    return json.dumps({k: v for k, v in (VALID | changes).items() if v is not ...})


BAD_BODIES = [
    ("not json", 400, "malformed_json"),
    ("[1, 2]", 400, "malformed_json"),
    ("null", 400, "malformed_json"),
    (body_with(amount=80.5), 422, None),
    (body_with(amount="8000"), 422, None),
    (body_with(amount=True), 422, None),
    (body_with(amount=-100), 422, None),
    (body_with(amount=0), 422, "amount_too_small"),
    (body_with(amount=1e30), 422, None),
    (body_with(amount=10**11), 422, "amount_too_large"),
    (body_with(currency="zzz"), 422, "unsupported_currency"),
    (body_with(currency="dollars"), 422, None),
    (body_with(description=""), 422, None),
    (body_with(description="   "), 422, None),
    (body_with(description="x" * 501), 422, None),
    (body_with(description=...), 422, None),
    (body_with(unexpected=1), 422, None),
    (body_with(capture_method="later"), 422, None),
    (body_with(line_items=[{"description": "a", "amount": 100}]), 422, "line_items_mismatch"),
    (body_with(description="x" * 70_000), 413, "body_too_large"),
]


@pytest.mark.parametrize(("raw", "status", "code"), BAD_BODIES)
def test_bad_input_gets_a_clear_4xx_and_changes_nothing(
    world: World, raw: str, status: int, code: str | None
) -> None:
    got, body = call(
        http_event("POST", "/calls/call-1/payment-requests", raw_body=raw, claims=CLINICIAN)
    )
    assert got == status
    assert set(body["error"]) == {"code", "message"}
    if code:
        assert body["error"]["code"] == code
    assert world.store.requests == {}
    assert world.gateway.created == []
    assert world.store.calls == {}


def test_validation_message_names_the_field_without_echoing_input(world: World) -> None:
    raw = body_with(amount="secret-ish")
    _, body = call(
        http_event("POST", "/calls/call-1/payment-requests", raw_body=raw, claims=CLINICIAN)
    )
    assert "amount" in body["error"]["message"]
    assert "secret-ish" not in body["error"]["message"]


def test_invalid_call_id_in_path_is_400(world: World) -> None:
    status, body = create(call_id="call%20one")
    assert status == 400 and body["error"]["code"] == "invalid_id"


def test_without_credentials_is_401(world: World) -> None:
    status, body = create(claims={})
    assert status == 401 and body["error"]["code"] == "missing_token"


def test_clinician_of_another_clinic_is_403(world: World) -> None:
    status, body = create(BODY | {"clinic_id": "clinic-2"}, claims=CLINICIAN)
    assert status == 403 and body["error"]["code"] == "not_your_clinic"
    assert world.store.requests == {}


def test_call_bound_to_one_clinic_refuses_another_clinic_whatever_it_sends(world: World) -> None:
    assert create()[0] == 201
    status, body = create(BODY | {"clinic_id": "clinic-2"}, claims=OTHER_CLINIC)
    assert status == 403 and body["error"]["code"] == "call_of_another_clinic"
    assert len(world.store.requests) == 1


@pytest.mark.parametrize(
    ("update", "code"),
    [
        ({"enabled": False}, "payments_not_enabled"),
        ({"stripe_account_id": None}, "stripe_account_not_linked"),
        ({"charges_enabled": False}, "stripe_account_not_ready"),
    ],
)
def test_clinic_that_cannot_take_payments_is_409(
    world: World, update: dict[str, Any], code: str
) -> None:
    world.store.clinics["clinic-1"] = world.store.clinics["clinic-1"].model_copy(update=update)
    status, body = create()
    assert status == 409 and body["error"]["code"] == code
    assert world.gateway.created == []


def test_stripe_unavailable_is_503_and_a_retry_with_the_key_succeeds(world: World) -> None:
    world.gateway.fail_with = UpstreamUnavailable("stripe_unavailable", "busy")
    headers = {"idempotency-key": "retry-1"}
    status, body = create(headers=headers)
    assert status == 503 and body["error"]["code"] == "stripe_unavailable"
    status, body = create(headers=headers)
    assert status == 201
    assert len(world.store.requests) == 1 and len(world.gateway.created) == 1


def test_card_error_is_402_with_the_decline_code(world: World) -> None:
    create()
    pr_id = next(iter(world.store.requests))
    world.gateway.fail_with = PaymentDeclined(
        "insufficient_funds", "Your card has insufficient funds."
    )
    status, body = checkout(pr_id, {"email": "p@example.com"})
    assert status == 402 and body["error"]["code"] == "insufficient_funds"


def test_unexpected_fault_is_a_json_500(world: World) -> None:
    world.gateway.fail_with = RuntimeError("boom")
    status, body = create()
    assert status == 500 and body["error"]["code"] == "internal_error"


def test_unknown_route_is_a_json_404(world: World) -> None:
    status, body = call(http_event("GET", "/nope", claims=CLINICIAN))
    assert status == 404 and body["error"]["code"] == "not_found"


def test_patient_sees_their_call_and_nothing_else(world: World) -> None:
    _, created = create()
    create(BODY | {"clinic_id": "clinic-1"}, call_id="call-2")
    token = patient_token("call-1")
    status, body = call(http_event("GET", "/calls/call-1/payment-requests", token=token))
    assert status == 200 and [r["id"] for r in body["payment_requests"]] == [created["id"]]
    assert call(http_event("GET", "/calls/call-2/payment-requests", token=token))[0] == 403
    other_id = next(r.id for r in world.store.requests.values() if r.call_id == "call-2")
    assert call(http_event("GET", f"/payment-requests/{other_id}", token=token))[0] == 404
    assert call(http_event("GET", f"/payment-requests/{created['id']}", token=token))[0] == 200


def test_list_is_newest_first(world: World) -> None:
    ids = []
    for amount in (1000, 2000, 3000):
        world.clock.tick()
        ids.append(create(BODY | {"amount": amount})[1]["id"])
    _, body = call(http_event("GET", "/calls/call-1/payment-requests", claims=CLINICIAN))
    assert [r["id"] for r in body["payment_requests"]] == ids[::-1]


def test_expired_or_tampered_patient_token_is_401(world: World) -> None:
    create()
    token = patient_token()
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    status, body = call(http_event("GET", "/calls/call-1/payment-requests", token=tampered))
    assert status == 401 and body["error"]["code"] == "invalid_token"
    expired = world.service.tokens.mint("call-1", "clinic-1", world.clock.now - timedelta(hours=5))[
        0
    ]
    status, body = call(http_event("GET", "/calls/call-1/payment-requests", token=expired))
    assert status == 401 and body["error"]["code"] == "token_expired"


def test_patient_access_for_a_call_of_another_clinic_is_403(world: World) -> None:
    create()
    status, _ = call(
        http_event(
            "POST", "/calls/call-1/patient-access", {"clinic_id": "clinic-2"}, claims=OTHER_CLINIC
        )
    )
    assert status == 403


def test_checkout_returns_the_secret_to_the_patient_and_stores_the_email(world: World) -> None:
    _, created = create()
    status, body = checkout(created["id"], {"email": "patient@example.com", "locale": "fr-FR"})
    assert status == 200
    assert body == {
        "client_secret": "pi_1_secret_x",
        "publishable_key": "pk_test_unit",
        "stripe_account": "acct_clinic1",
        "clinic_name": None,
        "no_show_policy": None,
        "can_save_card": False,
        "save_card": False,
    }
    stored = world.store.get(created["id"])
    assert stored is not None and stored.receipt_email == "patient@example.com"
    assert stored.locale == "fr-FR"
    assert world.store.audit_trail(created["id"])[-1].action == "checkout"


@pytest.mark.parametrize(
    "body", [{"email": "not-an-email"}, {}, {"email": "a@b.co", "locale": "<script>"}]
)
def test_checkout_with_bad_input_is_422(world: World, body: dict[str, Any]) -> None:
    _, created = create()
    status, _ = checkout(created["id"], body)
    assert status == 422
    assert world.store.get(created["id"]).receipt_email is None  # type: ignore[union-attr]


def test_clinician_cannot_checkout(world: World) -> None:
    _, created = create()
    status, body = checkout(created["id"], {"email": "a@b.co"}, claims=CLINICIAN)
    assert status == 403 and body["error"]["code"] == "patient_only"


def test_checkout_of_a_paid_request_is_409(world: World) -> None:
    _, created = create()
    stored = world.store.requests[created["id"]]
    world.store.requests[created["id"]] = stored.model_copy(update={"status": Status.SUCCEEDED})
    status, body = checkout(created["id"], {"email": "a@b.co"})
    assert status == 409 and body["error"]["code"] == "already_paid"


def test_cancel_before_payment(world: World) -> None:
    _, created = create()
    status, body = call(
        http_event("POST", f"/payment-requests/{created['id']}/cancel", claims=CLINICIAN)
    )
    assert status == 200 and body["status"] == "canceled"
    assert world.gateway.canceled == ["pi_1"]
    trail = world.store.audit_trail(created["id"])
    assert trail[-1].to_status is Status.CANCELED and trail[-1].cause.subject == "clin-1"
    status, body = call(
        http_event("POST", f"/payment-requests/{created['id']}/cancel", claims=CLINICIAN)
    )
    assert status == 409 and body["error"]["code"] == "not_cancelable"


def test_patient_cannot_cancel(world: World) -> None:
    _, created = create()
    status, _ = call(
        http_event("POST", f"/payment-requests/{created['id']}/cancel", token=patient_token())
    )
    assert status == 403
    assert world.store.get(created["id"]).status is Status.REQUESTED  # type: ignore[union-attr]


def test_a_fraction_of_a_whole_unit_currency_is_refused_before_stripe(world: World) -> None:
    world.store.clinics["clinic-1"] = world.store.clinics["clinic-1"].model_copy(
        update={"default_currency": "isk"}
    )
    status, body = create(BODY | {"currency": "ISK", "amount": 1_234_550})
    assert status == 422 and body["error"]["code"] == "whole_units_only"
    assert "multiple of 100" in body["error"]["message"]
    assert world.gateway.created == [] and world.store.requests == {}
    assert create(BODY | {"currency": "ISK", "amount": 1_234_500})[0] == 201
