"""Clinic routes: settings, the clinic's Stripe account (link, status, remove), payments report.

All are for clinic admins (`team_admin`) and organisation admins; enabling payments is
for organisation admins only.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from callpay import runtime
from callpay.api_models import (
    ClinicSettingsIn,
    ClinicSettingsOut,
    PaymentRequestOut,
    ReportQuery,
    StripeAccountOut,
)
from callpay.domain.access import Principal
from callpay.domain.payment_request import PaymentRequest
from callpay.http_api import (
    install_error_handlers,
    json_response,
    parse_body,
    parse_query,
    path_id,
)

logger = Logger(service="clinic_admin")
metrics = Metrics(namespace="callpay", service="clinic_admin")
app = APIGatewayHttpResolver()
install_error_handlers(app, logger)

# A hold: `capture_method` manual, `amount` what was held, `amount_captured` what it charged
# (0 when released or lapsed: `cancellation_reason` released / expired); `charge_reason`
# no_show for a no-show fee, `off_session` when charged to a kept card.
REPORT_COLUMNS = ("id", "created_at", "paid_at", "call_id", "status", "currency", "amount",
                  "amount_captured", "amount_refunded", "description", "capture_method",
                  "charge_reason", "cancellation_reason", "off_session")  # fmt: skip


def caller() -> Principal:
    # Clinicians and admins only: this function holds no patient token key.
    return runtime.staff_caller_of(app.current_event.raw_event)


@app.get("/clinics/<clinic_id>/settings")
def get_settings(clinic_id: str) -> Response[str]:
    clinic = runtime.clinic_admin().settings(caller(), path_id(clinic_id, "clinic_id"))
    return json_response(200, ClinicSettingsOut.of(clinic))


@app.put("/clinics/<clinic_id>/settings")
def put_settings(clinic_id: str) -> Response[str]:
    principal = caller()
    body = parse_body(app.current_event.raw_event, ClinicSettingsIn)
    clinic = runtime.clinic_admin().update_settings(
        principal, path_id(clinic_id, "clinic_id"), body
    )
    return json_response(200, ClinicSettingsOut.of(clinic))


@app.post("/clinics/<clinic_id>/stripe-account/link")
def link_account(clinic_id: str) -> Response[str]:
    url = runtime.clinic_admin().link_account(caller(), path_id(clinic_id, "clinic_id"))
    return json_response(200, {"url": url})


@app.get("/clinics/<clinic_id>/stripe-account")
def get_account(clinic_id: str) -> Response[str]:
    clinic = runtime.clinic_admin().account(caller(), path_id(clinic_id, "clinic_id"))
    return json_response(200, StripeAccountOut.of(clinic))


@app.delete("/clinics/<clinic_id>/stripe-account")
def remove_account(clinic_id: str) -> Response[str]:
    clinic = runtime.clinic_admin().unlink_account(caller(), path_id(clinic_id, "clinic_id"))
    return json_response(200, StripeAccountOut.of(clinic))


@app.get("/clinics/<clinic_id>/payments")
def payments(clinic_id: str) -> Response[str]:
    """`from` and `to` as dates are whole days in the clinic's time zone (callpay.domain.period)."""
    principal = caller()
    query = parse_query(app.current_event.raw_event, ReportQuery)
    rows = list(
        runtime.clinic_admin().payments(
            principal, path_id(clinic_id, "clinic_id"), query.start, query.end, query.status
        )
    )
    if query.format == "csv":
        return Response(
            status_code=200,
            content_type="text/csv; charset=utf-8",
            body=as_csv(rows),
            headers={"Content-Disposition": f'attachment; filename="payments-{clinic_id}.csv"'},
        )
    return json_response(
        200, {"payments": [PaymentRequestOut.of(r).model_dump(mode="json") for r in rows]}
    )


def as_csv(rows: list[PaymentRequest]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    for request in rows:
        values = request.model_dump(mode="json")
        writer.writerow([neutralise(values[column]) for column in REPORT_COLUMNS])
    return out.getvalue()


def neutralise(value: object) -> object:
    """A spreadsheet runs a cell starting with = + - @ (or a tab or CR) as a formula:
    such text gets a leading quote. Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return f"'{value}"
    return value


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
