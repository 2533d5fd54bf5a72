"""Cost per 1,000 payments on AWS list prices, from the measured durations and calls.

The assumptions are in ASSUMPTIONS and the report prints them with the table. DynamoDB's
units are counted from the calls each handler made in the traced runs, by DynamoDB's
rules (moto's ReturnConsumedCapacity answers flat figures and none for transactions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# us-east-1 list prices (USD), x86_64, as of this benchmark.
LAMBDA_GB_SECOND = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1e6
HTTP_API_REQUEST = 1.00 / 1e6
WEBSOCKET_MESSAGE = 1.00 / 1e6
WEBSOCKET_CONNECTION_MINUTE = 0.25 / 1e6
SQS_REQUEST = 0.40 / 1e6
SES_EMAIL = 0.10 / 1000
DYNAMODB_WRU = 0.625 / 1e6
DYNAMODB_RRU = 0.125 / 1e6
MEMORY_MB = 512

# One payment: invocations of each measured hot path.
INVOCATIONS = {
    "create payment request": 1,
    "checkout": 1,
    # payment_intent.succeeded, and charge.succeeded (the card), read alike.
    "webhook payment_intent.succeeded": 2,
    "send receipt": 1,
    # The clinician's and the patient's sockets ($disconnect and sync cost about as much).
    "realtime $connect": 6,
}
COLD_SHARE = 0.01  # of invocations that start an execution environment
HTTP_REQUESTS = 4  # create, checkout, two webhook deliveries
WEBSOCKET_MESSAGES = 10  # 3 pushes to 2 sockets, 2 syncs and their 2 snapshots
CONNECTION_MINUTES = 30  # 2 sockets through a 15-minute call
SQS_REQUESTS = 3  # send, receive, delete of the receipt job

ASSUMPTIONS = [
    "us-east-1 list prices, x86_64, 512 MB, no free tier",
    "a payment: 1 create, 1 checkout, 2 webhook deliveries (payment_intent.succeeded, "
    "charge.succeeded), 1 receipt, 6 WebSocket invocations ($connect, sync, $disconnect "
    "for the clinician and the patient, each costed as a $connect)",
    f"warm medians measured here; {COLD_SHARE:.0%} of invocations cold (measured cold figure)",
    "DynamoDB on demand; from the traced calls: a write 1 WRU (items under 1 KB), a "
    "transaction 2 WRU per item, a consistent read 1 RRU, a query 0.5 RRU",
    f"HTTP API: {HTTP_REQUESTS} requests; WebSocket: {WEBSOCKET_MESSAGES} messages, "
    f"{CONNECTION_MINUTES} connection minutes; SQS: {SQS_REQUESTS} requests; SES: 1 e-mail",
    "Secrets Manager: read once per 5 minutes per environment, left out",
]


@dataclass
class Units:
    read: float = 0.0
    write: float = 0.0


def dynamodb_units(calls: Sequence[str]) -> Units:
    units = Units()
    for call in calls:
        if not call.startswith("dynamodb."):
            continue
        operation = call.removeprefix("dynamodb.")
        if operation.startswith("TransactWriteItems"):
            match = re.search(r"\[(\d+)\]", operation)
            units.write += 2 * int(match.group(1) if match else 1)
        elif operation in {"PutItem", "UpdateItem", "DeleteItem"}:
            units.write += 1
        elif operation == "GetItem":
            units.read += 1
        elif operation == "Query":
            units.read += 0.5
    return units


def per_thousand(
    warm_ms: Mapping[str, float], cold_ms: Mapping[str, float],
    calls: Mapping[str, Sequence[str]],
) -> list[tuple[str, str, float]]:  # fmt: skip
    """(item, quantity per payment, USD per 1,000 payments), the total last."""
    rows = []
    seconds = 0.0
    invocations = 0
    read = write = 0.0
    for path, count in INVOCATIONS.items():
        ms = (1 - COLD_SHARE) * warm_ms[path] + COLD_SHARE * cold_ms[path]
        seconds += count * ms / 1000
        invocations += count
        units = dynamodb_units(calls[path])
        read += count * units.read
        write += count * units.write
    gb_seconds = seconds * MEMORY_MB / 1024
    rows.append(("Lambda compute", f"{gb_seconds:.3f} GB-s", gb_seconds * LAMBDA_GB_SECOND))
    rows.append(("Lambda requests", f"{invocations}", invocations * LAMBDA_REQUEST))
    rows.append(("DynamoDB writes", f"{write:g} WRU", write * DYNAMODB_WRU))
    rows.append(("DynamoDB reads", f"{read:g} RRU", read * DYNAMODB_RRU))
    rows.append(("HTTP API requests", f"{HTTP_REQUESTS}", HTTP_REQUESTS * HTTP_API_REQUEST))
    rows.append(("WebSocket messages", f"{WEBSOCKET_MESSAGES}",
                 WEBSOCKET_MESSAGES * WEBSOCKET_MESSAGE))  # fmt: skip
    rows.append(("WebSocket connection minutes", f"{CONNECTION_MINUTES}",
                 CONNECTION_MINUTES * WEBSOCKET_CONNECTION_MINUTE))  # fmt: skip
    rows.append(("SQS requests", f"{SQS_REQUESTS}", SQS_REQUESTS * SQS_REQUEST))
    rows.append(("SES e-mails", "1", SES_EMAIL))
    rows = [(item, quantity, usd * 1000) for item, quantity, usd in rows]
    rows.append(("total", "", sum(usd for _, _, usd in rows)))
    return rows
