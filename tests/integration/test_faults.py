"""Faults injected between callpay and its servers: AWS (moto), Stripe (localstripe) and
API Gateway's `@connections` (the local gateway), through tests/support/fault_proxy.py.

Each fault ends in a clear 503 the caller may retry, or in a retry of callpay's own that
succeeds; either way nothing is lost and nothing is done twice, which each test checks on
what the servers hold: DynamoDB's items, localstripe's PaymentIntents and refunds, the
mail moto's SES sent, the frames a socket received.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from websockets.sync.client import ClientConnection

from callpay import runtime
from callpay.domain.clinic import Clinic
from callpay.domain.payment_request import Status
from tests.integration.conftest import TABLE, Faults, Stack, claims_for
from tests.integration.test_money_back import capture, held_and_authorised
from tests.integration.test_payment_loop import (
    GOOD_CARD,
    api,
    patient_checkout,
    patient_token,
    pay,
    stored,
)
from tests.integration.test_realtime import connection_ids, nothing_for, open_feed, receive
from tests.integration.test_receipt_emails import emails_to, paid_request
from tests.integration.test_webhook import send, succeeded
from tests.support.events import http_event
from tests.support.fault_proxy import aws_error, aws_query_error, stripe_error
from tests.support.servers import wait_until

pytestmark = pytest.mark.integration

# More than any client's retries: the fault lasts until the test ends it.
LASTING = 100


@pytest.fixture
def faults(stack: Stack) -> Iterator[Faults]:
    for proxy in stack.faults.all():
        proxy.clear()
    yield stack.faults
    for proxy in stack.faults.all():
        proxy.clear()


def end(faults: Faults) -> None:
    """The fault is over: everything is forwarded again."""
    for proxy in faults.all():
        proxy.clear()


# -- what the servers hold ---------------------------------------------------------------


def moto_dynamodb(stack: Stack) -> Any:
    """DynamoDB itself, past the fault proxy."""
    return boto3.client("dynamodb", endpoint_url=stack.aws_endpoint)


def request_items(stack: Stack, call_id: str) -> list[dict[str, Any]]:
    """The payment request items stored for a call (by the by_call index)."""
    items = moto_dynamodb(stack).query(
        TableName=TABLE,
        IndexName="by_call",
        KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :pr)",
        ExpressionAttributeValues={":pk": {"S": f"CALL#{call_id}"}, ":pr": {"S": "PR#"}},
    )["Items"]
    return list(items)


def intents_of(stack: Stack, payment_request_id: str) -> list[Any]:
    """Every PaymentIntent on localstripe made for this payment request."""
    return [
        intent
        for intent in stack.stripe()
        .v1.payment_intents.list(params={"limit": 100})
        .auto_paging_iter()
        if intent.metadata.to_dict().get("payment_request_id") == payment_request_id
    ]


def refunds_of(stack: Stack, intent_id: str) -> list[Any]:
    return list(stack.stripe().v1.refunds.list(params={"payment_intent": intent_id}).data)


# -- what the clinician and the patient do -----------------------------------------------


def new_call() -> str:
    return f"call-{uuid.uuid4().hex[:8]}"


def create(clinic: Clinic, call_id: str, key: str | None = None) -> tuple[int, Any]:
    body = {"clinic_id": clinic.clinic_id, "amount": 8000, "currency": "aud",
            "description": "Telehealth consultation"}  # fmt: skip
    headers = {"idempotency-key": key} if key else None
    return api(
        http_event(
            "POST", f"/calls/{call_id}/payment-requests", body, claims=claims_for(clinic),
            headers=headers,
        )
    )  # fmt: skip


def refund(clinic: Clinic, pr_id: str, amount: int, key: str) -> tuple[int, Any]:
    admin = claims_for(clinic, sub="admin-1", role="team_admin")
    return api(
        http_event(
            "POST", f"/payment-requests/{pr_id}/refunds",
            {"amount": amount, "reason": "requested_by_customer"}, claims=admin,
            headers={"idempotency-key": key},
        )
    )  # fmt: skip


# -- DynamoDB ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_a_throttled_store_write_is_retried_and_the_request_stored_once(
    stack: Stack, clinic: Clinic, faults: Faults, code: str
) -> None:
    faults.aws.answer(400, aws_error(code), target="TransactWriteItems", times=2)
    call_id = new_call()
    status, created = create(clinic, call_id)
    assert status == 201, created
    assert faults.aws.outcomes(target="TransactWriteItems") == ["answer", "answer", "forwarded"]
    assert [item["id"]["S"] for item in request_items(stack, call_id)] == [created["id"]]
    assert len(intents_of(stack, created["id"])) == 1


def test_a_store_throttled_past_its_retries_answers_503_and_the_retry_creates_once(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    """The PaymentIntent is made before the request is stored: the client's retry with the
    same Idempotency-Key must find that intent, not make a second one."""
    faults.aws.answer(
        400, aws_error("ThrottlingException"), target="TransactWriteItems", times=LASTING
    )
    call_id, key = new_call(), f"key-{uuid.uuid4().hex}"
    status, body = create(clinic, call_id, key)
    assert (status, body["error"]["code"]) == (503, "store_busy")
    assert request_items(stack, call_id) == []
    end(faults)

    status, created = create(clinic, call_id, key)
    assert status == 201, created
    assert [item["id"]["S"] for item in request_items(stack, call_id)] == [created["id"]]
    intents = intents_of(stack, created["id"])
    assert [intent.id for intent in intents] == [stored(created["id"]).payment_intent_id]


def test_a_store_5xx_is_retried(stack: Stack, clinic: Clinic, faults: Faults) -> None:
    status, created = create(clinic, new_call())
    assert status == 201
    faults.aws.seen.clear()
    faults.aws.answer(500, aws_error("InternalServerError"), target="GetItem", times=2)
    status, body = api(
        http_event("GET", f"/payment-requests/{created['id']}", claims=claims_for(clinic))
    )
    assert (status, body["id"]) == (200, created["id"])
    assert faults.aws.outcomes(target="GetItem")[:3] == ["answer", "answer", "forwarded"]


def test_a_store_that_does_not_answer_is_given_up_on_and_retried(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    status, created = create(clinic, new_call())
    assert status == 201
    faults.aws.seen.clear()
    faults.aws.stall(8, target="GetItem")
    started = time.monotonic()
    status, body = api(
        http_event("GET", f"/payment-requests/{created['id']}", claims=claims_for(clinic))
    )
    assert (status, body["id"]) == (200, created["id"])
    # The client's own timeout, well before the 8 s stall (and the Lambda's 10 s) ended.
    assert time.monotonic() - started < 6
    assert faults.aws.outcomes(target="GetItem")[:2] == ["stall", "forwarded"]


def test_a_store_that_never_answers_is_a_503_inside_the_lambdas_time(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    status, created = create(clinic, new_call())
    assert status == 201
    faults.aws.stall(30, target="GetItem", times=LASTING)
    started = time.monotonic()
    status, body = api(
        http_event("GET", f"/payment-requests/{created['id']}", claims=claims_for(clinic))
    )
    assert (status, body["error"]["code"]) == (503, "store_busy")
    assert time.monotonic() - started < 10  # API functions' timeout (infra/stack.py)


def test_a_webhook_the_store_cannot_take_is_a_503_and_its_redelivery_applies_it_once(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    status, created = create(clinic, new_call())
    assert status == 201
    request = stored(created["id"])
    event = succeeded(request)
    faults.aws.answer(
        400, aws_error("ProvisionedThroughputExceededException"), target="TransactWriteItems",
        times=LASTING,
    )  # fmt: skip
    status, body = send(event)
    assert (status, body["error"]["code"]) == (503, "store_busy")
    assert stored(created["id"]).status is Status.REQUESTED
    end(faults)

    status, body = send(event)  # Stripe delivers it again
    assert (status, body["outcome"]) == (200, "applied")
    status, body = send(event)
    assert (status, body["outcome"]) == (200, "duplicate")
    after = stored(created["id"])
    assert after.status is Status.SUCCEEDED and after.version == request.version + 1


def test_a_store_write_whose_answer_was_lost_is_applied_once_and_reported_applied(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    """DynamoDB wrote, the answer never came: botocore retries with the same
    ClientRequestToken, which DynamoDB (and the local moto, devtools/moto_server.py)
    answers as the first success, instead of failing on the event already recorded."""
    status, created = create(clinic, new_call())
    assert status == 201
    request = stored(created["id"])
    faults.aws.seen.clear()
    faults.aws.reset_after_forwarding(target="TransactWriteItems")
    status, body = send(succeeded(request))
    assert (status, body["outcome"]) == (200, "applied")
    assert faults.aws.outcomes(target="TransactWriteItems") == ["reset", "forwarded"]
    after = stored(created["id"])
    assert after.status is Status.SUCCEEDED and after.version == request.version + 1
    assert [a.action for a in runtime.store().audit_trail(created["id"])][-1] == (
        "status.succeeded"
    )


def test_a_delivery_whose_every_answer_was_lost_is_a_503_and_its_redelivery_a_duplicate(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    """The write landed, but no try's answer came back: the webhook cannot tell, answers
    503, and Stripe's next delivery finds the event processed: one change, not two."""
    status, created = create(clinic, new_call())
    assert status == 201
    request = stored(created["id"])
    event = succeeded(request)
    faults.aws.seen.clear()
    faults.aws.reset_after_forwarding(times=LASTING, target="TransactWriteItems")
    status, body = send(event)
    assert (status, body["error"]["code"]) == (503, "store_busy")
    assert set(faults.aws.outcomes(target="TransactWriteItems")) == {"reset"}
    end(faults)

    status, body = send(event)  # Stripe delivers it again
    assert (status, body["outcome"]) == (200, "duplicate")
    after = stored(created["id"])
    assert after.status is Status.SUCCEEDED and after.version == request.version + 1
    actions = [a.action for a in runtime.store().audit_trail(created["id"])]
    assert actions.count("status.succeeded") == 1


