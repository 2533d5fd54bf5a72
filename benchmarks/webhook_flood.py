"""Webhook flood: signed Stripe deliveries from concurrent senders through the local gateway,
with one execution environment per function and with several.

    .venv/bin/python benchmarks/webhook_flood.py [--deliveries 2000] [--senders 8]
                                                 [--concurrency 1 4]

For each concurrency it starts a local stack of its own (free ports, `callpay dev
--concurrency N`), creates payment requests through the HTTP API (each with its
PaymentIntent on localstripe), then floods `/webhooks/stripe` with each payment's
`payment_intent.processing` and `payment_intent.succeeded` events, each delivered several
times (Stripe's retries), shuffled, each signed as Stripe signs it when it is sent. Every
delivery must be answered 200, each event applied once, and every payment must end
`succeeded`, and every payment's patient must get exactly one receipt e-mail (SES in moto;
each request has its own address, given as checkout would), or the run fails. Prints, per
concurrency, the deliveries answered per second (events/s) and their latency, and how many
stripe_webhook invocations ran at once.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]

from devtools.endpoints import Endpoints  # noqa: E402
from devtools.identity import LocalIdentityProvider  # noqa: E402
from devtools.local_client import (  # noqa: E402
    CallpayApi,
    direct_session,
    expect,
    wait_until_receipts_are_sent,
)
from devtools.local_lambda import PAGE_PATH, peak_concurrency  # noqa: E402
from devtools.processes import bypass_proxies_for_loopback  # noqa: E402
from devtools.stack_process import StackProcess  # noqa: E402
from devtools.stripe_signature import signature_header  # noqa: E402

EVENTS = ("payment_intent.processing", "payment_intent.succeeded")
DELIVERIES_PER_EVENT = 4  # the first delivery and Stripe's retries of it
REQUESTS_PER_CALL = 10


@dataclass(frozen=True)
class Payment:
    request_id: str
    intent_id: str
    amount: int


@dataclass
class Flood:
    concurrency: int
    seconds: float
    latencies_ms: list[float]
    outcomes: Counter[str]
    environments: int  # stripe_webhook environments that took deliveries
    peak: int  # stripe_webhook invocations running at one moment
    receipts: int  # e-mails sent, exactly one per payment

    @property
    def events_per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds


def event(event_type: str, payment: Payment, created: int) -> bytes:
    """A PaymentIntent event as Stripe delivers it (the fields callpay reads, and more)."""
    status = event_type.rpartition(".")[2]
    return json.dumps({
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": created,
        "livemode": False,
        "data": {"object": {
            "id": payment.intent_id,
            "object": "payment_intent",
            "status": status,
            "amount": payment.amount,
            "amount_received": payment.amount if status == "succeeded" else 0,
            "currency": "aud",
            "metadata": {"payment_request_id": payment.request_id},
        }},
    }).encode()  # fmt: skip


def create_payments(
    api: CallpayApi, stripe_api_base: str, clinic_id: str, count: int
) -> list[Payment]:
    """`count` payment requests made through the API, each with its PaymentIntent."""

    def create(index: int) -> tuple[str, int]:
        amount = 1000 + index
        created = expect(
            api.post(f"/calls/call-flood-{index // REQUESTS_PER_CALL}/payment-requests",
                     {"clinic_id": clinic_id, "amount": amount, "currency": "aud",
                      "description": "Consultation"}),
            201, "creating a payment request",
        )  # fmt: skip
        return created["id"], amount

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(create, range(count)))
    # The clinician's view has no PaymentIntent id: read them all from localstripe, which
    # lists any number at once.
    with direct_session() as session:
        intents = session.get(
            f"{stripe_api_base}/v1/payment_intents",
            params={"limit": count * 2},
            headers={"Authorization": "Bearer sk_test_flood"},
            timeout=30,
        ).json()["data"]
    intent_of = {i["metadata"].get("payment_request_id"): i["id"] for i in intents}
    return [Payment(request_id, intent_of[request_id], amount) for request_id, amount in created]


def flood(
    endpoints: Endpoints, deliveries: list[bytes], senders: int
) -> tuple[float, list[float], Counter[str], dict[str, Counter[str]]]:
    """Every delivery sent by one of `senders` threads; the wall time, each one's latency,
    the outcomes callpay answered, and those of each event id."""
    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for body in deliveries:
        work.put(body)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    by_event: dict[str, Counter[str]] = {}
    failures: list[str] = []
    lock = threading.Lock()
    url = f"{endpoints.http_url}/webhooks/stripe"

    def send() -> None:
        with direct_session() as session:
            while True:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                signature = signature_header(body, endpoints.webhook_secret)
                headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
                started = time.perf_counter()
                answer = session.post(url, data=body, headers=headers, timeout=60)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if answer.status_code == 200:
                        outcome = answer.json()["outcome"]
                        outcomes[outcome] += 1
                        by_event.setdefault(json.loads(body)["id"], Counter())[outcome] += 1
                    elif answer.status_code == 503 and outcomes["redelivered"] < len(deliveries):
                        # Busy, nothing recorded: Stripe delivers it again later; so do we.
                        outcomes["redelivered"] += 1
                        work.put(body)
                    else:
                        failures.append(f"{answer.status_code} {answer.text[:200]}")

    threads = [threading.Thread(target=send) for _ in range(senders)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} deliveries were not answered 200, e.g. {failures[0]}")
    return seconds, latencies, outcomes, by_event


def run(concurrency: int, deliveries: int, senders: int) -> Flood:
    payments_count = deliveries // (len(EVENTS) * DELIVERIES_PER_EVENT)
    with (
        tempfile.TemporaryDirectory(prefix="callpay-flood-") as state,
        StackProcess(Path(state), concurrency=concurrency) as endpoints,
    ):
        identity = LocalIdentityProvider.in_dir(Path(state))
        token = identity.token("dr-flood", endpoints.demo_org_id, "team_member",
                               [endpoints.demo_clinic_id])  # fmt: skip
        api = CallpayApi(endpoints.http_url, token)
        payments = create_payments(
            api, endpoints.stripe_api_base, endpoints.demo_clinic_id, payments_count
        )
        created = int(time.time())
        bodies = [
            body
            for payment in payments
            for offset, event_type in enumerate(EVENTS)
            for body in [event(event_type, payment, created + offset)] * DELIVERIES_PER_EVENT
        ]
        random.Random(19).shuffle(bodies)  # noqa: S311 - the same order every run, not a secret
        give_receipt_addresses(endpoints, payments)
        seconds, latencies, outcomes, by_event = flood(endpoints, bodies, senders)
        each_event_once(bodies, by_event)
        for payment in payments:
            status = api.get(f"/payment-requests/{payment.request_id}").json()["status"]
            if status != "succeeded":
                raise SystemExit(f"{payment.request_id} is {status} after the flood")
        receipts = one_receipt_each(endpoints, payments)
        with direct_session() as session:
            page = session.get(f"{endpoints.http_url}{PAGE_PATH}", timeout=30).json()
    webhook = [i for i in page["invocations"] if i["function"] == "stripe_webhook"]
    return Flood(
        concurrency, seconds, latencies, outcomes,
        environments=len({i["environment"] for i in webhook}), peak=peak_concurrency(webhook),
        receipts=receipts,
    )  # fmt: skip


def each_event_once(bodies: list[bytes], by_event: dict[str, Counter[str]]) -> None:
    """No event applied twice; every `succeeded` applied once; every `processing` applied
    or found stale (`succeeded` came first) at most once. A stale one may be answered
    `duplicate` on every delivery: its record's write committed but the answer came too
    late for botocore (a loaded moto), whose retry then found the record. Nothing changes
    for a stale event either way."""
    types = {event["id"]: event["type"] for event in map(json.loads, bodies)}
    wrong = {
        event_id: dict(seen) for event_id, seen in by_event.items()
        if seen["applied"] + seen["stale"] > 1
        or (types[event_id] == "payment_intent.succeeded" and seen["applied"] != 1)
    }  # fmt: skip
    if wrong or set(by_event) != set(types):
        raise SystemExit(f"events not applied exactly once: {dict(list(wrong.items())[:5])}")


def address(payment: Payment) -> str:
    return f"patient-{payment.request_id}@example.com"


def give_receipt_addresses(endpoints: Endpoints, payments: list[Payment]) -> None:
    """Each request's patient e-mail, as checkout records it (written in the table: 500
    checkouts through the API would measure checkout, not the webhook)."""
    import boto3  # noqa: PLC0415

    db = boto3.client(
        "dynamodb", endpoint_url=endpoints.aws_endpoint_url, region_name=endpoints.region,
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip
    for payment in payments:
        db.update_item(
            TableName=endpoints.environment["TABLE_NAME"],
            Key={"PK": {"S": f"PR#{payment.request_id}"}, "SK": {"S": "PR"}},
            UpdateExpression="SET receipt_email = :email",
            ExpressionAttributeValues={":email": {"S": address(payment)}},
        )


def one_receipt_each(endpoints: Endpoints, payments: list[Payment]) -> int:
    """Once the receipt queue is drained: exactly one e-mail to each payment's patient."""
    wait_until_receipts_are_sent(endpoints, timeout=300)
    with direct_session() as session:
        data = session.get(f"{endpoints.aws_endpoint_url}/moto-api/data.json", timeout=60).json()
    sent = Counter(
        to for message in data.get("ses", {}).get("Message", [])
        for to in message.get("destinations", {}).get("ToAddresses", [])
    )  # fmt: skip
    wrong = {address(p): sent[address(p)] for p in payments if sent[address(p)] != 1}
    if wrong:
        raise SystemExit(f"receipts not sent exactly once: {dict(list(wrong.items())[:5])}")
    return sum(sent[address(p)] for p in payments)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4],
                        help="execution environments per function, one run each")  # fmt: skip
    args = parser.parse_args()
    os.environ.update(bypass_proxies_for_loopback())
    per_payment = len(EVENTS) * DELIVERIES_PER_EVENT
    payments = args.deliveries // per_payment
    print(
        f"webhook flood: {payments * per_payment} signed deliveries ({payments} payments x "
        f"{len(EVENTS)} events x {DELIVERIES_PER_EVENT} deliveries each, shuffled) from "
        f"{args.senders} concurrent senders"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start\n")
    print(f"{'environments':>12} {'wall s':>8} {'events/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'max ms':>8}  stripe_webhook environments used, peak at once")  # fmt: skip
    for concurrency in args.concurrency:
        result = run(concurrency, args.deliveries, args.senders)
        latencies = sorted(result.latencies_ms)
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        print(f"{concurrency:>12} {result.seconds:>8.1f} {result.events_per_second:>9.1f} "
              f"{statistics.median(latencies):>8.0f} {p95:>8.0f} {latencies[-1]:>8.0f}  "
              f"{result.environments}, {result.peak}   ({dict(result.outcomes)}, "
              f"{result.receipts} receipts)",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
