"""HTTP plumbing shared by the API handlers: the one boundary every body, query string and
header value crosses on its way in, and `{"error": ...}` answers on the way out.

Client input is read here and nowhere else: a body is parsed by pydantic's own JSON parser
(jiter, which bounds nesting depth and number size) straight into its model, a query string
into its model. What the client got wrong becomes a DomainError (400, 413 or 422); anything
else that escapes a handler, a pydantic ValidationError on our own data included, is ours:
500 `internal_error` with an error id that is in the log line and in the answer.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from callpay.adapters.aws import is_transient
from callpay.domain.errors import BadRequest, DomainError, InvalidInput, UpstreamUnavailable

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

MAX_BODY_BYTES = 64 * 1024
# Error types of our own models (PydanticCustomError) that are codes of the contract.
CONTRACT_CODES = frozenset({"amount_too_large"})
ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Visible ASCII only: the key becomes part of Stripe's idempotency key (at most 255
# characters, ours around it included).
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[!-~]{1,200}$")

M = TypeVar("M", bound=BaseModel)


class Query(BaseModel):
    """A query string's model. Parameters it does not name are ignored (cache busters...);
    a bad value is a 400 whose code `error_codes` gives per parameter."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    error_codes: ClassVar[Mapping[str, str]] = {}


Q = TypeVar("Q", bound=Query)


def http_resolver() -> APIGatewayHttpResolver:
    """Powertools' resolver, with path parameters of any characters but "/": its own pattern
    leaves some out (a quote, a control character...), and such an id would be a 404
    `not_found` where the contract says 400 `invalid_id` (path_id judges every id)."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver  # noqa: PLC0415

    class Resolver(APIGatewayHttpResolver):
        @staticmethod
        def _compile_regex(rule: str, base_regex: str = "^{}$") -> re.Pattern[str]:
            return re.compile(base_regex.format(re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", rule)))

    return Resolver()


def json_response(status: int, body: Any) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response  # noqa: PLC0415

    payload = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body)
    return Response(status_code=status, content_type="application/json", body=payload)


def error_response(status: int, code: str, message: str, **extra: str) -> Response[str]:
    return json_response(status, {"error": {"code": code, "message": message, **extra}})


def lambda_answer(
    status: int, body: str | Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A JSON answer as a Lambda proxy result, for handlers without a resolver."""
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": text,
    }


def lambda_refusal(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return lambda_answer(status, {"error": {"code": code, "message": message}}, headers)


def path_id(value: str, name: str) -> str:
    if not ID_PATTERN.fullmatch(value):  # fullmatch: `$` alone lets a final "\n" through
        raise BadRequest("invalid_id", f"{name} must be 1-128 letters, digits or ._:-")
    return value


def body_text(event: Mapping[str, Any]) -> str:
    """The request body as text, decoding what API Gateway base64-encoded."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise BadRequest("malformed_body", "The request body is not text.")
    # Base64 is 4/3 of the bytes: refuse a huge body before decoding it.
    if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise TooLarge("body_too_large", f"The request body is over {MAX_BODY_BYTES} bytes.")
    if not event.get("isBase64Encoded"):
        return body
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise BadRequest("malformed_body", "The request body is not valid UTF-8.") from None


def parse_body(event: Mapping[str, Any], model: type[M]) -> M:
    """A validated body, or a 400 (not JSON, not an object) / 413 (too large) / 422 (wrong
    shape or value). An empty body is an empty object."""
    text = body_text(event)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise TooLarge("body_too_large", f"The request body is over {MAX_BODY_BYTES} bytes.")
    try:
        return model.model_validate_json(text if text.strip() else "{}")
    except ValidationError as error:
        raise client_error(error) from None


def client_error(error: ValidationError) -> DomainError:
    """What the client sent wrong, as the answer to give: JSON the parser refused (too deep,
    a number too long, not JSON at all) or a body that is not an object is a 400, any other
    mismatch with the model a 422 naming the fields."""
    problems = error.errors(include_input=False, include_url=False)
    for problem in problems:
        if problem["type"] == "json_invalid":
            reason = str((problem.get("ctx") or {}).get("error", "not valid JSON"))
            return BadRequest("malformed_json", f"The request body is not valid JSON: {reason}.")
        if problem["type"] == "string_unicode":
            return BadRequest("malformed_json", "The request body is not valid UTF-8.")
        if problem["type"] == "model_type" and not problem["loc"]:
            return BadRequest("malformed_json", "The request body must be a JSON object.")
    codes = {problem["type"] for problem in problems}
    code = codes.pop() if len(codes) == 1 and codes <= CONTRACT_CODES else "invalid_request"
    return InvalidInput(code, describe(error))


def parse_query(event: Mapping[str, Any], model: type[Q]) -> Q:
    """The query string's parameters, validated, or a 400 naming the first bad one."""
    try:
        return model.model_validate(event.get("queryStringParameters") or {})
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        code = model.error_codes.get(name, "invalid_query")
        raise BadRequest(code, describe(error)) from None


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The `Idempotency-Key` header, if sent: 1-200 visible ASCII characters (a UUID fits)."""
    key = next((v for k, v in headers.items() if k.lower() == "idempotency-key"), None)
    if not key:
        return None
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise BadRequest(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-200 visible ASCII characters (a UUID is best).",
        )
    return key


class TooLarge(DomainError):
    status = 413


def describe(error: ValidationError) -> str:
    """Which fields are wrong and why, without echoing the submitted values back."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def internal_error(logger: Logger) -> tuple[str, str]:
    """Log the exception being handled under a new error id: the id and what to tell the
    client (support finds the log line by the id)."""
    error_id = uuid.uuid4().hex
    logger.exception("unexpected error", extra={"error_id": error_id})
    return error_id, f"Something went wrong on our side (error id {error_id})."


def install_error_handlers(app: APIGatewayHttpResolver, logger: Logger) -> None:
    def ours() -> Response[str]:
        error_id, message = internal_error(logger)
        return error_response(500, "internal_error", message, error_id=error_id)

    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response[str]:
        logger.info("request refused", extra={"code": error.code, "status": error.status})
        return error_response(error.status, error.code, error.message)

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return error_response(404, "not_found", "No such route.")

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[str]:
        # Client input never gets here as a ValidationError (parse_body and parse_query
        # turn it into a DomainError): one reaching here was raised on our own data.
        return ours()

    @app.exception_handler([BotoCoreError, ClientError])
    def aws_fault(error: Exception) -> Response[str]:
        """DynamoDB, SQS or API Gateway still failing after the client's retries: nothing
        was changed and the caller may retry (aws.is_transient); anything else is ours."""
        if not is_transient(error):
            return ours()
        logger.warning("AWS unavailable", extra={"error": type(error).__name__})
        busy = UpstreamUnavailable("store_busy", "Please try again.")
        return error_response(busy.status, busy.code, busy.message)
