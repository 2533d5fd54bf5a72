"""The AsyncAPI 3.0 document of the WebSocket feed, generated from the code: the connect
query and its refusals, and the messages' JSON Schemas from the pydantic models the server
parses and sends (callpay.realtime_messages).

    python -m devtools.asyncapi      (make openapi writes both documents)

writes docs/asyncapi.yaml. It describes callpay's side: it receives `sync` and `ping`, and
sends the snapshot, the updates, `pong` and error frames.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from callpay import contract as c
from callpay import realtime_messages as rm
from callpay.http_api import ID_PATTERN
from devtools.paths import REPO_ROOT

DOCUMENT = REPO_ROOT / "docs" / "asyncapi.yaml"
REF = "#/components/schemas/{model}"

# What `$connect` answers when it refuses the socket (realtime.handler): the handshake's
# HTTP status, with callpay's error envelope as its body.
HANDSHAKE_REFUSALS = {
    400: ("missing_parameters", "invalid_id"),
    401: ("invalid_token", "token_expired"),
    403: ("unknown_role", "person_only", "not_your_call", "not_your_clinic",
          "call_of_another_clinic", "clinic_required"),
    409: ("payments_not_enabled",),
    500: ("internal_error",),
    503: ("identity_provider_unreachable", "store_busy"),
}  # fmt: skip

# name -> (model, mode, title, summary)
MESSAGES: dict[str, tuple[type[BaseModel], JsonSchemaMode, str]] = {
    "sync": (rm.Sync, "validation", "Ask for the call's payment requests (after every connect)"),
    "ping": (rm.Ping, "validation", "Keep the socket open"),
    "callSnapshot": (rm.CallSnapshot, "serialization", "The call's payment requests"),
    "paymentRequestUpdated": (
        rm.PaymentRequestUpdated, "serialization", "A payment request of the call changed",
    ),
    "pong": (rm.Pong, "serialization", "The answer to ping"),
    "error": (rm.FrameError, "serialization", "A frame we could not act on"),
}  # fmt: skip

DESCRIPTION = """\
One feed per call: clinician and patient apps open it when they join the call; every change
of a payment request in that call is pushed to them. Connect with
`?call_id=...&token=...` (a clinician adds `clinic_id` for a call nobody has used yet).
A refused connection fails the handshake with an HTTP status and callpay's error envelope
`{"error": {"code", "message"}}` (`x-handshake-refusals` lists the codes). After every
(re)connect send `sync`. Every text frame gets exactly one answer and the socket stays open;
binary frames close it (1003). The guide is docs/realtime.md."""


def document() -> dict[str, Any]:
    wanted = [(model, mode) for model, mode, _ in MESSAGES.values()]
    wanted += [(c.Error, "serialization"), (c.InternalError, "serialization")]
    refs, defs = models_json_schema(wanted, ref_template=REF)
    channel_messages = {name: {"$ref": f"#/components/messages/{name}"} for name in MESSAGES}

    def on_channel(*names: str) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/callFeed/messages/{name}"} for name in names]

    channel = {"$ref": "#/channels/callFeed"}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "callpay call feed", "version": version("callpay"),
                 "description": DESCRIPTION},
        "servers": {
            "aws": {"host": "{apiId}.execute-api.{region}.amazonaws.com", "pathname": "/{stage}",
                    "protocol": "wss",
                    "variables": {"apiId": {}, "region": {}, "stage": {"default": "prod"}},
                    "security": [{"$ref": "#/components/securitySchemes/clinicianJwt"},
                                 {"$ref": "#/components/securitySchemes/patientToken"}]},
            "local": {"host": "127.0.0.1:8420", "protocol": "ws",
                      "description": "make dev (the local gateway)"},
        },
        "channels": {"callFeed": {
            "address": "/",
            "title": "A call's payment requests",
            "messages": channel_messages,
            "bindings": {"ws": {"method": "GET", "query": _connect_query()}},
        }},
        "operations": {
            "receiveSync": {"action": "receive", "channel": channel,
                            "messages": on_channel("sync"),
                            "reply": {"channel": channel,
                                      "messages": on_channel("callSnapshot", "error")}},
            "receivePing": {"action": "receive", "channel": channel,
                            "messages": on_channel("ping"),
                            "reply": {"channel": channel, "messages": on_channel("pong", "error")}},
            "sendPaymentRequestUpdated": {
                "action": "send", "channel": channel,
                "messages": on_channel("paymentRequestUpdated"),
                "summary": "Pushed on every change; the clinician's \"payment received\" pop-up "
                           "is one whose status is succeeded.",
            },
        },
        "components": {
            "schemas": defs["$defs"],
            "messages": {
                name: {"name": name, "title": title, "contentType": "application/json",
                       "payload": dict(refs[(model, mode)])}
                for name, (model, mode, title) in MESSAGES.items()
            },
            "securitySchemes": {
                "clinicianJwt": {"type": "httpApiKey", "in": "query", "name": "token",
                                 "description": "The identity provider's JWT."},
                "patientToken": {"type": "httpApiKey", "in": "query", "name": "token",
                                 "description": "The call's patient token (patient access)."},
            },
        },
        "x-handshake-refusals": {
            str(status): {"codes": list(codes), "body": dict(refs[(envelope, "serialization")])}
            for status, codes in HANDSHAKE_REFUSALS.items()
            for envelope in [c.InternalError if status == 500 else c.Error]
        },
    }  # fmt: skip


def _connect_query() -> dict[str, Any]:
    identifier = {"type": "string", "pattern": ID_PATTERN.pattern}
    return {
        "type": "object",
        "required": ["call_id", "token"],
        "properties": {
            "call_id": identifier | {"description": "The call whose feed this is."},
            "token": {"type": "string",
                      "description": "A clinician's JWT or the call's patient token."},
            "clinic_id": identifier | {"description": "A clinician opening a call nobody "
                                       "has used yet: the clinic it belongs to."},
        },
    }  # fmt: skip


class _Dumper(yaml.SafeDumper):
    """Text of several lines as a `|` block, as a person would write it."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def main() -> None:
    DOCUMENT.write_text(render(document()), encoding="utf-8")
    print(f"wrote {DOCUMENT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
