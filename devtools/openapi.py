"""The OpenAPI 3.1 document of the HTTP API, generated from the code: the routes and their
authorizer from infra/http_api.py, what each takes and answers from callpay.contract, and
every schema from the pydantic models the handlers parse and answer with.

    python -m devtools.openapi      (make openapi: this and the AsyncAPI document)

writes docs/openapi.json and the copy the api_contract function serves at /openapi.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from callpay import contract as c
from callpay.contract import Operation
from callpay.domain.access import INVOICES_READ, INVOICES_WRITE, WEBHOOK_ENDPOINTS_WRITE
from callpay.http_api import ID_PATTERN, MAX_BODY_BYTES
from devtools.paths import REPO_ROOT
from devtools.routes import HttpRoute

DOCUMENT = REPO_ROOT / "docs" / "openapi.json"
SERVED = REPO_ROOT / "functions" / "api_contract" / "openapi.json"
REF = "#/components/schemas/{model}"

SECURITY_SCHEMES = {
    c.IDENTITY_PROVIDER: {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "Clinicians and admins: the video platform's identity provider's "
        "JWT (claims `sub`, `org_id`, `role`, `clinic_ids`). On routes behind API Gateway's "
        "JWT authorizer a missing or refused token is its own `401 {\"message\": "
        "\"Unauthorized\"}`.",
    },
    c.PATIENT_TOKEN: {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "Patients: the call-scoped token from "
        "`POST /calls/{call_id}/patient-access` (issuer `callpay`).",
    },
    c.PLATFORM_CLIENT: {
        "type": "oauth2",
        "description": "The video platform's backend: a client-credentials access token of "
        "the same identity provider, with an `org_id` claim (the organisation it acts for) "
        "and the route's scope in `scope` (or `scp`). Replace the token URL with your "
        "identity provider's (docs/decisions.md, Platform backends).",
        "flows": {"clientCredentials": {
            "tokenUrl": "https://identity-provider.example/oauth2/token",
            "scopes": {
                INVOICES_WRITE: "Upsert the clinics' invoices (and read them).",
                INVOICES_READ: "Read the clinics' invoices.",
                WEBHOOK_ENDPOINTS_WRITE: "Register, list, remove and replay webhook endpoints.",
            },
        }},
    },
    c.STRIPE_SIGNATURE: {
        "type": "apiKey", "in": "header", "name": "Stripe-Signature",
        "description": "Stripe's signature of the raw body with the endpoint's secret "
        "(5 minutes' tolerance).",
    },
}  # fmt: skip

STATUS_TEXT = {
    400: "Not JSON, a bad path id, query value or header.",
    401: "No token, or one that is not valid or has expired.",
    402: "The card was declined: the code is Stripe's decline code.",
    403: "Not your call, clinic or role.",
    404: "No such thing (or not visible to you).",
    409: "The state does not allow it.",
    413: f"The body is over {MAX_BODY_BYTES} bytes.",
    422: "Well-formed but invalid: the message names the fields.",
    500: "Our fault: quote the error id to support.",
    503: "A service behind callpay is busy or unreachable: retry (same Idempotency-Key).",
}
DESCRIPTION = """\
In-call payments for telehealth video platforms. JSON in and out; amounts are integers in
the currency's minor unit; times are ISO 8601 UTC. Every refusal is
`{"error": {"code", "message"}}` with the codes each operation lists; a 500 also carries
`error_id`. A request no route takes is `404 not_found` (or `405 method_not_allowed` with
`Allow`). A body is one JSON object of at most 64 KiB, nested at most 200 levels.
The WebSocket feed is described by docs/asyncapi.yaml; the guide is docs/http-api.md."""


def document(routes: Iterable[HttpRoute]) -> dict[str, Any]:
    routes = [r for r in routes if r.path.startswith("/")]
    missing = {r.key for r in routes} - set(c.OPERATIONS)
    if missing:
        raise KeyError(f"routes without an operation in callpay/contract.py: {sorted(missing)}")
    schemas = Schemas([(r, c.OPERATIONS[r.key]) for r in routes])
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(routes, key=lambda r: r.path):
        operation = c.OPERATIONS[route.key]
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, operation, schemas
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "callpay HTTP API", "version": version("callpay"),
                 "description": DESCRIPTION},
        "tags": [{"name": tag} for tag in dict.fromkeys(o.tag for _, o in schemas.operations)],
        "paths": paths,
        "components": {"schemas": schemas.components, "securitySchemes": SECURITY_SCHEMES},
    }  # fmt: skip


class Schemas:
    """The JSON Schemas of every model the operations use, as components."""

    def __init__(self, operations: list[tuple[HttpRoute, Operation]]) -> None:
        self.operations = operations
        wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [
            (c.Error, "serialization"), (c.InternalError, "serialization"),
            (c.GatewayMessage, "serialization"),
        ]  # fmt: skip
        for _, operation in operations:
            if operation.body is not None:
                wanted.append((operation.body, "validation"))
            if operation.query is not None:
                wanted.append((operation.query, "validation"))
            if operation.success.model is not None:
                wanted.append((operation.success.model, "serialization"))
        refs, defs = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
        self._refs = refs
        self.components: dict[str, Any] = defs["$defs"]
        queries = {o.query for _, o in operations if o.query is not None}
        self.query_properties = {query: self.components.pop(query.__name__) for query in queries}

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(self._refs[(model, mode)])


def _operation(route: HttpRoute, operation: Operation, schemas: Schemas) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "tags": [operation.tag],
        "security": [
            {name: list(operation.scopes) if name == c.PLATFORM_CLIENT else []}
            for name in operation.security
        ],
    }
    if operation.description:
        spec["description"] = operation.description
    parameters = _parameters(route, operation, schemas)
    if parameters:
        spec["parameters"] = parameters
    if operation.body is not None:
        spec["requestBody"] = {
            "required": False,  # an empty body is an empty object
            "content": {c.JSON: {"schema": schemas.ref(operation.body, "validation")}},
        }
    elif route.key == "POST /webhooks/stripe":
        spec["requestBody"] = {
            "required": True,
            "content": {c.JSON: {"schema": {
                "type": "object", "required": ["id", "type", "data"],
                "description": "A Stripe event, as Stripe signed it.",
            }}},
        }  # fmt: skip
    spec["responses"] = _responses(route, operation, schemas)
    return spec


def _parameters(route: HttpRoute, operation: Operation, schemas: Schemas) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "pattern": ID_PATTERN.pattern}}
        for name in _path_names(route.path)
    ]  # fmt: skip
    if operation.query is not None:
        model = schemas.query_properties[operation.query]
        for name, schema in model["properties"].items():
            parameters.append({
                "name": name, "in": "query", "required": name in model.get("required", ()),
                "schema": _not_null(schema),
            })  # fmt: skip
    if operation.idempotency_key:
        parameters.append({
            "name": "Idempotency-Key", "in": "header",
            "required": operation.idempotency_key == "required",
            "description": "1-200 visible ASCII characters (a UUID is best), scoped to you.",
            "schema": {"type": "string", "pattern": c.IDEMPOTENCY_KEY},
        })  # fmt: skip
    if operation.accept_language:
        parameters.append({"name": "Accept-Language", "in": "header", "required": False,
                           "schema": {"type": "string"}})  # fmt: skip
    return parameters


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _not_null(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string: never JSON null."""
    out = {k: v for k, v in schema.items() if k != "default" or v is not None}
    branches = [b for b in out.pop("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        out |= branches[0]
    elif branches:
        out["anyOf"] = branches
    return out


def _responses(route: HttpRoute, operation: Operation, schemas: Schemas) -> dict[str, Any]:
    success = operation.success
    content: dict[str, Any] = {}
    if success.content_type == c.NO_CONTENT:
        pass
    elif success.model is not None:
        content[success.content_type] = {"schema": schemas.ref(success.model, "serialization")}
    elif success.content_type == c.JSON:
        content[c.JSON] = {"schema": {"type": "object"}}
    else:
        content[success.content_type] = {"schema": {"type": "string"}}
    if route.key == "GET /clinics/{clinic_id}/payments":
        content["text/csv; charset=utf-8"] = {"schema": {"type": "string"}}
    answer: dict[str, Any] = {"description": success.description}
    if content:
        answer["content"] = content
    if success.headers:
        answer["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in success.headers.items()
        }
    if success.links:
        answer["links"] = {
            operation_id: {"operationId": operation_id, "parameters": {"id": "$response.body#/id"}}
            for operation_id in success.links
        }
    responses: dict[str, Any] = {
        str(status): answer for status in sorted((success.status, *success.also))
    }
    codes = c.refusals(operation, route.path, gateway_jwt=route.clinician_jwt)
    if operation.calls_stripe:
        codes.setdefault(402, set())
    for status in sorted(codes):
        responses[str(status)] = {
            "description": STATUS_TEXT[status],
            "content": {c.JSON: {"schema": _error_schema(status, codes[status], route, schemas)}},
        }
    responses["500"] = {
        "description": STATUS_TEXT[500],
        "content": {c.JSON: {"schema": schemas.ref(c.InternalError, "serialization")}},
    }
    return responses


def _error_schema(
    status: int, codes: set[str], route: HttpRoute, schemas: Schemas
) -> dict[str, Any]:
    code: dict[str, Any] = (
        {"type": "string", "pattern": c.DECLINE_CODE_PATTERN} if status == 402
        else {"enum": sorted(codes)}
    )  # fmt: skip
    envelope = {"allOf": [
        schemas.ref(c.Error, "serialization"),
        {"properties": {"error": {"properties": {"code": code}}}},
    ]}  # fmt: skip
    if status == 401 and route.clinician_jwt:
        return {"anyOf": [schemas.ref(c.GatewayMessage, "serialization"), envelope]}
    return envelope


def render(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write(text: str, *paths: Path) -> None:
    for path in paths:
        path.write_text(text, encoding="utf-8")


def main() -> None:
    from devtools.infra_tables import http_routes  # noqa: PLC0415

    write(render(document(http_routes())), DOCUMENT, SERVED)
    print(f"wrote {DOCUMENT.relative_to(REPO_ROOT)} and {SERVED.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
