"""The contract documents: generated from the code, committed as generated, valid OpenAPI,
and a judge that refuses what they do not declare. (Every HTTP answer of the unit tests is
held to docs/openapi.json by tests/unit/conftest.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from api_contract.handler import lambda_handler as api_contract
from callpay import contract
from devtools import asyncapi, openapi
from devtools.infra_tables import http_routes
from devtools.paths import REPO_ROOT
from request_payment.handler import lambda_handler as request_payment
from tests.support.contract import Answer, committed, feed
from tests.support.events import LambdaContext, clinician_claims, http_event, reply
from tests.unit.conftest import World

REGENERATE = "run `make openapi` and commit the result"


def test_the_committed_openapi_document_is_the_one_the_code_generates() -> None:
    generated = openapi.render(openapi.document(http_routes()))
    for path in (openapi.DOCUMENT, openapi.SERVED):
        assert path.read_text(encoding="utf-8") == generated, f"{path} is stale: {REGENERATE}"


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(committed().document)
    assert committed().document["openapi"] == "3.1.0"


def test_every_route_of_the_api_has_its_operation_and_no_operation_lacks_a_route() -> None:
    keys = {route.key for route in http_routes() if not route.is_default}
    assert keys == set(contract.OPERATIONS)


def test_every_declared_code_is_one_the_code_can_answer() -> None:
    """No code in the document that nothing raises: each is a string literal in functions/."""
    source = "\n".join(
        path.read_text() for path in (REPO_ROOT / "functions").rglob("*.py")
        if path.name != "contract.py"
    )  # fmt: skip
    literals = set(re.findall(r'"([a-z_]+)"', source))
    declared = {
        code
        for path_item in committed().document["paths"].values()
        for operation in path_item.values()
        for response in operation["responses"].values()
        for media in response.get("content", {}).values()
        for code in _codes(media["schema"])
    }
    assert declared
    assert declared - literals == set()


def _codes(schema: object) -> list[str]:
    if isinstance(schema, dict):
        if "enum" in schema and isinstance(schema["enum"], list):
            return [str(code) for code in schema["enum"]]
        return [code for value in schema.values() for code in _codes(value)]
    if isinstance(schema, list):
        return [code for value in schema for code in _codes(value)]
    return []


@pytest.mark.parametrize(
    ("status", "body", "complaint"),
    [
        (403, {"error": {"code": "not_cancelable", "message": "x"}}, "is not one of"),
        (418, {"error": {"code": "teapot", "message": "x"}}, "does not declare"),
        (404, {"error": {"code": "payment_request_not_found"}}, "'message' is a required"),
        (404, {"error": {"code": "payment_request_not_found", "message": "x", "id": "1"}},
         "Additional properties"),
        (200, {"id": "pr_1"}, "is a required property"),
    ],
)  # fmt: skip
def test_the_judge_refuses_what_the_document_does_not_declare(
    status: int, body: object, complaint: str
) -> None:
    answer = Answer(status, "application/json", json.dumps(body))
    problems = committed().problems("GET", "/payment-requests/pr_1", answer)
    assert any(complaint in problem for problem in problems), problems


def test_the_judge_takes_a_declared_refusal() -> None:
    body = {"error": {"code": "payment_request_not_found", "message": "No such request."}}
    answer = Answer(404, "application/json", json.dumps(body))
    assert committed().problems("GET", "/payment-requests/pr_1", answer) == []


def served(method: str, path: str, route_key: str) -> tuple[int, dict[str, str], object]:
    event = http_event(method, path) | {"routeKey": route_key}
    response = api_contract(event, LambdaContext())
    return response["statusCode"], response["headers"], json.loads(response["body"])


def test_the_api_serves_its_document_without_auth() -> None:
    status, headers, body = served("GET", "/openapi.json", "GET /openapi.json")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body == json.loads(Path(openapi.DOCUMENT).read_text())


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "allow"),
    [
        ("GET", "/nowhere", 404, "not_found", None),
        ("GET", "/", 404, "not_found", None),
        ("POST", "/calls/c1/nothing", 404, "not_found", None),
        ("DELETE", "/payment-requests/pr_1", 405, "method_not_allowed", "GET"),
        ("PATCH", "/clinics/clinic-1/settings", 405, "method_not_allowed", "GET, PUT"),
        ("GET", "/payment-requests/pr_1/capture", 405, "method_not_allowed", "POST"),
    ],
)
def test_a_route_miss_gets_the_envelope_404_or_405_with_allow(
    method: str, path: str, status: int, code: str, allow: str | None
) -> None:
    got_status, headers, body = served(method, path, "$default")
    assert (got_status, body) == (
        status,
        {"error": {"code": code, "message": body["error"]["message"]}},
    )  # type: ignore[index]
    assert headers.get("Allow") == allow


# -- the feed's AsyncAPI document -------------------------------------------------------

ASYNCAPI_SPEC = REPO_ROOT / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"


def test_the_committed_asyncapi_document_is_the_one_the_code_generates() -> None:
    assert asyncapi.DOCUMENT.read_text(encoding="utf-8") == asyncapi.render(asyncapi.document()), (
        f"{asyncapi.DOCUMENT} is stale: {REGENERATE}"
    )


def asyncapi_validator() -> Draft7Validator:
    """The AsyncAPI 3.0.0 JSON Schema of @asyncapi/specs (package.json, installed by npm ci)."""
    spec = json.loads(ASYNCAPI_SPEC.read_text())
    registry: Registry[Any] = Registry().with_resources(
        (part["$id"], Resource.from_contents(part, default_specification=DRAFT7))
        for part in (spec, *spec["definitions"].values())
        if "$id" in part
    )
    return Draft7Validator(spec, registry=registry)


def test_the_asyncapi_document_is_valid_asyncapi_3() -> None:
    validator = asyncapi_validator()
    document = feed().document
    assert [error.message for error in validator.iter_errors(document)] == []
    broken = document | {"operations": {"sendSync": {"action": "shout"}}}
    assert list(validator.iter_errors(broken))


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "pong", "extra": 1} | {"type": "pongs"},
        {"type": "error", "error": {"code": "made_up", "message": "x"}},
        {"type": "error", "error": {"code": "internal_error", "message": "x"}},
        {"type": "payment_request.updated", "payment_request": {"id": "pr_1"}},
        {"type": "call.snapshot", "call_id": "c1"},
    ],
)
def test_the_feed_judge_refuses_frames_the_document_does_not_declare(frame: object) -> None:
    assert feed().frame_problems(frame)


def test_the_feed_judge_takes_declared_frames_and_refusals() -> None:
    assert feed().frame_problems({"type": "pong"}) == []
    body = json.dumps({"error": {"code": "not_your_call", "message": "Not this call."}})
    assert feed().handshake_problems(403, body) == []
    assert feed().handshake_problems(402, body)
    assert feed().handshake_problems(401, body)  # not a 401 code


@pytest.mark.parametrize("raw_id", ['pr"1', "pr\x01", "pr`1", "pr\u00e9\u20ac"])
def test_a_path_id_powertools_would_not_match_is_400_invalid_id_not_a_route_miss(
    world: World, raw_id: str
) -> None:
    """Regression (found by holding the input-boundary properties to the document):
    Powertools' own parameter pattern left these out, and they answered 404 `not_found`."""
    event = http_event("GET", f"/payment-requests/{raw_id}", claims=clinician_claims())
    status, body = reply(request_payment(event, LambdaContext()))
    assert (status, body["error"]["code"]) == (400, "invalid_id")
