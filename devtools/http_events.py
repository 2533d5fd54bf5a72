"""API Gateway HTTP API (payload format 2.0): a request as the Lambda event, the answer back.

What API Gateway does and the handlers rely on: header names lowercased and repeated
headers joined with commas; cookies moved out of the headers into `cookies`; repeated
query parameters joined with commas; path parameters decoded; a body that is not text
base64-encoded with `isBase64Encoded`; the JWT authorizer's claims, all as strings, in
`requestContext.authorizer.jwt.claims`. An answer without `statusCode` is taken as a JSON
body with status 200; `cookies` become Set-Cookie headers.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

# Bodies with these types reach the Lambda as text; any other body is base64-encoded.
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
TEXT_SUFFIXES = ("+json", "+xml")


@dataclass
class HttpRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: Iterable[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"


@dataclass
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def is_text(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media.startswith(TEXT_TYPES) or media.endswith(TEXT_SUFFIXES)


def joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in pairs:
        result[name] = f"{result[name]},{value}" if name in result else value
    return result


def http_api_event(
    request: HttpRequest,
    route_key: str,
    path_parameters: Mapping[str, str],
    claims: Mapping[str, str] | None,
    domain_name: str,
    *,
    request_id: str | None = None,
) -> dict[str, Any]:
    headers = joined((name.lower(), value) for name, value in request.headers)
    cookie_header = headers.pop("cookie", None)
    cookies = [c.strip() for c in cookie_header.split(";") if c.strip()] if cookie_header else []
    query = joined(parse_qsl(request.raw_query, keep_blank_values=True))
    now = datetime.now(UTC)
    context: dict[str, Any] = {
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": domain_name,
        "domainPrefix": domain_name.partition(".")[0].partition(":")[0],
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id or uuid.uuid4().hex,
        "routeKey": route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(time.time() * 1000),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": dict(claims), "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if request.body:
        text = _as_text(request.body, headers.get("content-type"))
        if text is None:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def _as_text(body: bytes, content_type: str | None) -> str | None:
    if not is_text(content_type):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def http_answer(answer: Any) -> HttpAnswer:
    """The handler's return value as the HTTP response API Gateway would send.

    Raises ValueError for an answer API Gateway could not map (it would answer 500)."""
    if not isinstance(answer, dict) or "statusCode" not in answer:
        # Payload 2.0 without a statusCode: the whole value is a JSON body.
        return HttpAnswer(200, [("Content-Type", "application/json")], json.dumps(answer).encode())
    status = int(answer["statusCode"])
    headers = [(str(k), str(v)) for k, v in (answer.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(cookie)) for cookie in answer.get("cookies") or []]
    body = answer.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("the handler's body is not a string")
    data = base64.b64decode(body, validate=True) if answer.get("isBase64Encoded") else body.encode()
    return HttpAnswer(status, headers, data)


def claims_as_strings(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims the way API Gateway's JWT authorizer hands them on: every value a string,
    arrays as "[a b]", booleans lowercase, objects as JSON."""
    rendered: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, bool):
            rendered[name] = str(value).lower()
        elif isinstance(value, list):
            rendered[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, dict):
            rendered[name] = json.dumps(value, separators=(",", ":"))
        else:
            rendered[name] = str(value)
    return rendered
