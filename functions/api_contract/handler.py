"""GET /openapi.json, and the HTTP API's `$default` route: every request no other route takes.

The document is the one `make openapi` generated (docs/openapi.json), shipped beside this
file. A route miss gets callpay's error envelope, as every other refusal: 405
`method_not_allowed` with `Allow` when the document has the path under other methods, else
404 `not_found` (API Gateway alone would answer `{"message": "Not Found"}`).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from callpay.http_api import lambda_answer, lambda_refusal

logger = Logger(service="api_contract")

DOCUMENT = Path(__file__).with_name("openapi.json")
OPENAPI_ROUTE = "GET /openapi.json"


@cache
def document_text() -> str:
    return DOCUMENT.read_text(encoding="utf-8")


@cache
def path_methods() -> list[tuple[re.Pattern[str], list[str]]]:
    """Each path of the document as API Gateway matches it, with its methods."""
    paths: dict[str, dict[str, Any]] = json.loads(document_text())["paths"]
    return [
        (re.compile("^" + re.sub(r"\\{[^}/]+\\}", "[^/]+", re.escape(path)) + "$"),
                    sorted(method.upper() for method in operations))
        for path, operations in paths.items()
    ]  # fmt: skip


def route_miss(method: str, raw_path: str) -> dict[str, Any]:
    allowed = sorted({m for pattern, methods in path_methods() if pattern.match(raw_path)
                      for m in methods})  # fmt: skip
    if allowed and method not in allowed:
        return lambda_refusal(
            405, "method_not_allowed", f"Use {', '.join(allowed)} here.",
            headers={"Allow": ", ".join(allowed)},
        )  # fmt: skip
    return lambda_refusal(404, "not_found", "No such route.")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("routeKey") == OPENAPI_ROUTE:
        return lambda_answer(200, document_text(), headers={"Cache-Control": "public, max-age=300"})
    http = (event.get("requestContext") or {}).get("http") or {}
    return route_miss(str(http.get("method", "")), str(event.get("rawPath") or "/"))
