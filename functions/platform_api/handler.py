"""Platform routes: what the video platform's backend (client credentials) and its
organisation admins use: webhook endpoints for signed events (register, list, remove,
replay failed deliveries) and, later in this file, invoices.

Each route turns the HTTP request into one call of the logic and shapes the answer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from callpay import runtime
from callpay.api_models import WebhookEndpointCreatedOut, WebhookEndpointIn, WebhookEndpointOut
from callpay.domain.access import PlatformCaller
from callpay.http_api import install_error_handlers, json_response, parse_body, path_id

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
    endpoint, secret = runtime.webhook_endpoints().register(
        who, path_id(org_id, "org_id"), body.url, body.description, body.event_types
    )
    logger.info("webhook endpoint registered", extra={"endpoint_id": endpoint.id})
    created = WebhookEndpointOut.of(endpoint).model_dump() | {"secret": secret}
    response = json_response(201, WebhookEndpointCreatedOut.model_validate(created))
    response.headers["Cache-Control"] = "no-store"  # it carries the secret
    return response


@app.get("/orgs/<org_id>/webhook-endpoints")
def list_endpoints(org_id: str) -> Response[str]:
    endpoints = runtime.webhook_endpoints().list(caller(), path_id(org_id, "org_id"))
    shown = [WebhookEndpointOut.of(e).model_dump(mode="json") for e in endpoints]
    return json_response(200, {"webhook_endpoints": shown})


@app.delete("/orgs/<org_id>/webhook-endpoints/<endpoint_id>")
def remove_endpoint(org_id: str, endpoint_id: str) -> Response[str]:
    runtime.webhook_endpoints().remove(
        caller(), path_id(org_id, "org_id"), path_id(endpoint_id, "endpoint_id")
    )
    return Response(status_code=204, content_type="application/json", body="")


@app.post("/orgs/<org_id>/webhook-endpoints/<endpoint_id>/replay")
def replay_failed(org_id: str, endpoint_id: str) -> Response[str]:
    replayed = runtime.webhook_endpoints().replay(
        caller(), path_id(org_id, "org_id"), path_id(endpoint_id, "endpoint_id")
    )
    return json_response(202, {"replayed": replayed})


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
