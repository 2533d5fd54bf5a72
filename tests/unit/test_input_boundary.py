"""The inputs that answered 500 (issues 10 and 17), each as a named regression: through the
real handlers, with the route's rightful caller, so only the input is wrong. A refused input
answers 4xx with the JSON envelope and changes nothing; a fault of ours answers 500
`internal_error` with an error id that is also in the log line."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from callpay.domain.errors import BadRequest
from callpay.domain.payment_request import PaymentRequest
from callpay.http_api import path_id
from tests.support.events import LambdaContext, http_event, reply
from tests.unit.conftest import World
from tests.unit.test_authorization_matrix import (
    CLINICIANS,
    ROUTES,
    RouteCase,
    handler_for,
    prepared,
)

BODY_ROUTES = [case for case in ROUTES if case.body is not None and case.who != "stripe"]
GET_ROUTES = [case for case in ROUTES if case.key.startswith("GET ")]
# 60 KB: under the 64 KiB body limit, far over any parser's recursion limit.
DEEP = "[" * 30_000 + "]" * 30_000


def state(world: World) -> Any:
    """Everything a request could change: the store, what was sent to Stripe, queued, pushed."""
    gateway = {k: v for k, v in vars(world.gateway).items() if k != "fail_with"}
    return copy.deepcopy(
        (vars(world.store), gateway, world.queue.jobs, world.notifier.pushed, world.connect.created)
    )


def caller_of(case: RouteCase, ids: dict[str, str]) -> dict[str, Any]:
    """Credentials of someone allowed to call this route for clinic-1 / call-1."""
    if case.who == "patient":
        return {"token": ids["patient"]}
    if case.who == "stripe":
        return {}
    role = {"admin": "team_admin", "org_admin": "org_admin"}.get(case.who, "team_member")
    return {"claims": CLINICIANS[f"{role}/own"]}


def path_of(case: RouteCase, ids: dict[str, str], path_id: str | None = None) -> str:
    _, template = case.key.split(" ")
    return (
        template.replace("{call_id}", path_id or "call-1")
        .replace("{clinic_id}", path_id or "clinic-1")
        .replace("{id}", path_id or ids[case.target])
    )


def send(
    case: RouteCase,
    ids: dict[str, str],
    *,
    raw_body: str | None = None,
    base64_body: bool = False,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    path_id: str | None = None,
) -> tuple[int, Any]:
    """The route's handler answering one request; (status, JSON body or the text)."""
    method = case.key.split(" ")[0]
    event = http_event(
        method, path_of(case, ids, path_id), raw_body=raw_body, base64_body=base64_body,
        headers={"idempotency-key": "key-1"} | (headers or {}), **caller_of(case, ids),
    )  # fmt: skip
    if query is not None:
        event["queryStringParameters"] = query
    response = handler_for(case.key)(event, LambdaContext())
    if response.get("headers", {}).get("Content-Type", "").startswith("application/json"):
        return reply(response)
    return response["statusCode"], response.get("body")


def assert_refused(
    answer: tuple[int, Any], status: int, code: str, world: World, before: Any
) -> None:
    got, body = answer
    assert (got, body["error"]["code"]) == (status, code), body
    assert set(body["error"]) == {"code", "message"}
    assert state(world) == before


@pytest.mark.parametrize("case", BODY_ROUTES, ids=lambda c: f"{c.key} {c.variant}".strip())
def test_a_deeply_nested_body_is_400_not_a_recursion_error(world: World, case: RouteCase) -> None:
    ids = prepared(world)
    before = state(world)
    assert_refused(send(case, ids, raw_body=DEEP), 400, "malformed_json", world, before)
    nested_objects = '{"a":' * 10_000 + "1" + "}" * 10_000  # 60 KB
    assert_refused(send(case, ids, raw_body=nested_objects), 400, "malformed_json", world, before)


