"""Invoke a handler with a sample event, the way Lambda would.

    python devtools/invoke.py request_payment events/request_payment/create_payment_request.json
    python devtools/invoke.py stripe_webhook events/stripe_webhook/payment_intent_succeeded.json \\
        --sign whsec_...

The handler reads its configuration from the environment (TABLE_NAME, CALLPAY_SECRET_ID,
AWS_ENDPOINT_URL for a local moto server, STRIPE_API_BASE for localstripe). `--sign`
re-signs a Stripe delivery now, since a signature is only valid for five minutes.
`--token` replaces a patient-token placeholder in the Authorization header.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import importlib
import json
import time
from pathlib import Path
from typing import Any


class Context:
    function_name = "local-invoke"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:local-invoke"
    aws_request_id = "local-invoke"


def signed(event: dict[str, Any], secret: str) -> dict[str, Any]:
    timestamp = int(time.time())
    payload = f"{timestamp}.{event['body']}".encode()
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    event["headers"]["stripe-signature"] = f"t={timestamp},v1={digest}"
    return event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("function", choices=["request_payment", "stripe_webhook"])
    parser.add_argument("event", type=Path)
    parser.add_argument("--sign", metavar="WEBHOOK_SECRET")
    parser.add_argument("--token", metavar="PATIENT_TOKEN")
    args = parser.parse_args()

    event = json.loads(args.event.read_text())
    if args.sign:
        event = signed(event, args.sign)
    if args.token and "authorization" in event["headers"]:
        event["headers"]["authorization"] = f"Bearer {args.token}"
    handler = importlib.import_module(f"{args.function}.handler").lambda_handler
    print(json.dumps(handler(event, Context()), indent=2))


if __name__ == "__main__":
    main()
