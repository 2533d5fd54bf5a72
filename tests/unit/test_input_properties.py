"""Properties of the input boundary over EVERY HTTP route (the authorization matrix's table,
itself checked against the API's routes): bodies, query strings, headers and path ids of
arbitrary shape, depth and size, sent by the route's rightful caller to a fresh world.

Never a 5xx; a refusal is a 4xx with the JSON envelope and changes nothing (the store, what
was sent to Stripe, queued or pushed). Examples per property: `max_examples` below;
HYPOTHESIS_EXAMPLES=n runs n each (e.g. for a longer run before a release).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callpay.api_models import (
    CaptureIn,
    CheckoutIn,
    ClinicSettingsIn,
    PatientAccessIn,
    PaymentRequestIn,
    RefundIn,
)
from tests.unit.conftest import build_world
from tests.unit.test_authorization_matrix import ROUTES, RouteCase, prepared
from tests.unit.test_input_boundary import send, state

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "150"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CASE_IDS = {"ids": lambda c: f"{c.key} {c.variant}".strip()}

# -- strategies ---------------------------------------------------------------------------

BODY_MODELS = (PaymentRequestIn, CaptureIn, RefundIn, CheckoutIn, PatientAccessIn, ClinicSettingsIn)
FIELDS = sorted({name for model in BODY_MODELS for name in model.model_fields})
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.sampled_from([0, -1, 1, 50, 99_999_999, 100_000_000, 2**53 + 1, 2**63, 10**39, 10**300]),
    st.floats(allow_nan=False, allow_infinity=False),
)
texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["clinic-1", "aud", "AUD", "jpy", "zzz", "manual", "automatic",
                     "duplicate", "p@example.com", "fr-FR", "Australia/Sydney", "Australia",
                     "", " ", "\x00", "=1+2", "x" * 600]),
)  # fmt: skip
json_value = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)
# Objects with the contract's own field names, so values reach the models' checks.
objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), json_value, max_size=8)


def digits_in(field_and_n: tuple[str, int]) -> str:
    field, n = field_and_n
    return f'{{"{field}": {"9" * n}}}'


raw_bodies = st.one_of(
    objects.map(json.dumps),
    json_value.map(json.dumps),
    st.text(max_size=200),
    st.integers(0, 40_000).map(lambda n: "[" * n + "]" * n),
    st.integers(0, 12_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.tuples(st.sampled_from(FIELDS), st.integers(1, 8000)).map(digits_in),
    st.integers(60_000, 70_000).map(lambda n: json.dumps({"description": "x" * n})),
    st.sampled_from(['{"description": "\\ud800"}', '{"a": 1}{', "\ufeff{}", "{}", "null"]),
)
binary_bodies = st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())

moments = st.one_of(
    st.dates().map(str),
    st.datetimes().map(lambda d: d.isoformat()),
    st.tuples(st.datetimes(), st.integers(-14 * 60, 14 * 60)).map(
        lambda p: f"{p[0].isoformat()}{'+' if p[1] >= 0 else '-'}"
        f"{abs(p[1]) // 60:02d}:{abs(p[1]) % 60:02d}"
    ),
    st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01", "2026-12-01", "2026-W48-1",
                     "20261201", "2026-12-01T10:00:00Z", "yesterday", ""]),
)  # fmt: skip
query_values = st.one_of(
    moments,
    st.sampled_from(["csv", "json", "xml", "succeeded", "requested", "paid", "fr", "zz-ZZ"]),
    st.text(max_size=100),
)
queries = st.dictionaries(
    st.sampled_from(["from", "to", "status", "format", "locale", "x"]) | st.text(max_size=8),
    query_values,
    max_size=5,
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "idempotency-key": st.text(max_size=250) | st.uuids().map(str),
        "accept-language": st.text(max_size=100)
        | st.sampled_from(["fr-CH, fr;q=0.9, en;q=0.8", "*;q=NaN", "zh-TW", "x" * 500]),
        "content-type": st.sampled_from(["application/json", "text/plain", "", "x/y"]),
    },
)
path_ids = st.one_of(
    st.none(),  # the prepared target
    st.text(st.characters(exclude_characters="/?#%"), min_size=1, max_size=200),
)

# -- properties ---------------------------------------------------------------------------


def assert_a_clear_answer(world: Any, before: Any, answer: tuple[int, Any]) -> None:
    status, body = answer
    assert status < 500, body
    if status >= 400:
        assert isinstance(body, dict) and set(body["error"]) == {"code", "message"}, body
        assert body["error"]["code"] and body["error"]["message"]
        assert state(world) == before, body


@pytest.mark.parametrize("case", ROUTES, **CASE_IDS)
@PROPERTY
@given(raw=raw_bodies, extra=headers)
def test_any_body_on_any_route_gets_a_clear_answer(
    case: RouteCase, raw: str, extra: dict[str, str]
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        world = build_world(monkeypatch)
        ids = prepared(world)
        before = state(world)
        assert_a_clear_answer(world, before, send(case, ids, raw_body=raw, headers=extra))


@pytest.mark.parametrize("case", ROUTES, **CASE_IDS)
@PROPERTY
@given(raw=binary_bodies, query=queries, path_id=path_ids)
def test_any_binary_body_query_and_path_id_gets_a_clear_answer(
    case: RouteCase, raw: str, query: dict[str, str], path_id: str | None
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        world = build_world(monkeypatch)
        ids = prepared(world)
        before = state(world)
        answer = send(case, ids, raw_body=raw, base64_body=True, query=query, path_id=path_id)
        assert_a_clear_answer(world, before, answer)


GET_ROUTES = [case for case in ROUTES if case.key.startswith("GET ")]


@pytest.mark.parametrize("case", GET_ROUTES, **CASE_IDS)
@PROPERTY
@given(query=queries, extra=headers)
def test_any_query_string_on_a_get_route_gets_a_clear_answer(
    case: RouteCase, query: dict[str, str], extra: dict[str, str]
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        world = build_world(monkeypatch)
        ids = prepared(world)
        before = state(world)
        answer = send(case, ids, query=query, headers=extra)
        assert_a_clear_answer(world, before, answer)
        if answer[0] == 200 and case.key == "GET /clinics/{clinic_id}/payments":
            # a report is a read: it changes nothing even when it answers
            assert state(world) == before