def test_a_throttled_transaction_is_a_503_not_a_conflict(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    """DynamoDB cancels a throttled transaction (reason ThrottlingError): not another
    writer's change, so not the 409 `concurrent_update` a version conflict becomes."""
    call_id = new_call()
    status, created = create(clinic, call_id)
    assert status == 201
    cancelled = aws_error(
        "TransactionCanceledException",
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[ThrottlingError, None]",
        CancellationReasons=[
            {"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity."},
            {"Code": "None"},
        ],
    )
    faults.aws.answer(400, cancelled, target="TransactWriteItems", times=LASTING)
    token = patient_token(clinic, call_id)
    status, body = api(
        http_event(
            "POST", f"/payment-requests/{created['id']}/checkout",
            {"email": "patient@example.com"}, token=token,
        )
    )  # fmt: skip
    assert (status, body["error"]["code"]) == (503, "store_busy")
    assert stored(created["id"]).receipt_email is None


# -- Stripe ------------------------------------------------------------------------------


def test_stripe_rate_limiting_is_a_503_and_the_retry_creates_once(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    faults.stripe.answer(
        429, stripe_error("invalid_request_error", "Too many requests"),
        method="POST", path=r"^/v1/payment_intents$",
    )  # fmt: skip
    call_id, key = new_call(), f"key-{uuid.uuid4().hex}"
    status, body = create(clinic, call_id, key)
    assert (status, body["error"]["code"]) == (503, "stripe_unavailable")
    assert request_items(stack, call_id) == []

    status, created = create(clinic, call_id, key)
    assert status == 201
    assert len(intents_of(stack, created["id"])) == 1


def test_a_stripe_500_is_retried_and_makes_one_intent(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    faults.stripe.answer(
        500, stripe_error("api_error"), method="POST", path=r"^/v1/payment_intents$"
    )
    call_id = new_call()
    status, created = create(clinic, call_id)
    assert status == 201, created
    assert len(intents_of(stack, created["id"])) == 1
    assert faults.stripe.outcomes(method="POST", path=r"^/v1/payment_intents$") == [
        "answer", "forwarded"
    ]  # fmt: skip


def test_stripe_failing_every_try_is_a_503_and_stores_nothing(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    faults.stripe.answer(
        500, stripe_error("api_error"), method="POST", path=r"^/v1/payment_intents$",
        times=LASTING,
    )  # fmt: skip
    call_id = new_call()
    status, body = create(clinic, call_id)
    assert (status, body["error"]["code"]) == (503, "stripe_unavailable")
    assert request_items(stack, call_id) == []


def test_stripe_not_answering_is_given_up_on_and_the_retry_makes_one_intent(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    faults.stripe.stall(8, method="POST", path=r"^/v1/payment_intents$")
    started = time.monotonic()
    status, created = create(clinic, new_call())
    assert status == 201, created
    assert time.monotonic() - started < 8  # Stripe's client timeout (4 s), not the stall's
    assert len(intents_of(stack, created["id"])) == 1
    outcomes = faults.stripe.outcomes(method="POST", path=r"^/v1/payment_intents$")
    assert outcomes == ["stall", "forwarded"]


def test_an_intent_made_before_the_connection_reset_is_the_one_kept(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    """localstripe, unlike Stripe, ignores idempotency keys: a blind retry of the create
    would make a second PaymentIntent. callpay looks for the first one."""
    faults.stripe.reset_after_forwarding(method="POST", path=r"^/v1/payment_intents$")
    call_id = new_call()
    status, created = create(clinic, call_id)
    assert status == 201, created
    intents = intents_of(stack, created["id"])
    assert [intent.id for intent in intents] == [stored(created["id"]).payment_intent_id]


def test_a_refund_made_before_the_connection_reset_is_made_once(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    pr_id, intent_id = paid_request(stack, clinic, "patient@example.com")
    faults.stripe.reset_after_forwarding(method="POST", path=r"^/v1/refunds$")
    status, body = refund(clinic, pr_id, 3000, f"key-{uuid.uuid4().hex}")
    assert status == 200, body
    assert (body["status"], body["amount_refunded"]) == ("partially_refunded", 3000)
    assert [r.amount for r in refunds_of(stack, intent_id)] == [3000]
    assert stored(pr_id).amount_refunded == 3000


def test_a_capture_made_before_the_connection_reset_is_kept_not_refused(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    """Stripe captured, the answer was lost: localstripe would refuse a second capture
    ("already captured"), so callpay reads the intent instead of capturing again."""
    pr_id, intent_id = held_and_authorised(stack, clinic, "patient@example.com")
    faults.stripe.reset_after_forwarding(
        method="POST", path=rf"^/v1/payment_intents/{intent_id}/capture$"
    )
    body = capture(clinic, pr_id, 6000)
    assert (body["status"], body["amount_captured"]) == ("succeeded", 6000)
    assert stack.stripe().v1.payment_intents.retrieve(intent_id).status == "succeeded"
    assert stored(pr_id).amount_captured == 6000


def test_a_cancel_made_before_the_connection_reset_is_kept_not_refused(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    call_id = new_call()
    status, created = create(clinic, call_id)
    assert status == 201, created
    intent_id = stored(created["id"]).payment_intent_id
    faults.stripe.reset_after_forwarding(
        method="POST", path=rf"^/v1/payment_intents/{intent_id}/cancel$"
    )
    status, body = api(
        http_event("POST", f"/payment-requests/{created['id']}/cancel", claims=claims_for(clinic))
    )
    assert (status, body["status"]) == (200, "canceled"), body
    assert stack.stripe().v1.payment_intents.retrieve(intent_id).status == "canceled"


# -- SES ---------------------------------------------------------------------------------


def test_a_throttled_receipt_is_sent_on_the_queues_retry_exactly_once(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    stack.receipt_worker.drain()
    email = f"patient-{uuid.uuid4().hex[:6]}@example.com"
    paid_request(stack, clinic, email)
    faults.aws.answer(
        400, aws_query_error("Throttling", "Maximum sending rate exceeded."),
        headers={"Content-Type": "text/xml"}, body_has="Action=SendEmail", times=LASTING,
    )  # fmt: skip
    handled, failed = stack.receipt_worker.poll_once(retry_now=True)
    assert (handled, failed) == (1, 1)
    assert emails_to(stack, email) == []
    end(faults)

    handled, failed = stack.receipt_worker.drain(retry_now=True)
    assert (handled, failed) == (1, 0)
    assert len(emails_to(stack, email)) == 1
    stack.receipt_worker.drain(retry_now=True)
    assert len(emails_to(stack, email)) == 1


# -- @connections ------------------------------------------------------------------------


def pay_with_sockets_open(
    stack: Stack, clinic: Clinic, faults: Faults, *, status: int, error_type: str, times: int
) -> tuple[str, dict[str, dict[str, Any]], set[str], str]:
    """Pays a request while the clinician's and the patient's sockets are open, with the
    fault on the patient's connection: (request id, frames per socket, the call's
    connection ids after, the patient's connection id)."""
    call_id = new_call()
    status_created, created = create(clinic, call_id)
    assert status_created == 201
    patient_checkout(clinic, call_id, created["id"])
    intent_id = stored(created["id"]).payment_intent_id
    assert intent_id
    clinician_jwt = stack.identity.token(claims_for(clinic))
    with open_feed(stack, call_id, clinician_jwt, clinic_id=clinic.clinic_id) as clinician:
        before = connection_ids(call_id)
        with open_feed(stack, call_id, patient_token(clinic, call_id)) as patient:
            (patient_id,) = connection_ids(call_id) - before
            faults.connections.answer(
                status,
                json.dumps({"message": "injected"}).encode(),
                headers={"Content-Type": "application/json", "x-amzn-ErrorType": error_type},
                times=times,
                method="POST",
                path=f"/@connections/{patient_id}$",
            )
            pay(stack, intent_id, GOOD_CARD)
            assert wait_until(
                lambda: stack.receiver.delivered("payment_intent.succeeded", intent_id)
            ) == [200]
            frames = {"clinician": receive(clinician), "patient": _frame_or_none(patient)}
            assert nothing_for(clinician, 0.5)
            after = connection_ids(call_id)
        return created["id"], frames, after, patient_id


def _frame_or_none(socket: ClientConnection) -> dict[str, Any]:
    try:
        return receive(socket, timeout=3)
    except TimeoutError:
        return {}


def test_a_throttled_push_is_retried_and_the_pop_up_arrives_once(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    pr_id, frames, connections, patient_id = pay_with_sockets_open(
        stack, clinic, faults, status=429, error_type="TooManyRequestsException", times=1
    )
    for frame in frames.values():
        assert frame["payment_request"]["status"] == "succeeded"
    assert patient_id in connections
    outcomes = faults.connections.outcomes(method="POST", path=f"/@connections/{patient_id}$")
    assert outcomes == ["answer", "forwarded"]
    assert stored(pr_id).status is Status.SUCCEEDED


def test_a_gone_connection_is_removed_and_the_others_still_get_the_pop_up(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    pr_id, frames, connections, patient_id = pay_with_sockets_open(
        stack, clinic, faults, status=410, error_type="GoneException", times=1
    )
    assert frames["clinician"]["payment_request"]["status"] == "succeeded"
    assert frames["patient"] == {}
    assert patient_id not in connections and len(connections) == 1
    assert stored(pr_id).status is Status.SUCCEEDED


def test_a_failing_push_is_skipped_the_record_kept_and_the_webhook_answered_200(
    stack: Stack, clinic: Clinic, faults: Faults
) -> None:
    pr_id, frames, connections, patient_id = pay_with_sockets_open(
        stack, clinic, faults, status=500, error_type="InternalServerErrorException", times=LASTING
    )
    assert frames["clinician"]["payment_request"]["status"] == "succeeded"
    assert frames["patient"] == {}
    assert patient_id in connections
    assert stored(pr_id).status is Status.SUCCEEDED
    assert runtime.store().get(pr_id) is not None
