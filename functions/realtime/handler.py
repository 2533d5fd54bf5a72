"""WebSocket routes: admit a socket to one call's feed, forget it, answer sync and ping.

`$connect` authenticates from the query string (`call_id`, `token`, and for a clinician
opening a call nobody has used yet, `clinic_id`); any other answer than 200 refuses the
socket. `$default` replies through the @connections API, so a crash never reaches the
client: malformed frames get an error frame.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from callpay import runtime
from callpay.domain.errors import BadRequest, DomainError
from callpay.http_api import path_id
from callpay.principals import principal_of_token

logger = Logger(service="realtime")


def status(code: int, error: DomainError | None = None) -> dict[str, Any]:
    if error is None:
        return {"statusCode": code}
    body = {"error": {"code": error.code, "message": error.message}}
    return {"statusCode": code, "body": json.dumps(body)}


def connect(event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    try:
        call_id, token = query.get("call_id"), query.get("token")
        if not call_id or not token:
            raise BadRequest("missing_parameters", "Connect with ?call_id=...&token=...")
        principal = principal_of_token(token, runtime.patient_tokens(), runtime.clinician_tokens())
        clinic_id = query.get("clinic_id")
        runtime.realtime().connect(
            principal, path_id(call_id, "call_id"), clinic_id and path_id(clinic_id, "clinic_id"),
            connection_id,
        )  # fmt: skip
    except DomainError as error:
        logger.info("connection refused", extra={"code": error.code, "status": error.status})
        return status(error.status, error)
    logger.info("connected", extra={"connection_id": connection_id, "call_id": call_id})
    return status(200)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    route, connection_id = request.get("routeKey"), str(request.get("connectionId"))
    if route == "$connect":
        return connect(event, connection_id)
    if route == "$disconnect":
        runtime.realtime().disconnect(connection_id)
        return status(200)
    reply = runtime.realtime().reply_to(connection_id, event.get("body"))
    runtime.notifier().send(connection_id, reply)
    return status(200)
