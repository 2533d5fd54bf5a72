"""The webhook's boundary under arbitrary input: never a 5xx, never a change from a refusal.

Through the real handler over in-memory ports: arbitrary Stripe-Signature headers, and
arbitrary JSON in validly signed events of every type callpay handles (whole objects,
single fields of a real object, the envelope's own fields). A refused delivery (4xx)
must leave the store exactly as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callpay.domain.clinic import Clinic
from callpay.domain.payment_request import PaymentRequest, Status
from callpay.domain.stripe_outcomes import HANDLED
from callpay.logic.connect_events import ConnectEvents
from callpay.logic.stripe_events import StripeEvents
from stripe_webhook import composition as stripe_webhook_parts
from stripe_webhook.handler import lambda_handler as webhook
from tests.support.events import LambdaContext, reply
from tests.support.fakes import InMemoryStore, RecordingNotifier, RecordingQueue
from tests.support.stripe_events import (
    charge_object,
    dispute_object,
    encode,
    event,
    intent_event,
    signature,
)

SECRET = "whsec_boundary"
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
PROPERTY = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG_TEXT = st.integers(0, 0).map(lambda _: "x" * 4096)


@dataclass
class Stack:
    store: InMemoryStore

    def snapshot(self) -> tuple[object, ...]:
        s = self.store
        return (dict(s.requests), {k: list(v) for k, v in s.audits.items()}, set(s.events),
                dict(s.clinics), dict(s.accounts),
                {k: list(v) for k, v in s.clinic_audits.items()})  # fmt: skip


@contextmanager
def stack() -> Iterator[Stack]:
    """A paid request (pi_1, 8000 captured) and a linked clinic, wired into the handler."""
    clinic = Clinic(clinic_id="clinic-1", org_id="org-1", enabled=True,
                    stripe_account_id="acct_clinic1", charges_enabled=True)  # fmt: skip
    request = PaymentRequest(
        id="pr_1", call_id="call-1", clinic_id="clinic-1", amount=8000, currency="aud",
        description="x", created_at=NOW, updated_at=NOW, requested_by="clin-1",
        payment_intent_id="pi_1", stripe_account="acct_clinic1", status=Status.SUCCEEDED,
        amount_captured=8000, paid_at=NOW,
    )  # fmt: skip
    store = InMemoryStore(
        clinics={"clinic-1": clinic}, requests={"pr_1": request}, audits={"pr_1": []},
        accounts={"acct_clinic1": "clinic-1"},
    )  # fmt: skip
    events = StripeEvents(store, RecordingNotifier(), RecordingQueue(), clock=lambda: NOW)
    connect = ConnectEvents(clinics=store, events=store, clock=lambda: NOW)
    with (
        patch.object(stripe_webhook_parts, "webhook_secrets", lambda: [SECRET]),
        patch.object(stripe_webhook_parts, "stripe_events", lambda: events),
        patch.object(stripe_webhook_parts, "connect_events", lambda: connect),
    ):
        yield Stack(store)


def deliver(payload: bytes, header: str | None = None) -> tuple[int, Any]:
    headers = {"stripe-signature": header if header is not None else signature(payload, SECRET)}
    response = webhook({"headers": headers, "body": payload.decode("utf-8", "surrogatepass"),
                        "isBase64Encoded": False}, LambdaContext())  # fmt: skip
    return reply(response)


def refused_changes_nothing(stripe_event: dict[str, Any]) -> int:
    with stack() as world:
        before = world.snapshot()
        status, body = deliver(json.dumps(stripe_event).encode())
        if hypothesis.currently_in_test_context():
            hypothesis.event(f"HTTP {status} {body.get('outcome') or body['error']['code']}")
        assert status < 500, body
        if status >= 400:
            assert world.snapshot() == before
            assert body["error"]["code"] in {"malformed_event", "not_yet_paid"}
        return status


# A real object for every type callpay handles, rendered as Stripe's latest version would.
def real_object(event_type: str) -> dict[str, Any]:
    if event_type.startswith("payment_intent."):
        return intent_event(event_type, "pi_1", "pr_1", api_version="2024-06-20")["data"][
            "object"
        ]  # fmt: skip
    if event_type.startswith("charge.dispute."):
        return dispute_object("pi_1")
    if event_type.startswith("charge."):
        return charge_object("pi_1", captured=8000, refunded=1000)
    if event_type == "account.updated":
        return {"id": "acct_clinic1", "object": "account", "charges_enabled": True,
                "details_submitted": True, "requirements": {"currently_due": []}}  # fmt: skip
    return {"id": "ca_1", "object": "application"}


TYPES = sorted(HANDLED)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=50) | LONG_TEXT | st.sampled_from(["8000", "", 10**30, -1, 2**63]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=15,
)  # fmt: skip
# The fields callpay reads, by path into the object.
READ_FIELDS = [
    ("id",), ("object",), ("status",), ("amount",), ("amount_received",),
    ("amount_capturable",), ("amount_captured",), ("amount_refunded",), ("captured",),
    ("payment_intent",), ("metadata",), ("metadata", "payment_request_id"),
    ("last_payment_error",), ("last_payment_error", "decline_code"), ("latest_charge",),
    ("charges",), ("charges", "data"), ("payment_method_details",),
    ("payment_method_details", "card", "last4"), ("charge",), ("reason",),
    ("is_charge_refundable",), ("created",), ("charges_enabled",), ("requirements",),
    ("requirements", "currently_due"),
]  # fmt: skip


def with_value(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(obj))
    target = copy
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    return copy


@PROPERTY
@given(st.sampled_from(TYPES), json_values)
def test_any_object_in_a_signed_event_is_never_a_5xx(event_type: str, obj: Any) -> None:
    stripe_event = event(event_type, real_object(event_type), account="acct_clinic1")
    stripe_event["data"]["object"] = obj
    refused_changes_nothing(stripe_event)


@PROPERTY
@given(st.sampled_from(TYPES), st.lists(st.tuples(st.sampled_from(READ_FIELDS), json_values),
                                        min_size=1, max_size=3))  # fmt: skip
def test_any_value_in_a_field_we_read_is_never_a_5xx(
    event_type: str, replaced: list[tuple[tuple[str, ...], Any]]
) -> None:
    obj = real_object(event_type)
    for path, value in replaced:
        obj = with_value(obj, path, value)
    refused_changes_nothing(event(event_type, obj, account="acct_clinic1", created=10**9))


@PROPERTY
@given(
    st.sampled_from(TYPES),
    st.sampled_from(["id", "type", "created", "api_version", "account", "data", "object"]),
    json_values,
)
def test_any_value_in_the_envelope_is_never_a_5xx(event_type: str, field: str, value: Any) -> None:
    stripe_event = event(event_type, real_object(event_type), account="acct_clinic1")
    stripe_event[field] = value
    refused_changes_nothing(stripe_event)


@PROPERTY
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_any_signature_header_is_never_a_5xx_and_unverified_changes_nothing(header: str) -> None:
    payload = encode(intent_event("payment_intent.canceled", "pi_1", "pr_1"))
    with stack() as world:
        before = world.snapshot()
        status, body = deliver(payload, header)
        assert status == 400 and body["error"]["code"] == "invalid_signature"
        assert world.snapshot() == before


@PROPERTY
@given(st.binary(max_size=2000))
def test_any_signed_body_is_never_a_5xx(payload: bytes) -> None:
    with stack() as world:
        before = world.snapshot()
        event_ = {"headers": {"stripe-signature": signature(payload, SECRET)},
                  "body": payload.decode("latin-1"), "isBase64Encoded": False}  # fmt: skip
        # A body that is not UTF-8 only arrives base64-encoded; as text it is re-encoded.
        status, _ = reply(webhook(event_, LambdaContext()))
        assert status < 500
        if status >= 400:
            assert world.snapshot() == before


# -- the cases found by the attack on make dev, by name --------------------------------------


@pytest.mark.parametrize(
    ("event_type", "path", "value"),
    [
        ("charge.refunded", ("amount_refunded",), "2000"),
        ("charge.refunded", ("amount_refunded",), {"value": 2000}),
        ("account.updated", ("requirements",), "past_due"),
        ("account.updated", ("requirements", "currently_due"), 3),
        ("payment_intent.succeeded", ("amount_received",), 10**40),
        ("charge.dispute.created", ("status",), ["lost"]),
    ],
)
def test_the_shapes_that_were_500s_are_400_malformed_event(
    event_type: str, path: tuple[str, ...], value: Any
) -> None:
    obj = with_value(real_object(event_type), path, value)
    assert refused_changes_nothing(event(event_type, obj, account="acct_clinic1")) == 400


@pytest.mark.parametrize("field", ["id", "account"])
def test_an_id_too_long_for_a_key_is_400(field: str) -> None:
    stripe_event = event("charge.refunded", real_object("charge.refunded"), account="acct_clinic1")
    stripe_event[field] = "evt_" + "x" * 4096
    assert refused_changes_nothing(stripe_event) == 400


def test_a_request_id_in_metadata_too_long_for_a_key_is_not_ours_by_metadata() -> None:
    stripe_event = intent_event("payment_intent.canceled", "pi_other", "pr_" + "x" * 400)
    assert refused_changes_nothing(stripe_event) == 200


def test_unknown_types_are_200_whatever_their_object() -> None:
    stripe_event = event("payment_intent.partially_funded", {"id": 1, "amount": "x"})
    with stack():
        status, body = deliver(json.dumps(stripe_event).encode())
    assert (status, body) == (200, {"received": True, "outcome": "ignored"})
