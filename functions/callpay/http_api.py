"""HTTP plumbing shared by the API handlers: JSON bodies in, `{"error": ...}` answers out.

Domain errors become HTTP answers here and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError

from callpay.adapters.aws import is_transient
from callpay.domain.errors import BadRequest, DomainError, UpstreamUnavailable

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

MAX_BODY_BYTES = 64 * 1024
ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

M = TypeVar("M", bound=BaseModel)


def json_response(status: int, body: Any) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response  # noqa: PLC0415

    payload = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body)
    return Response(status_code=status, content_type="application/json", body=payload)


def error_response(status: int, code: str, message: str) -> Response[str]:
    return json_response(status, {"error": {"code": code, "message": message}})


def path_id(value: str, name: str) -> str:
    if not ID_PATTERN.match(value):
        raise BadRequest("invalid_id", f"{name} must be 1-128 letters, digits or ._:-")
    return value


def body_text(event: Mapping[str, Any]) -> str:
    """The request body as text, decoding what API Gateway base64-encoded."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body)
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise BadRequest("malformed_body", "The request body is not valid UTF-8.") from None


def parse_body(event: Mapping[str, Any], model: type[M]) -> M:
    """A validated body, or a 400 (not JSON) / 413 (too large) / 422 (wrong shape)."""
    text = body_text(event)
    if len(text.encode()) > MAX_BODY_BYTES:
        raise _TooLarge("body_too_large", "The request body is too large.")
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        raise BadRequest("malformed_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("malformed_json", "The request body must be a JSON object.")
    return model.model_validate(data)


class _TooLarge(DomainError):
    status = 413


def describe(error: ValidationError) -> str:
    """Which fields are wrong and why, without echoing the submitted values back."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def install_error_handlers(app: APIGatewayHttpResolver, logger: Logger) -> None:
    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response[str]:
        logger.info("request refused", extra={"code": error.code, "status": error.status})
        return error_response(error.status, error.code, error.message)

    @app.exception_handler(ValidationError)
    def invalid_body(error: ValidationError) -> Response[str]:
        return error_response(422, "invalid_request", describe(error))

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return error_response(404, "not_found", "No such route.")

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[str]:
        return internal_error(logger)

    @app.exception_handler([BotoCoreError, ClientError])
    def aws_fault(error: Exception) -> Response[str]:
        """DynamoDB, SQS or API Gateway still failing after the client's retries: nothing
        was changed and the caller may retry (aws.is_transient); anything else is ours."""
        if not is_transient(error):
            return internal_error(logger)
        logger.warning("AWS unavailable", extra={"error": type(error).__name__})
        busy = UpstreamUnavailable("store_busy", "Please try again.")
        return error_response(busy.status, busy.code, busy.message)


def internal_error(logger: Logger) -> Response[str]:
    logger.exception("unexpected error")
    return error_response(500, "internal_error", "Something went wrong on our side.")
