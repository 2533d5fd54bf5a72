"""Invoices on the single table: `INVOICE#<clinic>#<invoice>`, listed by clinic and patient
through the `by_clinic` index (`INVOICES#<clinic>` / `<patient>#<invoice>`).

The platform's upserts are conditional on the version read. A payment request claims its
invoices (unpaid, at the version it read, -> pending) in the transaction that creates it,
and moves them (paid, released, refunded) in the transaction of each of its changes; the
transaction items for both are made here.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from callpay.adapters.dynamodb_items import from_item, is_condition_failure, key, to_item
from callpay.adapters.table_schema import INDEXES
from callpay.domain.invoice import Invoice, InvoiceMove, InvoiceStatus
from callpay.domain.payment_request import PaymentRequest
from callpay.ports import VersionConflict

INDEX = "by_clinic"


def invoice_key(clinic_id: str, invoice_id: str) -> dict[str, Any]:
    return key(f"INVOICE#{clinic_id}#{invoice_id}", "INVOICE")


def invoice_item(invoice: Invoice) -> dict[str, Any]:
    pk, sk = INDEXES[INDEX]
    keys = invoice_key(invoice.clinic_id, invoice.id)
    values = invoice.model_dump(mode="json") | {
        "PK": keys["PK"]["S"],
        "SK": "INVOICE",
        "kind": "invoice",
        pk: f"INVOICES#{invoice.clinic_id}",
        str(sk): f"{invoice.patient}#{invoice.id}",
    }
    return to_item(values)


def read_invoice(client: Any, table: str, clinic_id: str, invoice_id: str) -> Invoice | None:
    item = client.get_item(
        TableName=table, Key=invoice_key(clinic_id, invoice_id), ConsistentRead=True
    ).get("Item")
    return Invoice.model_validate(from_item(item)) if item else None


def claim_update(table: str, invoice: Invoice, request: PaymentRequest) -> dict[str, Any]:
    """Unpaid and unchanged since it was read -> pending for `request`."""
    return {
        "Update": {
            "TableName": table,
            "Key": invoice_key(invoice.clinic_id, invoice.id),
            "UpdateExpression": (
                "SET #status = :pending, payment_request_id = :pr, updated_at = :now, "
                "version = version + :one"
            ),
            "ConditionExpression": "version = :version AND #status = :unpaid",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(
                {
                    ":pending": InvoiceStatus.PENDING.value,
                    ":pr": request.id,
                    ":now": request.created_at.isoformat(),
                    ":one": 1,
                    ":version": invoice.version,
                    ":unpaid": InvoiceStatus.UNPAID.value,
                }
            ),
        }
    }


def move_update(table: str, move: InvoiceMove, request: PaymentRequest) -> dict[str, Any]:
    """The move, on the condition that the invoice is still the request's, in `expected`."""
    sets = ["#status = :to", "updated_at = :now", "version = version + :one"]
    values: dict[str, Any] = {
        ":to": move.to.value, ":now": request.updated_at.isoformat(), ":one": 1,
        ":pr": request.id,
    }  # fmt: skip
    removes = []
    if move.to is InvoiceStatus.PAID:
        sets += ["paid_at = :paid_at", "receipt_number = :number"]
        values |= {":paid_at": move.paid_at.isoformat() if move.paid_at else None,
                   ":number": move.receipt_number}  # fmt: skip
    elif move.to is InvoiceStatus.UNPAID:
        removes.append("payment_request_id")
    else:
        sets.append("amount_refunded = :refunded")
        values[":refunded"] = move.amount_refunded
    expected = {f":expected{n}": status.value for n, status in enumerate(move.expected)}
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return {
        "Update": {
            "TableName": table,
            "Key": invoice_key(request.clinic_id, move.invoice_id),
            "UpdateExpression": update,
            "ConditionExpression": (
                f"payment_request_id = :pr AND #status IN ({', '.join(expected)})"
            ),
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(values | expected),
        }
    }


class DynamoDBInvoiceStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def get_invoice(self, clinic_id: str, invoice_id: str) -> Invoice | None:
        return read_invoice(self._db, self._table, clinic_id, invoice_id)

    def put_invoice(self, invoice: Invoice, expected_version: int | None) -> None:
        """Write a new invoice (`expected_version` None) or the next version of one;
        VersionConflict if it changed meanwhile (a payment request claimed it, say)."""
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(PK)"}
            if expected_version is None
            else {
                "ConditionExpression": "version = :expected AND #status IN (:unpaid, :void)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": to_item(
                    {
                        ":expected": expected_version,
                        ":unpaid": InvoiceStatus.UNPAID.value,
                        ":void": InvoiceStatus.VOID.value,
                    }
                ),
            }
        )
        try:
            self._db.put_item(TableName=self._table, Item=invoice_item(invoice), **condition)
        except ClientError as error:
            if is_condition_failure(error):
                raise VersionConflict(invoice.id) from error
            raise

    def invoices_of(
        self, clinic_id: str, patient: str | None, start_after: str | None, limit: int
    ) -> tuple[list[Invoice], str | None]:
        """A clinic's invoices (a patient's, when given) by patient and id; the last one's
        index key when there are more."""
        pk, sk = INDEXES[INDEX]
        condition = "#pk = :pk" + (" AND begins_with(#sk, :patient)" if patient else "")
        values = {":pk": f"INVOICES#{clinic_id}"} | ({":patient": f"{patient}#"} if patient else {})
        params: dict[str, Any] = {
            "IndexName": INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#pk": pk, **({"#sk": str(sk)} if patient else {})},
            "ExpressionAttributeValues": to_item(values),
            "Limit": limit,
        }
        if start_after:
            invoice_id = start_after.rpartition("#")[2]
            keys = invoice_key(clinic_id, invoice_id)
            params["ExclusiveStartKey"] = keys | to_item(
                {pk: f"INVOICES#{clinic_id}", str(sk): start_after}
            )
        answer = self._db.query(TableName=self._table, **params)
        invoices = [Invoice.model_validate(from_item(item)) for item in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        return invoices, (str(from_item(last)[str(sk)]) if last else None)
