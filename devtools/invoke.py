"""Invoke a handler with a sample event, the way Lambda would.

    python devtools/invoke.py --local request_payment events/request_payment/patient_access.json
    python devtools/invoke.py --local stripe_webhook \\
        events/stripe_webhook/payment_intent_succeeded.json
    python devtools/invoke.py --local send_receipt events/send_receipt/receipt_batch.json

Functions: request_payment, stripe_webhook, realtime, send_receipt, clinic_admin,
platform_api, platform_outbox, platform_delivery, api_contract, hold_sweeper; sample
events for each are in events/<function>/. `--local` runs the handler against the stack
`make dev` is running: it takes the environment the stack gives its handlers from
`.callpay/local.json` (or `--state-dir`'s; moto's endpoint and keys, the region, TABLE_NAME,
the three *_SECRET_ID, localstripe, the gateway's @connections and JWKS...), and signs
stripe_webhook deliveries with the stack's webhook secret. Without it the handler reads
its configuration from the environment as it is. `--sign` (re-)signs a Stripe delivery
now with the secret given, since a signature is only valid for five minutes. `--token`
replaces the bearer token (a placeholder in the samples) in the Authorization header or
the WebSocket `$connect` query string.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from devtools.endpoints import Endpoints
from devtools.lambda_functions import local_function
from devtools.paths import REPO_ROOT
from devtools.stripe_signature import signature_header

FUNCTIONS = ("request_payment", "stripe_webhook", "realtime", "send_receipt", "clinic_admin",
             "platform_api", "platform_outbox", "platform_delivery", "api_contract",
             "hold_sweeper")  # fmt: skip
# Credentials of a developer's own AWS profile must not reach moto (or, by mistake, AWS).
NOT_INHERITED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN")


def signed(event: dict[str, Any], secret: str) -> dict[str, Any]:
    """The delivery with a Stripe-Signature header for its body, made now."""
    event["headers"]["stripe-signature"] = signature_header(event["body"].encode(), secret)
    return event


def with_token(event: dict[str, Any], token: str) -> dict[str, Any]:
    headers = event.get("headers") or {}
    if "authorization" in headers:
        headers["authorization"] = f"Bearer {token}"
    query = event.get("queryStringParameters") or {}
    if "token" in query:
        query["token"] = token
    return event


def local_stack(state_dir: Path) -> Endpoints:
    """The running local stack's endpoints, its handler environment applied to this one."""
    try:
        endpoints = Endpoints.load(state_dir)
    except FileNotFoundError:
        sys.exit(f"no local stack is running ({state_dir}/local.json): start it with `make dev`")
    if not endpoints.environment:
        sys.exit(f"{state_dir}/local.json has no handler environment: restart `make dev`")
    for name in NOT_INHERITED:
        os.environ.pop(name, None)
    os.environ.update(endpoints.environment)
    return endpoints


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("function", choices=FUNCTIONS)
    parser.add_argument("event", type=Path)
    parser.add_argument(
        "--local", action="store_true", help="run against the stack `make dev` is running"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("CALLPAY_STATE_DIR") or REPO_ROOT / ".callpay"),
        help="where that stack's local.json is (default $CALLPAY_STATE_DIR or .callpay/)",
    )
    parser.add_argument("--sign", metavar="WEBHOOK_SECRET")
    parser.add_argument("--token", metavar="BEARER_TOKEN")
    args = parser.parse_args(argv)

    event = json.loads(args.event.read_text())
    secret = args.sign
    if args.local:
        endpoints = local_stack(args.state_dir)
        if args.function == "stripe_webhook":
            secret = secret or endpoints.webhook_secret
    if secret:
        event = signed(event, secret)
    if args.token:
        event = with_token(event, args.token)
    handler = importlib.import_module(f"{args.function}.handler").lambda_handler
    # Lambda's context object, as the local stack gives it.
    answer = local_function(handler, args.function)(event)
    print(json.dumps(answer, indent=2, default=str))


if __name__ == "__main__":
    main()
