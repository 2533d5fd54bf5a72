"""API Gateway HTTP API (v2) events and a Lambda context, as AWS would hand them to a handler."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


def clinician_claims(
    sub: str = "clin-1", org_id: str = "org-1", role: str = "team_member", clinics: str = "clinic-1"
) -> dict[str, str]:
    return {"sub": sub, "org_id": org_id, "role": role, "clinic_ids": clinics}


def http_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    claims: dict[str, str] | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    raw_body: str | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An HTTP API payload-format-2.0 event; claims appear as the JWT authorizer puts them."""
    all_headers = {"content-type": "application/json"} | (headers or {})
    if token:
        all_headers["authorization"] = f"Bearer {token}"
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    if text is not None and base64_body:
        text = base64.b64encode(text.encode()).decode()
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "api",
        "domainName": "api.example.com",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1"},
        "requestId": uuid.uuid4().hex,
        "routeKey": "$default",
        "stage": "$default",
        "time": "21/Nov/2026:00:00:00 +0000",
        "timeEpoch": 0,
    }
    if claims:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": context,
        "body": text,
        "isBase64Encoded": base64_body,
    }


def reply(response: dict[str, Any]) -> tuple[int, Any]:
    """A handler's answer as (status, parsed JSON body)."""
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response["statusCode"], json.loads(body) if body else None
