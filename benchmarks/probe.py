"""One fresh interpreter running handlers against the local stack: what `benchmarks.cold`
and `benchmarks.warm` start, in the benchmark environment (the runtime dependencies only).

    python benchmarks/probe.py SCENARIO.json RESULT.json

The scenario file names the environment (the stack's, as the functions get it), the
handler modules, and the events: `{"env": {...}, "modules": [...], "events": [[...], ...],
"trace": false}`. events[i] is the list of events for modules[i]; invocation j runs
events[i][j] through modules[i] for every i in turn, so the modules alternate. It prints
one JSON document: per module, the milliseconds from this interpreter's first line to
the end of its first invocation (`cold_ms`: imports, configuration, secrets and the
request's own I/O), the import alone, every later invocation (`warm_ms`), the answers,
the peak memory, and with `trace` the AWS operations and HTTP requests each made, into
RESULT.json (stdout is the handlers' log).

Nothing is imported before the clock starts but `time`: the cold figure is what Lambda's
init phase and first invocation would pay for these modules.
"""

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


class Context:
    """The parts of Lambda's context object the handlers read."""

    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def trace_calls(calls: dict[str, list[str]], current: list[str]) -> None:
    """Record each AWS operation and each other HTTP request (Stripe, JWKS) under the
    module running (`current[0]`)."""
    import http.client  # noqa: PLC0415

    import botocore.client  # noqa: PLC0415

    make_api_call = botocore.client.BaseClient._make_api_call
    putrequest = http.client.HTTPConnection.putrequest
    in_aws = [False]

    def api_call(self: Any, operation: str, params: Any) -> Any:
        name = f"{self.meta.service_model.service_name}.{operation}"
        if operation == "TransactWriteItems":  # its items count for DynamoDB's units
            name += f"[{len(params['TransactItems'])}]"
        calls[current[0]].append(name)
        in_aws[0] = True
        try:
            return make_api_call(self, operation, params)
        finally:
            in_aws[0] = False

    def request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if not in_aws[0]:
            calls[current[0]].append(f"http {method} {url.split('?', maxsplit=1)[0]}")
        return putrequest(self, method, url, *args, **kwargs)

    botocore.client.BaseClient._make_api_call = api_call
    http.client.HTTPConnection.putrequest = request  # type: ignore[method-assign]


def main() -> None:
    with open(sys.argv[1]) as file:
        scenario = json.load(file)
    os.environ.update(scenario["env"])
    sys.path[:0] = scenario.get("path", [])
    modules: list[str] = scenario["modules"]
    calls: dict[str, list[str]] = {name: [] for name in modules}
    results: dict[str, dict[str, Any]] = {name: {"warm_ms": [], "answers": []} for name in modules}
    handlers = {}
    context = Context()
    current = [modules[0]]
    if scenario.get("trace"):
        trace_calls(calls, current)
    import importlib  # noqa: PLC0415

    rounds = len(scenario["events"][0])
    for index in range(rounds):
        for position, name in enumerate(modules):
            result, current[0] = results[name], name
            if name not in handlers:
                handlers[name] = importlib.import_module(name).lambda_handler
                result["import_ms"] = (time.perf_counter() - STARTED) * 1000
            event = scenario["events"][position][index]
            began = time.perf_counter()
            answer = handlers[name](event, context)
            ended = time.perf_counter()
            if index == 0:
                result["cold_ms"] = (ended - STARTED) * 1000
                result["first_invocation_ms"] = (ended - began) * 1000
                result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            else:
                result["warm_ms"].append((ended - began) * 1000)
            result["answers"].append(answer)
    for name in modules:
        results[name]["calls"] = calls[name]
    results["_"] = {"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    with open(sys.argv[2], "w") as file:
        json.dump(results, file, default=str)


if __name__ == "__main__":
    main()