@pytest.mark.parametrize("case", BODY_ROUTES, ids=lambda c: f"{c.key} {c.variant}".strip())
def test_an_integer_of_5001_digits_anywhere_in_a_body_is_4xx(world: World, case: RouteCase) -> None:
    ids = prepared(world)
    before = state(world)
    huge = "9" * 5001
    for raw in (f'{{"amount": {huge}}}', f'{{"x": [1, {{"y": -{huge}}}]}}',
                json.dumps(case.body)[:-1] + f', "extra": {huge}}}'):  # fmt: skip
        assert_refused(send(case, ids, raw_body=raw), 400, "malformed_json", world, before)
    # 1,000 digits is JSON: the model refuses it (an unknown field, or a too large amount)
    status, _ = send(case, ids, raw_body=f'{{"amount": {"9" * 1000}}}')
    assert status == 422
    assert state(world) == before


@pytest.mark.parametrize(
    "body",
    [{"maximum_amount": 10**39}, {"minimum_amount": 10**300}, {"maximum_amount": 100_000_000}],
)
def test_clinic_limits_above_stripes_maximum_are_422_not_a_decimal_overflow(
    world: World, body: dict[str, int]
) -> None:
    (case,) = [c for c in ROUTES if c.key == "PUT /clinics/{clinic_id}/settings" and not c.variant]
    ids = prepared(world)
    before = state(world)
    answer = send(case, ids, raw_body=json.dumps(body))
    assert_refused(answer, 422, "amount_too_large", world, before)
    assert "99999999" in answer[1]["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"clinic_id": "clinic-1", "amount": 10**20, "currency": "aud", "description": "x"},
        {"clinic_id": "clinic-1", "amount": 100, "currency": "aud", "description": "x",
         "line_items": [{"description": "a", "amount": 10**20}]},
    ],
)  # fmt: skip
def test_every_amount_field_has_stripes_upper_bound(world: World, body: dict[str, Any]) -> None:
    (case,) = [c for c in ROUTES if c.key == "POST /calls/{call_id}/payment-requests"]
    ids = prepared(world)
    before = state(world)
    assert_refused(
        send(case, ids, raw_body=json.dumps(body)), 422, "amount_too_large", world, before
    )
    for key, raw in (("POST /payment-requests/{id}/capture", '{"amount": 100000000}'),
                     ("POST /payment-requests/{id}/refunds",
                      '{"amount": 100000000, "reason": "duplicate"}')):  # fmt: skip
        (other,) = [c for c in ROUTES if c.key == key]
        assert_refused(send(other, ids, raw_body=raw), 422, "amount_too_large", world, before)


@pytest.mark.parametrize(
    "query",
    [{"to": "9999-12-31T23:59:59-14:00"}, {"to": "0001-01-01"},
     {"from": "9999-12-31T23:59:59-14:00"}, {"from": "0001-01-01T00:00:00+01:00"},
     {"from": "1999-12-31"}, {"to": "2101-01-01"}, {"from": "2026-13-01"}, {"to": "x" * 5000}],
)  # fmt: skip
def test_report_dates_outside_2000_to_2100_are_400_not_an_overflow(
    world: World, query: dict[str, str]
) -> None:
    (case,) = [c for c in ROUTES if c.key == "GET /clinics/{clinic_id}/payments"]
    ids = prepared(world)
    status, body = send(case, ids, query=query)
    assert (status, body["error"]["code"]) == (400, "invalid_date"), body
    assert next(iter(query)) in body["error"]["message"]


