"""What the local stack takes from the CDK app (infra/), so the two never drift apart.

infra/http_api.py is the single source of truth for the HTTP API's routes and which of
them carry the JWT authorizer, infra/stack.py for the function behind each route group
and the API functions' timeout, infra/receipts.py for the receipt queue's settings and
the SES configuration set, and infra/site_policy.py for the pay page's
Content-Security-Policy.
Importing infra starts node (jsii) for the rest of the process, and a Ctrl-C in the
terminal would kill that node under the running stack; so the tables are read by a
short-lived child, `python -m devtools.infra_tables <stage>`, which prints them as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

from devtools.paths import REPO_ROOT
from devtools.routes import HttpRoute

DAY_SECONDS = 24 * 3600


class InfraUnreadable(RuntimeError):
    """The CDK app could not be imported (or its tables have changed shape)."""


@dataclass(frozen=True)
class InfraTables:
    routes: list[HttpRoute]
    api_timeout_seconds: float  # the timeout of the functions behind the two APIs
    max_receive_count: int  # receives before a receipt job goes to the dead letters
    consumer_timeout_seconds: int  # send_receipt's timeout; visibility is 6 times it
    queue_retention_seconds: int  # how long a receipt job waits on the queue
    dead_letter_retention_seconds: int
    configuration_set: str  # the SES configuration set, as the stack names it for a stage
    # The pay page's Content-Security-Policy, production's template with local sources.
    site_policy: str


class Reading:
    """The child reading the tables, started early so it runs alongside other start-up."""

    def __init__(self, stage: str, site: LocalSite) -> None:
        # The CDK app's node prints an end-of-life banner for the node version CI runs.
        env = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"} | dict(os.environ)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "devtools.infra_tables", stage, json.dumps(asdict(site))],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self, timeout: float = 60) -> InfraTables:
        try:
            out, err = self._process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.cancel()
            raise InfraUnreadable(f"reading the CDK app's tables took over {timeout:g}s") from None
        if self._process.returncode != 0:
            raise InfraUnreadable(f"cannot read the CDK app's tables from infra/:\n{err}")
        data = json.loads(out)
        return InfraTables(
            routes=[HttpRoute(**route) for route in data["routes"]],
            api_timeout_seconds=data["api_timeout_seconds"],
            max_receive_count=data["max_receive_count"],
            consumer_timeout_seconds=data["consumer_timeout_seconds"],
            queue_retention_seconds=data["queue_retention_seconds"],
            dead_letter_retention_seconds=data["dead_letter_retention_seconds"],
            configuration_set=data["configuration_set"],
            site_policy=data["site_policy"],
        )

    def cancel(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()


@dataclass(frozen=True)
class LocalSite:
    """Where the local pay page's feed is, and whose Stripe.js it loads."""

    websocket: str  # ws://host:port of the gateway
    stripe_stand_in: bool  # the stand-in on the gateway itself, else Stripe's own


def _site_policy(site: LocalSite) -> str:
    from infra import site_policy  # noqa: PLC0415

    # The gateway serves the page and the API (as CloudFront does in AWS), and the
    # stand-in on localstripe: those are the page's own origin.
    stripe = dict.fromkeys(site_policy.STRIPE_SOURCES, "'self'")
    if not site.stripe_stand_in:
        stripe = site_policy.STRIPE_SOURCES
    return site_policy.content_security_policy(
        {"api": "'self'", "websocket": site.websocket, **stripe}
    )


def _tables(stage: str, site: LocalSite) -> dict[str, Any]:
    from infra import http_api, receipts, stack  # noqa: PLC0415

    # As infra/stack.py wires them: one line per function.
    groups: list[tuple[Any, str]] = [
        (http_api.PAYMENT_REQUEST_ROUTES, "request_payment.handler"),
        (http_api.STRIPE_WEBHOOK_ROUTES, "stripe_webhook.handler"),
        (http_api.CLINIC_ROUTES, "clinic_admin.handler"),
    ]
    return {
        "routes": [
            {
                "method": route.method.value,
                "path": route.path,
                "clinician_jwt": route.clinician_jwt,
                "function": function,
            }
            for routes, function in groups
            for route in routes
        ],
        "api_timeout_seconds": stack.API_TIMEOUT.to_seconds(),
        "max_receive_count": receipts.MAX_RECEIVE_COUNT,
        "consumer_timeout_seconds": receipts.CONSUMER_TIMEOUT_SECONDS,
        "queue_retention_seconds": receipts.QUEUE_RETENTION_DAYS * DAY_SECONDS,
        "dead_letter_retention_seconds": receipts.DEAD_LETTER_RETENTION_DAYS * DAY_SECONDS,
        "configuration_set": receipts.receipt_configuration_set(stage),
        "site_policy": _site_policy(site),
    }


if __name__ == "__main__":
    json.dump(_tables(sys.argv[1], LocalSite(**json.loads(sys.argv[2]))), sys.stdout)
