"""Clinic routes: settings, the clinic's Stripe account (link, status, remove), payments report
and the audit trail (a clinic's, or one payment request's).

All are for clinic admins (`team_admin`) and organisation admins; enabling payments is
for organisation admins only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from callpay import runtime
from callpay.api_models import (
    AuditEntryOut,
    AuditPageOut,
    AuditQuery,
    ClinicAuditQuery,
    ClinicSettingsIn,
    ClinicSettingsOut,
    PaymentRequestOut,
    ReportOut,
    ReportQuery,
    StripeAccountLinkOut,
    StripeAccountOut,
)
from callpay.domain.access import Principal
from callpay.domain.payment_request import AuditEntry, PaymentRequest
from callpay.http_api import (
    http_resolver,
    install_error_handlers,
    json_response,
    parse_body,
    parse_query,
    path_id,
)
from clinic_admin import composition

logger = Logger(service="clinic_admin")
metrics = Metrics(namespace="callpay", service="clinic_admin")
app = http_resolver()
install_error_handlers(app, logger)

# A hold: `capture_method` manual, `amount` what was held, `amount_captured` what it charged
# (0 when released or lapsed: `cancellation_reason` released / expired); `charge_reason`
# no_show for a no-show fee, `off_session` when charged to a kept card.
REPORT_COLUMNS = ("id", "created_at", "paid_at", "call_id", "status", "currency", "amount",
                  "amount_captured", "amount_refunded", "description", "capture_method",
                  "charge_reason", "cancellation_reason", "off_session")  # fmt: skip
# With `audit=true`: one row per audit entry of each payment, these columns added.
AUDIT_COLUMNS = ("audit_at", "audit_action", "from_status", "to_status", "actor", "actor_id",
                 "audit_detail")  # fmt: skip


def caller() -> Principal:
    # Clinicians and admins only: this function holds no patient token key.
    return runtime.staff_caller_of(app.current_event.raw_event)


@app.get("/clinics/<clinic_id>/settings")
def get_settings(clinic_id: str) -> Response[str]:
    clinic = composition.clinic_admin().settings(caller(), path_id(clinic_id, "clinic_id"))
    return json_response(200, ClinicSettingsOut.of(clinic))


@app.put("/clinics/<clinic_id>/settings")
def put_settings(clinic_id: str) -> Response[str]:
    principal = caller()
    body = parse_body(app.current_event.raw_event, ClinicSettingsIn)
    clinic = composition.clinic_admin().update_settings(
        principal, path_id(clinic_id, "clinic_id"), body
    )
    return json_response(200, ClinicSettingsOut.of(clinic))


@app.post("/clinics/<clinic_id>/stripe-account/link")
def link_account(clinic_id: str) -> Response[str]:
    url = composition.clinic_admin().link_account(caller(), path_id(clinic_id, "clinic_id"))
    return json_response(200, StripeAccountLinkOut(url=url))


@app.get("/clinics/<clinic_id>/stripe-account")
def get_account(clinic_id: str) -> Response[str]:
    clinic = composition.clinic_admin().account(caller(), path_id(clinic_id, "clinic_id"))
    return json_response(200, StripeAccountOut.of(clinic))


@app.delete("/clinics/<clinic_id>/stripe-account")
def remove_account(clinic_id: str) -> Response[str]:
    clinic = composition.clinic_admin().unlink_account(caller(), path_id(clinic_id, "clinic_id"))
    return json_response(200, StripeAccountOut.of(clinic))


@app.get("/clinics/<clinic_id>/payments")
def payments(clinic_id: str) -> Response[str]:
    """`from` and `to` as dates are whole days in the clinic's time zone (callpay.domain.period)."""
    principal = caller()
    query = parse_query(app.current_event.raw_event, ReportQuery)
    rows = list(
        composition.clinic_admin().payments(
            principal, path_id(clinic_id, "clinic_id"), query.start, query.end, query.status
        )
    )
    if query.format == "csv":
        trail = composition.audit_trail().entries_of if query.audit else None
        return Response(
            status_code=200,
            content_type="text/csv; charset=utf-8",
            body=as_csv(rows, trail),
            headers={"Content-Disposition": f'attachment; filename="payments-{clinic_id}.csv"'},
        )
    return json_response(200, ReportOut(payments=[PaymentRequestOut.of(r) for r in rows]))


def as_csv(
    rows: list[PaymentRequest], trail: Callable[[str], list[AuditEntry]] | None = None
) -> str:
    """One row per payment; with `trail`, one row per audit entry of each payment."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS + (AUDIT_COLUMNS if trail else ()))
    for request in rows:
        values = request.model_dump(mode="json")
        payment = [neutralise(values[column]) for column in REPORT_COLUMNS]
        if trail is None:
            writer.writerow(payment)
            continue
        for entry in trail(request.id):
            shown = AuditEntryOut.of(entry, request.clinic_id)
            audit = [shown.at.isoformat(), shown.action, shown.from_status, shown.to_status,
                     shown.actor.type, shown.actor.id, shown.detail]  # fmt: skip
            writer.writerow(payment + [neutralise(value) for value in audit])
    return out.getvalue()


def neutralise(value: object) -> object:
    """A spreadsheet runs a cell starting with = + - @ (or a tab or CR) as a formula:
    such text gets a leading quote. Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return f"'{value}"
    return value


@app.get("/payment-requests/<payment_request_id>/audit")
def request_audit(payment_request_id: str) -> Response[str]:
    principal = caller()
    query = parse_query(app.current_event.raw_event, AuditQuery)
    request, page = composition.audit_trail().of_request(
        principal, path_id(payment_request_id, "id"), query.cursor, query.limit
    )
    entries = [AuditEntryOut.of(entry, request.clinic_id) for entry in page.entries]
    return json_response(200, AuditPageOut(entries=entries, next_cursor=page.next_cursor))


@app.get("/clinics/<clinic_id>/audit")
def clinic_audit(clinic_id: str) -> Response[str]:
    """`from` and `to` read as the payments report reads them (callpay.domain.period)."""
    principal = caller()
    query = parse_query(app.current_event.raw_event, ClinicAuditQuery)
    clinic_id = path_id(clinic_id, "clinic_id")
    page = composition.audit_trail().of_clinic(
        principal, clinic_id, query.start, query.end, cursor=query.cursor, limit=query.limit
    )
    entries = [AuditEntryOut.of(entry, clinic_id) for entry in page.entries]
    return json_response(200, AuditPageOut(entries=entries, next_cursor=page.next_cursor))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