def test_our_own_data_failing_validation_is_a_500_with_an_error_id_in_the_answer_and_the_log(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: any ValidationError used to be answered 422 invalid_request, as if the
    client had sent something wrong."""
    (case,) = [c for c in ROUTES if c.key == "GET /payment-requests/{id}"]
    ids = prepared(world)

    def corrupted(payment_request_id: str) -> PaymentRequest:
        return PaymentRequest.model_validate({"id": payment_request_id, "amount": "lots"})

    monkeypatch.setattr(world.store, "get", corrupted)
    status, body = send(case, ids)
    assert status == 500 and body["error"]["code"] == "internal_error"
    error_id = body["error"]["error_id"]
    assert error_id in body["error"]["message"]
    (logged,) = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert logged.levelname == "ERROR" and logged.error_id == error_id  # type: ignore[attr-defined]
    assert logged.exc_info and logged.exc_info[0] is ValidationError


def test_a_validation_error_raised_while_handling_valid_input_is_ours(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    (case,) = [c for c in ROUTES if c.key == "POST /calls/{call_id}/payment-requests"]
    ids = prepared(world)

    def broken(*_: Any) -> None:
        raise ValidationError.from_exception_data("Intent", [])

    monkeypatch.setattr(world.gateway, "create_intent", broken)
    before = dict(world.store.requests)
    status, body = send(case, ids, raw_body=json.dumps(case.body))
    assert status == 500 and body["error"]["code"] == "internal_error"
    assert world.store.requests == before


@pytest.mark.parametrize(
    "body",
    [{"enabled": None}, {"default_currency": None}, {"time_zone": None},
     {"share_description_with_stripe": None}],
)  # fmt: skip
def test_a_setting_that_cannot_be_cleared_is_422_and_changes_nothing(
    world: World, body: dict[str, Any]
) -> None:
    (case,) = [c for c in ROUTES if c.key == "PUT /clinics/{clinic_id}/settings" and c.variant]
    ids = prepared(world)
    before = state(world)
    answer = send(case, ids, raw_body=json.dumps(body))
    assert_refused(answer, 422, "invalid_request", world, before)
    assert next(iter(body)) in answer[1]["error"]["message"]


@pytest.mark.parametrize("zone", ["Australia", "Etc", "..", "/etc/passwd", "zone.tab", "UTC\n"])
def test_a_time_zone_that_is_not_an_iana_name_is_422(world: World, zone: str) -> None:
    """Regression: "Australia" (a folder of the time zone database) raised IsADirectoryError."""
    (case,) = [c for c in ROUTES if c.key == "PUT /clinics/{clinic_id}/settings" and not c.variant]
    ids = prepared(world)
    before = state(world)
    answer = send(case, ids, raw_body=json.dumps({"time_zone": zone}))
    assert_refused(answer, 422, "unknown_time_zone", world, before)


@pytest.mark.parametrize("key", ["k" * 201, "key with spaces", "ключ", "a\tb", "\x00", "key\n"])
def test_an_idempotency_key_that_cannot_be_a_stripe_key_is_400(world: World, key: str) -> None:
    ids = prepared(world)
    before = state(world)
    for route in ("POST /calls/{call_id}/payment-requests", "POST /payment-requests/{id}/refunds"):
        (case,) = [c for c in ROUTES if c.key == route]
        answer = send(case, ids, raw_body=json.dumps(case.body), headers={"idempotency-key": key})
        assert_refused(answer, 400, "invalid_idempotency_key", world, before)


@pytest.mark.parametrize(
    ("raw", "code"),
    [("[1, 2]", "malformed_json"), ('"text"', "malformed_json"), ("{", "malformed_json"),
     ('{"a": 1} trailing', "malformed_json"), ('{"description": "\\ud800"}', "malformed_json")],
)  # fmt: skip
def test_a_body_that_is_not_a_json_object_is_400(world: World, raw: str, code: str) -> None:
    (case,) = [c for c in ROUTES if c.key == "POST /calls/{call_id}/payment-requests"]
    ids = prepared(world)
    before = state(world)
    assert_refused(send(case, ids, raw_body=raw), 400, code, world, before)


@pytest.mark.parametrize("value", ["call-1\n", "", "a" * 129, "call 1", "call/1", "\u0441all"])
def test_a_path_id_outside_the_id_alphabet_is_400(value: str) -> None:
    with pytest.raises(BadRequest) as refused:
        path_id(value, "call_id")
    assert refused.value.code == "invalid_id"
