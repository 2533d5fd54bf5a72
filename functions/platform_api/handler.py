"""Platform routes: what the video platform's backend (client credentials) and its
organisation admins use: webhook endpoints for signed events (register, list, remove,
replay failed deliveries), and the clinics' invoices (the backend upserts them; the
clinic's people and the backend read them).

Each route turns the HTTP request into one call of the logic and shapes the answer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from callpay import runtime
from callpay.api_models import (
    InvoiceIn,
    InvoiceOut,
    InvoiceQuery,
    InvoicesOut,
    ReplayedOut,
    WebhookEndpointCreatedOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointsOut,
)
from callpay.domain.access import PlatformCaller
from callpay.http_api import (
    install_error_handlers,
    json_response,
    parse_body,
    parse_query,
    path_id,
)
from platform_api import composition

logger = Logger(service="platform_api")
metrics = Metrics(namespace="callpay", service="platform_api")
app = APIGatewayHttpResolver()
install_error_handlers(app, logger)


def caller() -> PlatformCaller:
    return runtime.platform_caller_of(app.current_event.raw_event)


@app.post("/orgs/<org_id>/webhook-endpoints")
def register_endpoint(org_id: str) -> Response[str]:
    who = caller()
    body = parse_body(app.current_event.raw_event, WebhookEndpointIn)
    endpoint, secret = composition.webhook_endpoints().register(
        who, path_id(org_id, "org_id"), body.url, body.description, body.event_types
    )
    logger.info("webhook endpoint registered", extra={"endpoint_id": endpoint.id})
    created = WebhookEndpointOut.of(endpoint).model_dump() | {"secret": secret}
    response = json_response(201, WebhookEndpointCreatedOut.model_validate(created))
    response.headers["Cache-Control"] = "no-store"  # it carries the secret
    return response


@app.get("/orgs/<org_id>/webhook-endpoints")
def list_endpoints(org_id: str) -> Response[str]:
    endpoints = composition.webhook_endpoints().list(caller(), path_id(org_id, "org_id"))
    return json_response(
        200, WebhookEndpointsOut(webhook_endpoints=[WebhookEndpointOut.of(e) for e in endpoints])
    )


@app.delete("/orgs/<org_id>/webhook-endpoints/<endpoint_id>")
def remove_endpoint(org_id: str, endpoint_id: str) -> Response[str]:
    composition.webhook_endpoints().remove(
        caller(), path_id(org_id, "org_id"), path_id(endpoint_id, "endpoint_id")
    )
    return Response(status_code=204, content_type="application/json", body="")


@app.post("/orgs/<org_id>/webhook-endpoints/<endpoint_id>/replay")
def replay_failed(org_id: str, endpoint_id: str) -> Response[str]:
    replayed = composition.webhook_endpoints().replay(
        caller(), path_id(org_id, "org_id"), path_id(endpoint_id, "endpoint_id")
    )
    return json_response(202, ReplayedOut(replayed=replayed))


@app.put("/clinics/<clinic_id>/invoices/<invoice_id>")
def put_invoice(clinic_id: str, invoice_id: str) -> Response[str]:
    who = caller()
    body = parse_body(app.current_event.raw_event, InvoiceIn)
    invoice, created = composition.invoices().put(
        who, path_id(clinic_id, "clinic_id"), path_id(invoice_id, "invoice_id"), body
    )
    return json_response(201 if created else 200, InvoiceOut.of(invoice))


@app.get("/clinics/<clinic_id>/invoices/<invoice_id>")
def get_invoice(clinic_id: str, invoice_id: str) -> Response[str]:
    invoice = composition.invoices().get(
        caller(), path_id(clinic_id, "clinic_id"), path_id(invoice_id, "invoice_id")
    )
    return json_response(200, InvoiceOut.of(invoice))


@app.get("/clinics/<clinic_id>/invoices")
def list_invoices(clinic_id: str) -> Response[str]:
    who = caller()
    query = parse_query(app.current_event.raw_event, InvoiceQuery)
    invoices, after = composition.invoices().list(
        who, path_id(clinic_id, "clinic_id"), patient=query.patient, status=query.status,
        cursor=query.cursor, limit=query.limit,
    )  # fmt: skip
    return json_response(
        200, InvoicesOut(invoices=[InvoiceOut.of(i) for i in invoices], next_cursor=after)
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
