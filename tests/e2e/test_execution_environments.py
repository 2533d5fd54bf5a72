"""The local stack's Lambda: execution environments are processes of their own, one
invocation at a time each, warm while used, started cold on demand, killed after a
timeout, replaced after a crash, shut down when idle and ended with the stack; and the
gateway answers as API Gateway does when a function gives no answer.

Real processes and sockets, with a handler of the tests' own standing for a function
(tests/e2e/lambda_handlers.py): what it does is in each event.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pytest
import requests
from websockets.sync.client import connect

from devtools.jwt_authorizer import JwtAuthorizer
from devtools.local_client import direct_session
from devtools.local_gateway import HttpApi, LocalApiGateway
from devtools.local_lambda import (
    InvocationFailed,
    LambdaFunction,
    LambdaSettings,
    LocalLambda,
    peak_concurrency,
)
from devtools.paths import REPO_ROOT
from devtools.processes import wait_until
from devtools.routes import HttpRoute
from tests.e2e.conftest import at_once

pytestmark = pytest.mark.e2e

HANDLER = "tests.e2e.lambda_handlers"


@pytest.fixture
def local_lambda() -> Iterator[LocalLambda]:
    service = LocalLambda(
        LambdaSettings(concurrency=2, idle_seconds=60),
        environ=lambda: os.environ | {"TABLE_NAME": "callpay-e2e"},
    ).start()
    yield service
    service.stop()


def run(function: LambdaFunction, **order: Any) -> dict[str, Any]:
    """What the handler saw: its process, its invocation count, its context."""
    body: dict[str, Any] = json.loads(function(order)["body"])
    return body


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_overlapping_invocations_run_in_processes_of_their_own_up_to_the_concurrency(
    local_lambda: LocalLambda,
) -> None:
    probe = local_lambda.function("probe", HANDLER, 10)

    started = time.perf_counter()
    first = at_once(3, lambda _: run(probe, do="sleep", seconds=0.4))
    elapsed = time.perf_counter() - started

    # Two environments (the concurrency), each taking one invocation at a time: the
    # third waited for one of them.
    assert len({seen["pid"] for seen in first}) == 2
    assert sorted(seen["invocations"] for seen in first) == [1, 1, 2]
    assert elapsed >= 0.8
    invocations = local_lambda.invocations()
    assert peak_concurrency([asdict(i) for i in invocations]) == 2
    # Warm: the next invocation reuses an environment, whose module globals live on.
    again = run(probe)
    assert again["pid"] in {seen["pid"] for seen in first}
    assert again["invocations"] >= 2
    assert (again["function_name"], again["variables"]) == (
        "probe",
        {"AWS_LAMBDA_FUNCTION_NAME": "probe", "POWERTOOLS_SERVICE_NAME": "probe",
         "TABLE_NAME": "callpay-e2e"},
    )  # fmt: skip
    # Another function never shares an environment, nor its globals.
    other = run(local_lambda.function("other", HANDLER, 10))
    assert other["pid"] not in {seen["pid"] for seen in first}
    assert (other["invocations"], other["function_name"]) == (1, "other")


def test_a_cold_start_is_reported_with_its_init_duration_and_a_warm_one_without(
    local_lambda: LocalLambda, caplog: pytest.LogCaptureFixture
) -> None:
    probe = local_lambda.function("probe", HANDLER, 10)
    with caplog.at_level(logging.INFO, logger="callpay.lambda"):
        cold, warm = run(probe), run(probe)

    reports = [r.getMessage() for r in caplog.records if "REPORT RequestId:" in r.getMessage()]
    assert [cold["request_id"] in reports[0], warm["request_id"] in reports[1]] == [True, True]
    assert "Init Duration: " in reports[0] and "Init Duration" not in reports[1]
    assert reports[0].startswith("probe#1 REPORT RequestId: ")
    for field in ("Duration: ", "Billed Duration: ", "Memory Size: 512 MB", "Max Memory Used: "):
        assert field in reports[1]
    assert 0 < warm["remaining_ms"] <= 10_000


def test_an_invocation_past_its_timeout_has_its_environment_killed_and_replaced(
    local_lambda: LocalLambda,
) -> None:
    probe = local_lambda.function("probe", HANDLER, 0.5)
    pid = run(probe)["pid"]

    started = time.perf_counter()
    with pytest.raises(InvocationFailed, match=r"Task timed out after 0\.50 seconds") as failed:
        run(probe, do="sleep", seconds=5)
    assert failed.value.status == "timeout"
    assert 0.5 <= time.perf_counter() - started < 2.5
    assert gone(pid)
    fresh = run(probe)
    assert fresh["pid"] != pid and fresh["invocations"] == 1


def test_a_crashed_environment_is_replaced_and_a_raising_one_kept(
    local_lambda: LocalLambda,
) -> None:
    probe = local_lambda.function("probe", HANDLER, 10)
    pid = run(probe)["pid"]

    with pytest.raises(InvocationFailed, match="the handler raised on purpose") as raised:
        run(probe, do="raise")
    assert raised.value.status == "error"
    assert run(probe)["pid"] == pid  # an error the runtime reported: the environment lives

    with pytest.raises(InvocationFailed, match="Runtime exited with error: exit status 3"):
        run(probe, do="exit")
    assert gone(pid)
    assert run(probe)["pid"] != pid


def test_an_idle_environment_is_shut_down_and_the_next_invocation_starts_cold() -> None:
    service = LocalLambda(LambdaSettings(concurrency=1, idle_seconds=0.5)).start()
    try:
        probe = service.function("probe", HANDLER, 10)
        pid = run(probe)["pid"]
        wait_until(lambda: gone(pid), 5, "the idle environment to be shut down")
        assert run(probe)["invocations"] == 1
        assert [i.init_duration_ms is not None for i in service.invocations()] == [True, True]
    finally:
        service.stop()


# A stack standing in for the real one: it starts one environment, says its process id,
# and waits to be killed.
STACK = """
from devtools.local_lambda import LambdaSettings, LocalLambda
import json, time
probe = LocalLambda(LambdaSettings()).function("probe", "tests.e2e.lambda_handlers", 10)
print(json.loads(probe({})["body"])["pid"], flush=True)
time.sleep(60)
"""


def test_environments_end_with_the_stack_even_when_it_is_killed() -> None:
    stack = subprocess.Popen(  # noqa: S603 - this interpreter, the code above
        [sys.executable, "-c", STACK], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert stack.stdout is not None
        environment = int(stack.stdout.readline())
        assert not gone(environment)
        stack.send_signal(signal.SIGKILL)
        stack.wait(timeout=5)
        wait_until(lambda: gone(environment), 5, "the environment to end with its stack")
    finally:
        stack.kill()
        stack.wait()


@pytest.fixture
def gateway(local_lambda: LocalLambda) -> Iterator[LocalApiGateway]:
    """A gateway with three routes to the test handler: a function that times out after
    half a second, one that may run 5 s behind an integration that waits 1 s, and the
    WebSocket API."""
    routes = [
        HttpRoute("POST", "/quick", False, "quick.handler"),
        HttpRoute("POST", "/patient", False, "patient.handler"),
    ]
    functions = {
        "quick.handler": local_lambda.function("quick", HANDLER, 0.5),
        "patient.handler": local_lambda.function("patient", HANDLER, 5),
    }
    api = HttpApi(routes, functions, JwtAuthorizer("https://idp/", ["api"], {"keys": []}), {})
    realtime = local_lambda.function("realtime", HANDLER, 1)
    gateway = LocalApiGateway(api, realtime, integration_timeout=1)
    gateway.start()
    yield gateway
    gateway.stop()


def post(gateway: LocalApiGateway, path: str, order: dict[str, Any]) -> requests.Response:
    with direct_session() as session:
        return session.post(f"{gateway.http_url}{path}", json=order, timeout=10)


def test_a_function_without_an_answer_is_answered_as_api_gateway_does(
    gateway: LocalApiGateway, local_lambda: LocalLambda
) -> None:
    ok = post(gateway, "/quick", {})
    assert ok.status_code == 200 and ok.json()["function_name"] == "quick"
    (invocation,) = [i for i in local_lambda.invocations() if i.function == "quick"]
    assert invocation.api_request_id == ok.headers["apigw-requestid"]

    for order in ({"do": "raise"}, {"do": "exit"}, {"do": "sleep", "seconds": 2}):
        answer = post(gateway, "/quick", order)
        assert answer.status_code == 500, order
        assert answer.json() == {"message": "Internal Server Error"}

    started = time.perf_counter()
    waited = post(gateway, "/patient", {"do": "sleep", "seconds": 3})
    assert (waited.status_code, waited.json()) == (503, {"message": "Service Unavailable"})
    assert time.perf_counter() - started < 2.5
    assert [i.status for i in local_lambda.invocations() if i.function == "quick"] == [
        "success", "error", "crash", "timeout",
    ]  # fmt: skip


def test_a_websocket_message_whose_function_fails_gets_api_gateways_error_frame(
    gateway: LocalApiGateway,
) -> None:
    with connect(gateway.ws_url, proxy=None, open_timeout=10) as socket:
        socket.send(json.dumps({"do": "raise"}))
        frame = json.loads(socket.recv(timeout=10))
    assert frame["message"] == "Internal server error"
    assert frame["connectionId"] and frame["requestId"]
