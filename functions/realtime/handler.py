"""WebSocket routes: admit a socket to one call's feed, forget it, answer sync and ping.

`$connect` authenticates from the query string (`call_id`, `token`, and for a clinician
opening a call nobody has used yet, `clinic_id`); any other answer than 200 refuses the
socket. `$default` replies through the @connections API, so a crash never reaches the
client: any frame gets an answer (callpay.logic.realtime), and a fault of ours an
`internal_error` frame with the error id of its log line, the socket kept open. The
store too busy to answer at `$connect` is a 503 `store_busy`: the client connects again.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from callpay import realtime_messages, runtime
from callpay.adapters.aws import is_transient
from callpay.domain.errors import BadRequest, DomainError, UpstreamUnavailable
from callpay.http_api import internal_error, path_id
from callpay.principals import principal_of_token
from realtime import composition

logger = Logger(service="realtime")


def status(code: int, error: DomainError | None = None, **extra: str) -> dict[str, Any]:
    if error is None:
        return {"statusCode": code}
    body = {"error": {"code": error.code, "message": error.message, **extra}}
    return {"statusCode": code, "body": json.dumps(body)}


def connect(event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    try:
        call_id, token = query.get("call_id"), query.get("token")
        if not call_id or not token:
            raise BadRequest("missing_parameters", "Connect with ?call_id=...&token=...")
        principal = principal_of_token(token, runtime.patient_tokens(), runtime.clinician_tokens())
        clinic_id = query.get("clinic_id")
        composition.realtime().connect(
            principal, path_id(call_id, "call_id"), clinic_id and path_id(clinic_id, "clinic_id"),
            connection_id,
        )  # fmt: skip
    except (BotoCoreError, ClientError) as error:
        if not is_transient(error):
            raise
        # The store still busy after the client's retries: nothing changed, connect again.
        logger.warning("AWS unavailable", extra={"error": type(error).__name__})
        return status(503, UpstreamUnavailable("store_busy", "Please try again."))
    except DomainError as error:
        logger.info("connection refused", extra={"code": error.code, "status": error.status})
        return status(error.status, error)
    logger.info("connected", extra={"connection_id": connection_id, "call_id": call_id})
    return status(200)


def reply(event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    try:
        answer = composition.realtime().reply_to(connection_id, event.get("body"))
    except Exception:
        error_id, message = internal_error(logger)
        answer = realtime_messages.internal_error(message, error_id)
    runtime.notifier().send(connection_id, answer)
    return status(200)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    route, connection_id = request.get("routeKey"), str(request.get("connectionId"))
    if route == "$connect":
        try:
            return connect(event, connection_id)
        except Exception:
            error_id, message = internal_error(logger)
            return status(500, DomainError("internal_error", message), error_id=error_id)
    if route == "$disconnect":
        composition.realtime().disconnect(connection_id)
        return status(200)
    return reply(event, connection_id)
