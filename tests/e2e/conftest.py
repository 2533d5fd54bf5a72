"""End-to-end fixtures: the local stack (`callpay dev`) started once, as real processes.

Tests reach it only the way the apps around callpay do: HTTP to the local API gateway,
the call's WebSocket feed, localstripe for the patient's card, moto's mailbox for SES.
The only thing they hold besides the endpoints is the local identity provider's key,
which mints clinician tokens as the video platform's IdP would.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from devtools.endpoints import Endpoints
from devtools.identity import LocalIdentityProvider
from devtools.local_client import (
    DECLINED_CARD,
    GOOD_CARD,
    CallFeed,
    CallpayApi,
    PatientBrowser,
    direct_session,
    expect,
    wait_for_emails,
    wait_until_receipts_are_sent,
)
from devtools.local_lambda import PAGE_PATH, peak_concurrency
from devtools.processes import bypass_proxies_for_loopback
from devtools.stack_process import StackProcess

__all__ = ["DECLINED_CARD", "GOOD_CARD"]  # the tests' cards, from devtools.local_client

# Execution environments per function in the tests' stack, whatever the machine's
# CALLPAY_LOCAL_CONCURRENCY says: the races below need more than one.
CONCURRENCY = 4
T = TypeVar("T")


@dataclass
class LocalStack:
    endpoints: Endpoints
    identity: LocalIdentityProvider
    # Where the stack writes its logs (and local.json): read by the log audit alone.
    state_dir: Path

    @property
    def clinic_id(self) -> str:
        return self.endpoints.demo_clinic_id

    def clinician_token(
        self,
        sub: str = "dr-e2e",
        clinics: tuple[str, ...] | None = None,
        role: str = "team_member",
        **claims: Any,
    ) -> str:
        return self.identity.token(
            sub, self.endpoints.demo_org_id, role, clinics or (self.clinic_id,), **claims
        )

    def api(self, token: str | None = None) -> CallpayApi:
        return CallpayApi(self.endpoints.http_url, token)

    def feed(self, call_id: str, token: str, clinic_id: str | None = None) -> CallFeed:
        return CallFeed(self.endpoints.ws_url, call_id, token, clinic_id)

    def browser(self) -> PatientBrowser:
        return PatientBrowser(self.endpoints.stripe_api_base)

    def emails_to(self, address: str, at_least: int) -> list[dict[str, Any]]:
        """Every e-mail SES (moto) sent to `address`, once there are `at_least` of them."""
        return wait_for_emails(self.endpoints.aws_endpoint_url, address, at_least)

    def all_emails_to(self, address: str, at_least: int = 1) -> list[dict[str, Any]]:
        """Every e-mail sent to `address` once the receipt queue is drained (so none is
        still on its way): for counting them exactly."""
        self.emails_to(address, at_least)
        wait_until_receipts_are_sent(self.endpoints)
        return self.emails_to(address, at_least)

    def invocations(self, answers: Iterable[requests.Response]) -> list[dict[str, Any]]:
        """How the stack's functions ran these answers' requests (the gateway's
        /_local/lambda, matched by API Gateway's request id)."""
        wanted = {answer.headers["apigw-requestid"] for answer in answers}
        with direct_session() as session:
            page = session.get(f"{self.endpoints.http_url}{PAGE_PATH}", timeout=10).json()
        return [i for i in page["invocations"] if i["api_request_id"] in wanted]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state_dir = tmp_path_factory.mktemp("callpay-local")
    with pytest.MonkeyPatch.context() as environment:
        # boto3 and Stripe's client here, and the stack, talk to loopback servers only.
        for name, value in bypass_proxies_for_loopback().items():
            environment.setenv(name, value)
        # As the deployed dev stage logs: every debug line goes past the log audit too.
        environment.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
        with StackProcess(state_dir, concurrency=CONCURRENCY) as endpoints:
            yield LocalStack(endpoints, LocalIdentityProvider.in_dir(state_dir), state_dir)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `last` (the log audit) run after every other test of the session, so
    they see everything the stack logged for them."""
    last = [item for item in items if item.get_closest_marker("last")]
    items[:] = [item for item in items if item not in last] + last


@dataclass
class Call:
    """A fresh call of the demo clinic: the clinician's API, and the patient's once let in."""

    call_id: str
    clinician: CallpayApi
    clinician_token: str
    patient: CallpayApi
    patient_token: str

    def request_payment(self, clinic_id: str, amount: int = 8000) -> dict[str, Any]:
        body = {"clinic_id": clinic_id, "amount": amount, "currency": "aud",
                "description": "Telehealth consultation"}  # fmt: skip
        created: dict[str, Any] = expect(
            self.clinician.post(f"/calls/{self.call_id}/payment-requests", body),
            201,
            "creating a payment request",
        )
        return created

    def checkout(self, payment_request_id: str, email: str) -> str:
        answer = expect(
            self.patient.post(
                f"/payment-requests/{payment_request_id}/checkout",
                {"email": email, "locale": "en-AU"},
            ),
            200,
            "checkout",
        )
        secret: str = answer["client_secret"]
        return secret


def start_call(stack: LocalStack) -> Call:
    call_id = f"call-{uuid.uuid4().hex[:10]}"
    token = stack.clinician_token()
    clinician = stack.api(token)
    access = expect(
        clinician.post(f"/calls/{call_id}/patient-access", {"clinic_id": stack.clinic_id}),
        201,
        "patient access",
    )
    return Call(call_id, clinician, token, stack.api(access["token"]), access["token"])


@pytest.fixture
def call(stack: LocalStack) -> Call:
    return start_call(stack)


@pytest.fixture
def email() -> str:
    """A receipt address of this test alone, so counting its e-mails means something."""
    return f"patient-{uuid.uuid4().hex[:10]}@example.com"


def at_once(count: int, action: Callable[[int], T]) -> list[T]:
    """`action(0)` ... `action(count - 1)`, each in a thread of its own, released together."""
    start = threading.Barrier(count)

    def released(index: int) -> T:
        start.wait(timeout=10)
        return action(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(released, range(count)))


def assert_overlapped(invocations: list[dict[str, Any]], function: str) -> None:
    """Invocations of `function` ran at the same time in different execution environments,
    each environment taking one at a time."""
    assert invocations and {i["function"] for i in invocations} == {function}
    by_environment: dict[str, list[dict[str, Any]]] = {}
    for invocation in invocations:
        by_environment.setdefault(invocation["environment"], []).append(invocation)
    assert all(peak_concurrency(runs) == 1 for runs in by_environment.values())
    assert len(by_environment) >= 2, by_environment.keys()
    assert peak_concurrency(invocations) >= 2
