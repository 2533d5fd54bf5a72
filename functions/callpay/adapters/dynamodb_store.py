"""PaymentStore on one DynamoDB table: conditional writes, audit trail, processed events.

Every change to a payment request is a single transaction: the new item (on the
condition that the stored version is the one we read), its audit entry, for a Stripe
event the event's dedupe record, and the event it announces to the platform (the outbox,
adapters/dynamodb_outbox.py). So a change is applied, and announced, once or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from callpay.adapters.aws import cancellation_reasons
from callpay.adapters.dynamodb_audit import audit_index_keys
from callpay.adapters.dynamodb_clinics import clinic_item, read_clinic
from callpay.adapters.dynamodb_invoices import claim_update, move_update, read_invoice
from callpay.adapters.dynamodb_items import epoch as _epoch
from callpay.adapters.dynamodb_items import from_item as _from_item
from callpay.adapters.dynamodb_items import is_condition_failure, processed_event_put
from callpay.adapters.dynamodb_items import key as _key
from callpay.adapters.dynamodb_items import to_item as _to_item
from callpay.adapters.dynamodb_outbox import outbox_put
from callpay.adapters.table_schema import INDEXES, TTL_ATTRIBUTE
from callpay.domain.clinic import Clinic
from callpay.domain.errors import UpstreamUnavailable
from callpay.domain.invoice import Invoice, invoice_moves
from callpay.domain.payment_request import AuditEntry, PaymentRequest, Refund
from callpay.domain.platform_events import invoice_event, request_event
from callpay.domain.receipt_job import ReceiptJob
from callpay.domain.saved_card import SavedCard, saved_card_of
from callpay.domain.stripe_outcomes import EVENT_RETENTION
from callpay.domain.transitions import Transition
from callpay.ports import (
    DuplicateEvent,
    IdempotencyClaim,
    InvoiceOutOfStep,
    InvoiceTaken,
    RefundAnswer,
    RefundKeyClaim,
    VersionConflict,
)

# Stripe keeps its own idempotency keys for 24 hours; ours match.
IDEMPOTENCY_RETENTION = timedelta(hours=24)
# How long an unanswered refund key is held by the attempt that claimed it (an API call
# lasts at most 10 s); after that a retry takes over.
REFUND_LEASE_SECONDS = 30


def _refund_key(key: str) -> str:
    return f"REFUNDKEY#{hashlib.sha256(key.encode()).hexdigest()}"


def _refund_claim(held: dict[str, Any], *, ours: bool) -> RefundKeyClaim:
    refund = Refund.model_validate_json(held["refund"]) if "refund" in held else None
    answer = None
    if "answer_body" in held:
        answer = RefundAnswer(
            status=int(held["answer_status"]),
            body=str(held["answer_body"]),
            receipt=ReceiptJob.model_validate_json(held["answer_receipt"]),
        )
    return RefundKeyClaim(str(held["fingerprint"]), ours=ours, refund=refund, answer=answer)


def _hold_bucket(moment: datetime) -> str:
    return f"HOLDS#{moment.astimezone(UTC):%Y-%m-%d}"


def _hold_sort_key(moment: datetime, request_id: str = "") -> str:
    return f"{moment.astimezone(UTC).isoformat()}#{request_id}"


def _request_item(request: PaymentRequest) -> dict[str, Any]:
    call_pk, call_sk = INDEXES["by_call"]
    clinic_pk, clinic_sk = INDEXES["by_clinic"]
    intent_pk, _ = INDEXES["by_payment_intent"]
    hold_pk, hold_sk = INDEXES["by_hold_expiry"]
    created = request.created_at.isoformat()
    deadline = request.hold_deadline  # None unless authorised: out of the sparse index
    values = request.model_dump(mode="json") | {
        "PK": f"PR#{request.id}",
        "SK": "PR",
        "kind": "payment_request",
        call_pk: f"CALL#{request.call_id}",
        str(call_sk): f"PR#{created}#{request.id}",
        clinic_pk: f"CLINIC#{request.clinic_id}",
        str(clinic_sk): f"{created}#{request.id}",
        intent_pk: f"PI#{request.payment_intent_id}" if request.payment_intent_id else None,
        hold_pk: _hold_bucket(deadline) if deadline else None,
        str(hold_sk): _hold_sort_key(deadline, request.id) if deadline else None,
    }
    return _to_item(values)


def _saved_card_key(clinic_id: str, patient_ref: str) -> dict[str, Any]:
    return _key(f"SAVEDCARD#{clinic_id}#{patient_ref}", "SAVEDCARD")


def _saved_card_put(table: str, card: SavedCard) -> dict[str, Any]:
    values = card.model_dump(mode="json") | {"kind": "saved_card"}
    item = _to_item(values) | _saved_card_key(card.clinic_id, card.patient_ref)
    return {"Put": {"TableName": table, "Item": item}}


def _request_of(item: dict[str, Any]) -> PaymentRequest:
    return PaymentRequest.model_validate(_from_item(item))


def _audit_item(entry: AuditEntry, clinic_id: str) -> dict[str, Any]:
    values = entry.model_dump(mode="json") | {
        "PK": f"PR#{entry.payment_request_id}",
        "SK": f"AUDIT#{entry.version:010d}",
        "kind": "audit",
        **audit_index_keys(clinic_id, entry.at, entry.payment_request_id, entry.version),
    }
    return _to_item(values)


class DynamoDBPaymentStore:
    def __init__(self, client: Any, table_name: str, clock: Any) -> None:
        self._db = client
        self._table = table_name
        self._clock = clock

    # -- clinics and calls ---------------------------------------------------------------

    def get_clinic(self, clinic_id: str) -> Clinic | None:
        return read_clinic(self._db, self._table, clinic_id)

    def put_clinic(self, clinic: Clinic) -> None:
        """Seed a clinic as is (tests and the local stack); admins go through ClinicStore."""
        self._db.put_item(TableName=self._table, Item=clinic_item(clinic))

    def bind_call(self, call_id: str, clinic_id: str) -> str:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=_to_item(
                    {"PK": f"CALL#{call_id}", "SK": "CALL", "kind": "call", "clinic_id": clinic_id}
                ),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            bound = self.call_clinic(call_id)
            assert bound is not None
            return bound
        return clinic_id

    def call_clinic(self, call_id: str) -> str | None:
        item = self._get(f"CALL#{call_id}", "CALL", consistent=True)
        return str(item["clinic_id"]) if item else None

    # -- payment requests ----------------------------------------------------------------

    def claim_idempotency_key(self, key: str, claim: IdempotencyClaim) -> IdempotencyClaim:
        digest = hashlib.sha256(key.encode()).hexdigest()
        expires = _epoch(self._clock() + IDEMPOTENCY_RETENTION)
        item = {
            "PK": f"IDEMPOTENCY#{digest}",
            "SK": "IDEMPOTENCY",
            "kind": "idempotency_key",
            "payment_request_id": claim.payment_request_id,
            "fingerprint": claim.fingerprint,
            TTL_ATTRIBUTE: expires,
        }
        try:
            self._db.put_item(
                TableName=self._table,
                Item=_to_item(item),
                # An expired claim (TTL deletion is lazy) may be taken over.
                ConditionExpression="attribute_not_exists(PK) OR #ttl < :now",
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":now": {"N": str(_epoch(self._clock()))}},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            held = self._get(f"IDEMPOTENCY#{digest}", "IDEMPOTENCY", consistent=True)
            if held is None:
                # Expired and deleted between our write and this read: it is free again.
                raise UpstreamUnavailable("store_busy", "Please try again.") from error
            return IdempotencyClaim(str(held["payment_request_id"]), str(held["fingerprint"]))
        return claim

    def claim_refund_key(self, key: str, fingerprint: str, now: datetime) -> RefundKeyClaim:
        pk, at = _refund_key(key), _epoch(now)
        lease = {":lease": {"N": str(at + REFUND_LEASE_SECONDS)}}
        try:
            self._db.put_item(
                TableName=self._table,
                Item=_to_item(
                    {"PK": pk, "SK": "REFUNDKEY", "kind": "refund_key",
                     "fingerprint": fingerprint, "lease_until": at + REFUND_LEASE_SECONDS,
                     TTL_ATTRIBUTE: _epoch(now + IDEMPOTENCY_RETENTION)}
                ),
                # Unknown, or expired (TTL deletion is lazy).
                ConditionExpression="attribute_not_exists(PK) OR #ttl < :now",
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":now": {"N": str(at)}},
            )  # fmt: skip
            return RefundKeyClaim(fingerprint, ours=True)
        except ClientError as error:
            if not is_condition_failure(error):
                raise
        try:
            # Unanswered and abandoned by an attempt of the same refund: take it over,
            # with the refund Stripe may already have made under it.
            taken = self._db.update_item(
                TableName=self._table,
                Key=_key(pk, "REFUNDKEY"),
                UpdateExpression="SET lease_until = :lease",
                ConditionExpression=(
                    "attribute_exists(PK) AND attribute_not_exists(answer_body) "
                    "AND fingerprint = :fp AND lease_until < :now"
                ),
                ExpressionAttributeValues={
                    ":fp": {"S": fingerprint}, ":now": {"N": str(at)}, **lease
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]  # fmt: skip
            return _refund_claim(_from_item(taken), ours=True)
        except ClientError as error:
            if not is_condition_failure(error):
                raise
        held = self._get(pk, "REFUNDKEY", consistent=True)
        if held is None:
            # Expired and deleted between our writes and this read: it is free again.
            raise UpstreamUnavailable("store_busy", "Please try again.")
        return _refund_claim(held, ours=False)

    def note_refund_key(self, key: str, refund: Refund) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=_key(_refund_key(key), "REFUNDKEY"),
            UpdateExpression="SET refund = :refund",
            ExpressionAttributeValues={":refund": {"S": refund.model_dump_json()}},
        )

    def answer_refund_key(self, key: str, answer: RefundAnswer) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=_key(_refund_key(key), "REFUNDKEY"),
            UpdateExpression=(
                "SET answer_status = :status, answer_body = :body, answer_receipt = :receipt"
            ),
            ExpressionAttributeValues={
                ":status": {"N": str(answer.status)},
                ":body": {"S": answer.body},
                ":receipt": {"S": answer.receipt.model_dump_json()},
            },
        )

    def release_refund_key(self, key: str) -> None:
        pk = _key(_refund_key(key), "REFUNDKEY")
        try:
            self._db.delete_item(
                TableName=self._table,
                Key=pk,
                ConditionExpression=(
                    "attribute_not_exists(refund) AND attribute_not_exists(answer_body)"
                ),
            )
            return
        except ClientError as error:
            if not is_condition_failure(error):
                raise
        self._db.update_item(
            TableName=self._table,
            Key=pk,
            UpdateExpression="SET lease_until = :zero",
            ConditionExpression="attribute_exists(PK) AND attribute_not_exists(answer_body)",
            ExpressionAttributeValues={":zero": {"N": "0"}},
        )

    def create(
        self, request: PaymentRequest, audit: AuditEntry, billed: Sequence[Invoice] = ()
    ) -> bool:
        claims = [claim_update(self._table, invoice, request) for invoice in billed]
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _request_item(request),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _audit_item(audit, request.clinic_id),
                        }
                    },
                    *claims,
                    *self._announced(None, request),
                ]
            )
        except self._db.exceptions.TransactionCanceledException as error:
            reasons = cancellation_reasons(error)
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return False  # a concurrent retry with the same key stored it first
            for invoice, reason in zip(billed, reasons[2:], strict=False):
                if reason == "ConditionalCheckFailed":
                    raise InvoiceTaken(invoice.id) from error
            # Throttled or in conflict with another transaction: safe to retry the request.
            raise UpstreamUnavailable("store_busy", "Please try again.") from error
        return True

    def get_invoice(self, clinic_id: str, invoice_id: str) -> Invoice | None:
        return read_invoice(self._db, self._table, clinic_id, invoice_id)

    def get(self, payment_request_id: str) -> PaymentRequest | None:
        item = self._db.get_item(
            TableName=self._table, Key=_key(f"PR#{payment_request_id}", "PR"), ConsistentRead=True
        ).get("Item")
        return _request_of(item) if item else None

    def by_call(self, call_id: str) -> list[PaymentRequest]:
        pk, sk = INDEXES["by_call"]
        items = self._query(
            IndexName="by_call",
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
            ExpressionAttributeNames={"#pk": pk, "#sk": str(sk)},
            ExpressionAttributeValues={":pk": {"S": f"CALL#{call_id}"}, ":prefix": {"S": "PR#"}},
            ScanIndexForward=False,
        )
        return [_request_of(item) for item in items]

    def holds_expiring(self, start: datetime, end: datetime) -> Iterator[PaymentRequest]:
        """Authorised holds that lapse in [start, end), soonest first: one query per day."""
        pk, sk = INDEXES["by_hold_expiry"]
        day = start.astimezone(UTC).date()
        while day <= end.astimezone(UTC).date():
            items = self._query(
                IndexName="by_hold_expiry",
                KeyConditionExpression="#pk = :pk AND #sk BETWEEN :from AND :to",
                ExpressionAttributeNames={"#pk": pk, "#sk": str(sk)},
                ExpressionAttributeValues={
                    ":pk": {"S": f"HOLDS#{day:%Y-%m-%d}"},
                    ":from": {"S": _hold_sort_key(start)},
                    ":to": {"S": _hold_sort_key(end)},
                },
            )
            for item in items:
                # The index is eventually consistent: the item itself has the latest state.
                request = self.get(str(_from_item(item)["id"]))
                deadline = request.hold_deadline if request else None
                if request and deadline and start <= deadline < end:
                    yield request
            day += timedelta(days=1)

    def saved_card(self, clinic_id: str, patient_ref: str) -> SavedCard | None:
        item = self._db.get_item(
            TableName=self._table, Key=_saved_card_key(clinic_id, patient_ref),
            ConsistentRead=True,
        ).get("Item")  # fmt: skip
        return SavedCard.model_validate(_from_item(item)) if item else None

    def claim_customer(self, clinic_id: str, patient_ref: str, customer_id: str) -> str:
        pk = f"CUSTOMER#{clinic_id}#{patient_ref}"
        try:
            self._db.put_item(
                TableName=self._table,
                Item=_to_item({"PK": pk, "SK": "CUSTOMER", "kind": "customer",
                               "customer_id": customer_id}),
                ConditionExpression="attribute_not_exists(PK)",
            )  # fmt: skip
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            held = self._get(pk, "CUSTOMER", consistent=True)
            assert held is not None  # customer records are never deleted
            return str(held["customer_id"])
        return customer_id

    def customer_of(self, clinic_id: str, patient_ref: str) -> str | None:
        held = self._get(f"CUSTOMER#{clinic_id}#{patient_ref}", "CUSTOMER", consistent=True)
        return str(held["customer_id"]) if held else None

    def by_payment_intent(self, payment_intent_id: str) -> PaymentRequest | None:
        pk, _ = INDEXES["by_payment_intent"]
        items = self._query(
            IndexName="by_payment_intent",
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": pk},
            ExpressionAttributeValues={":pk": {"S": f"PI#{payment_intent_id}"}},
        )
        found = next(items, None)
        # Index reads are eventually consistent: read the item itself for its latest version.
        return self.get(str(_from_item(found)["id"])) if found else None

    def save(self, change: Transition, event_id: str | None = None) -> None:
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _request_item(change.after),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": {"N": str(change.before.version)}},
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _audit_item(change.audit, change.after.clinic_id),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
        ]
        if event_id:
            items.append(self._event_put(event_id))
        first_move = len(items)
        moves = invoice_moves(change.before, change.after)
        items += [move_update(self._table, move, change.after) for move in moves]
        items += self._announced(change.before, change.after)
        items += [
            outbox_put(self._table, f"PR#{change.after.id}", change.after.version,
                       invoice_event(move, change.after))
            for move in moves
        ]  # fmt: skip
        # The card the patient agreed to keep, in the same write as the request that kept it.
        card = saved_card_of(change.after, change.audit.at)
        if card and change.after.saved_payment_method != change.before.saved_payment_method:
            items.append(_saved_card_put(self._table, card))
        try:
            self._db.transact_write_items(TransactItems=items)
        except self._db.exceptions.TransactionCanceledException as error:
            reasons = cancellation_reasons(error)
            # The event's record is the third item; invoices, then outbox items follow it.
            if event_id and reasons[2:3] == ["ConditionalCheckFailed"]:
                raise DuplicateEvent(event_id) from error
            if "ThrottlingError" in reasons:
                raise  # no other writer won: a passing fault (aws.is_transient), not a conflict
            if (
                reasons[:1] != ["ConditionalCheckFailed"]
                and "ConditionalCheckFailed" in (reasons[first_move : first_move + len(moves)])
            ):
                raise InvoiceOutOfStep(change.before.id) from error
            raise VersionConflict(change.before.id) from error

    def record_event(self, event_id: str) -> None:
        put = self._event_put(event_id)["Put"]
        try:
            self._db.put_item(
                TableName=put["TableName"],
                Item=put["Item"],
                ConditionExpression=put["ConditionExpression"],
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise DuplicateEvent(event_id) from error
            raise

    def audit_trail(self, payment_request_id: str) -> list[AuditEntry]:
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": f"PR#{payment_request_id}"},
                ":prefix": {"S": "AUDIT#"},
            },
            ConsistentRead=True,
        )
        return [AuditEntry.model_validate(_from_item(item)) for item in items]

    # -- plumbing ------------------------------------------------------------------------

    def _announced(
        self, before: PaymentRequest | None, after: PaymentRequest
    ) -> list[dict[str, Any]]:
        """The outbox item of the event this change announces to the platform, if any."""
        event = request_event(before, after)
        return [outbox_put(self._table, f"PR#{after.id}", after.version, event)] if event else []

    def _event_put(self, event_id: str) -> dict[str, Any]:
        return processed_event_put(self._table, event_id, self._clock() + EVENT_RETENTION)

    def _get(self, pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
        item = self._db.get_item(
            TableName=self._table, Key=_key(pk, sk), ConsistentRead=consistent
        ).get("Item")
        return _from_item(item) if item else None

    def _query(self, **params: Any) -> Iterator[dict[str, Any]]:
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(TableName=self._table, **params):
            yield from page.get("Items", [])
