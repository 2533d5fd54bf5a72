"""What Powertools' runtime validation would cost and change (docs/decisions.md, "The
contract documents"): one route, with and without `enable_validation`, in fresh processes.

    .venv/bin/python benchmarks/openapi_validation.py [--runs 11]

Prints the medians of importing Powertools and declaring the resolver and route, and of
the first request; then what a body nested 30,000 deep does to each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMON = """
import json, time
t0 = time.perf_counter()
from typing import Annotated
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from callpay.api_models import PaymentRequestIn
from callpay.http_api import install_error_handlers, json_response, parse_body
from aws_lambda_powertools import Logger
"""
PLAIN = (
    COMMON
    + """
app = APIGatewayHttpResolver()
install_error_handlers(app, Logger(service="bench"))

@app.post("/calls/<call_id>/payment-requests")
def create(call_id: str):
    return json_response(201, parse_body(app.current_event.raw_event, PaymentRequestIn))
"""
)
VALIDATED = (
    COMMON
    + """
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app, Logger(service="bench"))

@app.post("/calls/<call_id>/payment-requests")
def create(
    call_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")],
    body: Annotated[PaymentRequestIn, Body()],
):
    return json_response(201, body)
"""
)
REQUEST = """
t1 = time.perf_counter()
event = {"version": "2.0", "routeKey": "POST /calls/{call_id}/payment-requests",
         "rawPath": "/calls/c1/payment-requests", "rawQueryString": "",
         "headers": {"content-type": "application/json"},
         "requestContext": {"http": {"method": "POST", "path": "/calls/c1/payment-requests",
                                     "sourceIp": "203.0.113.1"}, "stage": "$default"},
         "pathParameters": {"call_id": "c1"}, "isBase64Encoded": False,
         "body": json.dumps({"clinic_id": "clinic-1", "amount": 5000, "currency": "aud",
                             "description": "x"})}
status = app.resolve(event, {})["statusCode"]
t2 = time.perf_counter()
try:
    deep = app.resolve(event | {"body": "[" * 30000 + "]" * 30000}, {})
    deep = f"{deep['statusCode']} {json.loads(deep['body'])['error']['code']}"
except RecursionError:
    deep = "RecursionError out of resolve"
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t2 - t1) * 1000,
                  "status": status, "deep": deep}))
"""


def measure(source: str, runs: int) -> tuple[float, float, str]:
    results = [
        json.loads(
            subprocess.run(  # noqa: S603 - fixed interpreter and code
                [sys.executable, "-c", source + REQUEST],
                capture_output=True, text=True, check=True,
                env={"PYTHONPATH": str(ROOT / "functions"), "POWERTOOLS_LOG_LEVEL": "ERROR"},
            ).stdout.strip().splitlines()[-1]
        )
        for _ in range(runs)
    ]  # fmt: skip
    return (
        statistics.median(r["import_ms"] for r in results),
        statistics.median(r["first_ms"] for r in results),
        results[0]["deep"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=11)
    runs = parser.parse_args().runs
    for name, source in (("without validation", PLAIN), ("enable_validation", VALIDATED)):
        imported, first, deep = measure(source, runs)
        print(f"{name:<20} import+declare {imported:6.1f} ms  first request {first:5.1f} ms  "
              f"30,000-deep body: {deep}")  # fmt: skip


if __name__ == "__main__":
    main()
