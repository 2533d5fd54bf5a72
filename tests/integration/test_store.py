"""The DynamoDB store's guarantees under concurrency, on moto's server."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from callpay import runtime
from callpay.domain.clinic import Clinic
from callpay.domain.payment_request import Cause, Status
from callpay.domain.transitions import StatusChange, transition
from callpay.ports import VersionConflict
from request_payment.handler import lambda_handler
from tests.integration.conftest import claims_for
from tests.integration.test_webhook import new_request
from tests.support.events import LambdaContext, http_event, reply

pytestmark = pytest.mark.integration


def test_concurrent_creates_with_one_idempotency_key_store_one_request(clinic: Clinic) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    body = {"clinic_id": clinic.clinic_id, "amount": 5000, "currency": "aud", "description": "x"}

    def create(_: int) -> tuple[int, str]:
        event = http_event(
            "POST", f"/calls/{call_id}/payment-requests", body,
            claims=claims_for(clinic), headers={"idempotency-key": "same-key"},
        )  # fmt: skip
        status, answer = reply(lambda_handler(event, LambdaContext()))
        return status, answer["id"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(create, range(6)))
    assert {status for status, _ in results} == {201}
    assert len({pr_id for _, pr_id in results}) == 1
    assert len(runtime.store().by_call(call_id)) == 1


def test_stale_version_is_refused_and_audit_is_not_written(clinic: Clinic) -> None:
    request = new_request(clinic)
    now = datetime.now(UTC)
    cancel = StatusChange(status=Status.CANCELED, cause=Cause(actor="system", subject="t"))
    first = transition(request, cancel, now)
    processing = StatusChange(status=Status.PROCESSING, cause=Cause(actor="system", subject="t"))
    second = transition(request, processing, now)
    assert first and second
    runtime.store().save(first)
    with pytest.raises(VersionConflict):
        runtime.store().save(second)
    stored = runtime.store().get(request.id)
    assert stored is not None and stored.status is Status.CANCELED
    assert [a.action for a in runtime.store().audit_trail(request.id)] == [
        "created",
        "status.canceled",
    ]


def test_a_call_binds_to_the_first_clinic_only(clinic: Clinic) -> None:
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=4) as pool:
        bound = list(
            pool.map(lambda c: runtime.store().bind_call(call_id, c), ["a", "b", "c", "d"])
        )
    assert len(set(bound)) == 1
    assert runtime.store().call_clinic(call_id) == bound[0]


def test_by_payment_intent_finds_the_request(clinic: Clinic) -> None:
    request = new_request(clinic)
    assert request.payment_intent_id
    found = runtime.store().by_payment_intent(request.payment_intent_id)
    assert found is not None and found.id == request.id
