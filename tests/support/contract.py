"""The committed OpenAPI document as a judge of answers: is this status declared for this
operation, with this content type, and does the body match its schema (for a refusal, the
envelope with one of the operation's codes)? Used on every answer the HTTP handlers give
in the unit tests (tests/unit/conftest.py) and by the fuzzing of the local stack."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from devtools.paths import REPO_ROOT

DOCUMENT_PATH = REPO_ROOT / "docs" / "openapi.json"
BASE = "urn:callpay:openapi"
# What the $default route answers (api_contract): no operation of the document.
ROUTE_MISSES = {404: "not_found", 405: "method_not_allowed"}


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: str


class Contract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        registry: Registry[Any] = Registry().with_resource(
            BASE, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        self._registry = registry
        self._paths = [
            (re.compile("^" + re.sub(r"\\{[^}/]+\\}", "[^/]+", re.escape(path)) + "$"), path)
            for path in document["paths"]
        ]

    def operation_of(self, method: str, raw_path: str) -> tuple[str, dict[str, Any]] | None:
        for pattern, path in self._paths:
            operation = self.document["paths"][path].get(method.lower())
            if operation is not None and pattern.match(raw_path):
                return path, operation
        return None

    def problems(self, method: str, raw_path: str, answer: Answer) -> list[str]:
        """What in this answer the document does not declare (nothing: an empty list)."""
        found = self.operation_of(method, raw_path)
        if found is None:
            return self._route_miss(answer)
        path, operation = found
        where = f"{method} {path} answered {answer.status}"
        declared = operation["responses"].get(str(answer.status))
        if declared is None:
            return [f"{where}, a status its document does not declare: {answer.body[:300]}"]
        if "content" not in declared:  # a 204
            return [] if not answer.body else [f"{where} with a body: {answer.body[:300]}"]
        media = answer.content_type.split(";")[0].strip()
        types = {name.split(";")[0].strip(): name for name in declared["content"]}
        if media not in types:
            return [f"{where} as {answer.content_type!r}; declared: {sorted(types)}"]
        if media != "application/json":
            return []
        segments = ("paths", path, method.lower(), "responses", str(answer.status), "content",
                    types[media], "schema")  # fmt: skip
        pointer = "#/" + "/".join(s.replace("~", "~0").replace("/", "~1") for s in segments)
        validator = Draft202012Validator({"$ref": BASE + pointer}, registry=self._registry)
        body = json.loads(answer.body)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        return [f"{where}: {error.message} at {list(error.path)} in {body}"[:600]
                for error in errors]  # fmt: skip

    @staticmethod
    def _route_miss(answer: Answer) -> list[str]:
        code = ROUTE_MISSES.get(answer.status)
        try:
            got = json.loads(answer.body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            got = None
        if code is None or got != code:
            return [f"a route miss answered {answer.status} {answer.body[:200]}"]
        return []


FEED_PATH = REPO_ROOT / "docs" / "asyncapi.yaml"
FEED_BASE = "urn:callpay:asyncapi"


class FeedContract:
    """docs/asyncapi.yaml as a judge of what the feed sends and of refused handshakes."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        registry: Registry[Any] = Registry().with_resource(
            FEED_BASE, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        sent = [
            {"$ref": f"{FEED_BASE}#/components/messages/{name}/payload"}
            for name in ("callSnapshot", "paymentRequestUpdated", "pong", "error")
        ]
        self._server = Draft202012Validator({"oneOf": sent}, registry=registry)
        self._registry = registry

    def frame_problems(self, frame: object) -> list[str]:
        return [f"{e.message[:300]} at {list(e.path)}" for e in self._server.iter_errors(frame)]

    def handshake_problems(self, status: int, body: str) -> list[str]:
        refusal = self.document["x-handshake-refusals"].get(str(status))
        if refusal is None:
            return [f"the handshake answered {status}, which the document does not declare"]
        envelope = json.loads(body)
        problems = [e.message for e in Draft202012Validator(
            {"$ref": FEED_BASE + refusal["body"]["$ref"]}, registry=self._registry
        ).iter_errors(envelope)]  # fmt: skip
        code = envelope.get("error", {}).get("code")
        if code not in refusal["codes"]:
            problems.append(f"handshake {status} with code {code!r}: not in {refusal['codes']}")
        return problems


@cache
def feed() -> FeedContract:
    import yaml  # noqa: PLC0415

    return FeedContract(yaml.safe_load(FEED_PATH.read_text(encoding="utf-8")))


def assert_feed_frame(frame: object) -> None:
    problems = feed().frame_problems(frame)
    assert not problems, f"{frame}: " + "\n".join(problems)


@cache
def committed() -> Contract:
    return Contract(json.loads(DOCUMENT_PATH.read_text(encoding="utf-8")))


def answer_of(response: dict[str, Any]) -> Answer:
    """A Lambda proxy result (what a handler returns) as an Answer."""
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        import base64  # noqa: PLC0415

        body = base64.b64decode(body).decode()
    return Answer(int(response["statusCode"]), headers.get("content-type", ""), body)


def assert_declared(method: str, raw_path: str, response: dict[str, Any]) -> None:
    problems = committed().problems(method, raw_path, answer_of(response))
    assert not problems, "\n".join(problems)
