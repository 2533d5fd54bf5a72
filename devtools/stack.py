"""The whole of callpay on one machine: `make dev` (`callpay dev`).

moto's server stands for AWS (DynamoDB and its stream, SQS, SES, Secrets Manager, KMS) and
localstripe for Stripe, each a child process; the local gateway serves the real handlers
over HTTP and WebSocket; workers feed the receipt queue to send_receipt, the table's
stream to platform_outbox and the delivery queue to platform_delivery, and a loop runs the
hold sweeper as EventBridge Scheduler does. Every function runs as in Lambda, in execution
environments of its own (devtools.local_lambda). The table, queues, sender identity and
the three secrets are made from the definitions the deployed stack uses
(callpay.adapters.table_schema, infra/ through devtools.infra_tables, and the secret
models in callpay.config). When all is up, the endpoints are printed and written to
`<state dir>/local.json`; Ctrl-C (or SIGTERM) stops every process the stack started.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from devtools import endpoints, stack_logging
from devtools.endpoints import Endpoints
from devtools.identity import AUDIENCE, ISSUER, LocalIdentityProvider
from devtools.infra_tables import InfraTables, InfraUnreadable, LocalSite, Reading
from devtools.local_lambda import LambdaSettings, LocalLambda
from devtools.paths import REPO_ROOT
from devtools.processes import (
    ChildProcess,
    TimedOut,
    bypass_proxies_for_loopback,
    free_port,
    listening,
)
from devtools.routes import HttpRoute

# In the checkout, wherever the commands run from, so `callpay token` and `make dev`
# always share the identity provider's key.
DEFAULT_STATE_DIR = REPO_ROOT / ".callpay"
# Documented in docs/local-development.md; 0 means any free port.
DEFAULT_PORTS = {"gateway": 8430, "stripe": 8420, "aws": 8440}

REGION = "us-east-1"
STAGE = "local"
TABLE = f"callpay-{STAGE}"
# The three secrets, named as infra/app_secrets.py names them: env variable -> name.
SECRET_IDS = {
    "STRIPE_SECRET_ID": f"callpay/{STAGE}/stripe",
    "WEBHOOK_SECRET_ID": f"callpay/{STAGE}/webhook",
    "TOKEN_SECRET_ID": f"callpay/{STAGE}/token",
}
RECEIPT_QUEUE = f"callpay-{STAGE}-receipts"
RECEIPT_DEAD_LETTERS = f"callpay-{STAGE}-receipt-dead-letters"
SENDER = "receipts@example.com"
DEMO_ORG_ID = "org-demo"
DEMO_CLINIC_ID = "clinic-demo"
# localstripe accepts any key of the right shape.
LOCALSTRIPE_KEYS = ("sk_test_local", "pk_test_local")
STRIPE_JS_URL = "https://js.stripe.com/v3/"
PROGRESS = "» "

if TYPE_CHECKING:
    from devtools.hold_sweeps import HoldSweepLoop
    from devtools.local_gateway import LocalApiGateway


class StackFailed(RuntimeError):
    """The stack could not start, or one of its servers died."""


def _port(environ: Mapping[str, str], name: str) -> int:
    variable = f"CALLPAY_{name.upper()}_PORT"
    raw = environ.get(variable)
    if raw is None or raw == "":
        return DEFAULT_PORTS[name]
    try:
        return int(raw)
    except ValueError:
        raise StackFailed(f"{variable} must be a port number, not {raw!r}") from None


def _seconds(environ: Mapping[str, str], variable: str, default: float) -> float:
    raw = environ.get(variable)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise StackFailed(f"{variable} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise StackFailed(f"{variable} must be above 0")
    return value


def _words(raw: str | None) -> tuple[str, ...]:
    return tuple(part for part in (raw or "").replace(",", " ").split() if part)


@dataclass(frozen=True)
class StackOptions:
    state_dir: Path = DEFAULT_STATE_DIR
    host: str = "127.0.0.1"
    gateway_port: int = DEFAULT_PORTS["gateway"]
    stripe_port: int = DEFAULT_PORTS["stripe"]
    aws_port: int = DEFAULT_PORTS["aws"]
    # The demo and the e2e tests run the stack as their child: it ends with them.
    exit_with_parent: bool = False
    # Browser origins allowed besides localhost / 127.0.0.1 on any port.
    cors_origins: frozenset[str] = frozenset()
    # More webhook signing secrets to accept, e.g. the one `stripe listen` prints.
    extra_webhook_secrets: tuple[str, ...] = ()
    # Stripe test mode itself instead of localstripe (with `stripe listen`).
    stripe_secret_key: str | None = None
    stripe_publishable_key: str | None = None
    demo_stripe_account: str | None = None
    # Execution environments per function at most, and how long an idle one lives.
    concurrency: int = LambdaSettings.concurrency
    idle_seconds: float = LambdaSettings.idle_seconds
    # How often the hold sweeper runs (EventBridge Scheduler's rate in AWS is 15 minutes).
    hold_sweep_seconds: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **given: Any) -> StackOptions:
        """Options from CALLPAY_* variables; keyword arguments (set ones) take precedence."""
        try:
            functions = LambdaSettings.from_env(environ)
        except ValueError as error:
            raise StackFailed(str(error)) from None
        values: dict[str, Any] = {
            "state_dir": Path(environ.get("CALLPAY_STATE_DIR") or DEFAULT_STATE_DIR),
            "host": environ.get("CALLPAY_HOST") or "127.0.0.1",
            "gateway_port": _port(environ, "gateway"),
            "stripe_port": _port(environ, "stripe"),
            "aws_port": _port(environ, "aws"),
            "cors_origins": frozenset(_words(environ.get("CALLPAY_CORS_ORIGINS"))),
            "extra_webhook_secrets": _words(environ.get("CALLPAY_WEBHOOK_SECRETS")),
            "stripe_secret_key": environ.get("CALLPAY_STRIPE_SECRET_KEY") or None,
            "stripe_publishable_key": environ.get("CALLPAY_STRIPE_PUBLISHABLE_KEY") or None,
            "demo_stripe_account": environ.get("CALLPAY_DEMO_STRIPE_ACCOUNT") or None,
            "concurrency": functions.concurrency,
            "idle_seconds": functions.idle_seconds,
            "hold_sweep_seconds": _seconds(environ, "CALLPAY_HOLD_SWEEP_SECONDS", 60.0),
        }
        values |= {name: value for name, value in given.items() if value is not None}
        options = cls(**values)
        if options.concurrency < 1:
            raise StackFailed(f"the concurrency must be at least 1, not {options.concurrency}")
        if options.uses_stripe and not (
            options.stripe_publishable_key and options.demo_stripe_account
        ):
            raise StackFailed(
                "With CALLPAY_STRIPE_SECRET_KEY also set CALLPAY_STRIPE_PUBLISHABLE_KEY and "
                "CALLPAY_DEMO_STRIPE_ACCOUNT (a connected account of your test platform)."
            )
        return options

    @property
    def uses_stripe(self) -> bool:
        """Stripe's own test mode, not localstripe."""
        return self.stripe_secret_key is not None

    @property
    def functions(self) -> LambdaSettings:
        return LambdaSettings(self.concurrency, self.idle_seconds)


@dataclass
class LocalSecrets:
    """The local secrets' values; random per run, so nothing stale validates."""

    account_webhook_secret: str = field(default_factory=lambda: _whsec("account"))
    connect_webhook_secret: str = field(default_factory=lambda: _whsec("connect"))
    patient_token_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))


def _whsec(name: str) -> str:
    return f"whsec_local_{name}_{secrets.token_hex(12)}"


class LocalStack:
    def __init__(self, options: StackOptions, say: Callable[[str], None] = print) -> None:
        self.options = options
        self._say = say
        self._children: list[ChildProcess] = []
        self._gateway: LocalApiGateway | None = None
        self._stop_worker = threading.Event()
        self._worker_threads: list[threading.Thread] = []
        self._hold_sweeps: HoldSweepLoop | None = None
        self._secrets = LocalSecrets()
        # Ports picked for 0, all before any server binds: never the same one twice (the
        # system may hand a port it just freed out again).
        self._picked: set[int] = set()
        self.endpoints: Endpoints | None = None
        self.tables: InfraTables | None = None
        self._reading: Reading | None = None
        # The functions' execution environments get this process's environment, as it is
        # when each starts (so with everything exported below).
        self._lambda = LocalLambda(options.functions)
        # What the handlers are given, written to local.json for devtools/invoke.py.
        self._handler_environment: dict[str, str] = {}

    @property
    def logs_dir(self) -> Path:
        return self.options.state_dir / "logs"

    # -- start ---------------------------------------------------------------------------

    def start(self) -> Endpoints:
        options = self.options
        options.state_dir.mkdir(parents=True, exist_ok=True)
        endpoints.remove(options.state_dir, os.getpid())
        # Before any child starts: they inherit it, and a CI machine's HTTP(S)_PROXY must
        # never carry boto3's, Stripe's or the JWKS calls to these loopback servers.
        self._export(bypass_proxies_for_loopback())
        gateway_port = self._port_for("gateway", options.gateway_port)
        aws_port = self._port_for("aws", options.aws_port)
        stripe_port = 0 if options.uses_stripe else self._port_for("stripe", options.stripe_port)

        # All at once: the CDK app's tables (node, slow), moto and localstripe.
        self._progress("reading routes and queue settings from the CDK app (infra/)")
        self._reading = Reading(
            STAGE,
            LocalSite(
                websocket=f"ws://{options.host}:{gateway_port}",
                stripe_stand_in=not options.uses_stripe,
            ),
        )
        aws_url = f"http://{options.host}:{aws_port}"
        moto = self._spawn("moto", ["-m", "devtools.moto_server", "-H", options.host,
                                    "-p", str(aws_port)])  # fmt: skip
        stripe_base = "https://api.stripe.com"
        localstripe = None
        if not options.uses_stripe:
            stripe_base = f"http://{options.host}:{stripe_port}"
            localstripe = self._spawn("localstripe", [
                "-m", "devtools.localstripe_server", "--host", options.host,
                "--port", str(stripe_port), "--from-scratch",
            ])  # fmt: skip
        identity = LocalIdentityProvider.in_dir(options.state_dir)
        try:
            self.tables = tables = self._reading.result()
        except InfraUnreadable as error:
            raise StackFailed(str(error)) from error

        moto.wait_listening(aws_port, options.host)
        self._progress(f"moto (AWS) listening on {aws_url}")
        if localstripe is not None:
            localstripe.wait_listening(stripe_port, options.host)
            self._progress(f"localstripe listening on {stripe_base}")

        self._set_environment(aws_url, None if options.uses_stripe else stripe_base, tables)
        queue_url = self._provision_aws(tables)
        self._export({"RECEIPT_QUEUE_URL": queue_url})
        self._export(self._provision_platform_events(tables))

        functions = options.functions
        self._lambda.start()
        self._progress(
            f"functions run in execution environments of their own: up to "
            f"{functions.concurrency} per function, started on demand"
        )
        gateway = self._start_gateway(identity, gateway_port, stripe_base)
        http_url = gateway.http_url
        self._set_gateway_environment(gateway)
        self._progress(f"gateway (HTTP API, WebSocket, @connections) on {http_url}")

        if localstripe is not None:
            self._register_webhook(stripe_base, f"{http_url}/webhooks/stripe")
        self._start_workers(queue_url, tables)
        if options.demo_stripe_account:
            seed_demo_clinic_in_store(options.demo_stripe_account)
        else:
            seed_demo_clinic(http_url, identity)
        self._progress(f"demo clinic {DEMO_CLINIC_ID} (organisation {DEMO_ORG_ID}) ready")

        from devtools.stripe_js import SCRIPT_PATH  # noqa: PLC0415

        self.endpoints = Endpoints(
            http_url=http_url,
            ws_url=gateway.ws_url,
            stripe_api_base=stripe_base,
            aws_endpoint_url=aws_url,
            publishable_key=options.stripe_publishable_key or LOCALSTRIPE_KEYS[1],
            demo_org_id=DEMO_ORG_ID,
            demo_clinic_id=DEMO_CLINIC_ID,
            jwks_url=os.environ["JWKS_URL"],
            issuer=ISSUER,
            audience=AUDIENCE,
            webhook_secret=self._secrets.account_webhook_secret,
            region=REGION,
            pid=os.getpid(),
            environment=dict(self._handler_environment),
            stripe_js_url=STRIPE_JS_URL if options.uses_stripe else http_url + SCRIPT_PATH,
        )
        self.endpoints.write(options.state_dir)
        return self.endpoints

    def _port_for(self, name: str, port: int) -> int:
        """The configured port, or a free one for 0; refused if something already listens
        there (it would answer in place of the server about to fail to start)."""
        if port == 0:
            port = free_port(self.options.host)
            while port in self._picked:
                port = free_port(self.options.host)
            self._picked.add(port)
            return port
        if listening(port, self.options.host):
            raise StackFailed(
                f"port {port} ({name}) is in use; is another `make dev` running? "
                f"Set CALLPAY_{name.upper()}_PORT (0 picks a free port)."
            )
        return port

    def _progress(self, message: str) -> None:
        self._say(PROGRESS + message)

    def _spawn(self, name: str, arguments: list[str]) -> ChildProcess:
        argv = [sys.executable, *arguments]
        child = ChildProcess(name, argv, self.logs_dir / f"{name}.log", cwd=REPO_ROOT)
        self._children.append(child.start())
        return child

    def _export(self, variables: Mapping[str, str]) -> None:
        """Into this process's environment (the execution environments inherit it) and
        local.json's."""
        os.environ |= variables
        self._handler_environment |= variables

    def _set_environment(self, aws_url: str, stripe_base: str | None, tables: InfraTables) -> None:
        """What the deployed functions get from CDK, pointed at the local servers."""
        from callpay.config import Settings  # noqa: PLC0415

        for variable in [*Settings.ENV.values(), "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                         "AWS_SESSION_TOKEN"]:  # fmt: skip
            os.environ.pop(variable, None)
        self._export({
            "AWS_ENDPOINT_URL": aws_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            # Account-based DynamoDB endpoints would bypass AWS_ENDPOINT_URL's host.
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "TABLE_NAME": TABLE,
            # All three for every function: moto enforces no IAM, so the per-function
            # grants of the deployed stack are not modelled here.
            **SECRET_IDS,
            "JWT_ISSUER": ISSUER,
            "JWT_AUDIENCE": AUDIENCE,
            "RECEIPT_SENDER": SENDER,
            "SES_CONFIGURATION_SET": tables.configuration_set,
        })  # fmt: skip
        if stripe_base is not None:
            self._export({"STRIPE_API_BASE": stripe_base})
        self._export(
            {
                name: os.environ.get(name, default)
                for name, default in {
                    "POWERTOOLS_METRICS_NAMESPACE": "callpay",
                    # CloudWatch metrics printed after every request would drown the logs.
                    "POWERTOOLS_METRICS_DISABLED": "true",
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                }.items()
            }
        )

    def _set_gateway_environment(self, gateway: LocalApiGateway) -> None:
        """What the functions need to know about the gateway, known once it listens."""
        from callpay import runtime  # noqa: PLC0415
        from devtools.local_connect import PATH, RETURN_PATH  # noqa: PLC0415
        from devtools.pay_site import PAY_PAGE_PATH  # noqa: PLC0415

        http_url = gateway.http_url
        self._export(
            {
                "WEBSOCKET_CALLBACK_URL": gateway.callback_url,
                "JWKS_URL": f"{http_url}/.well-known/jwks.json",
                "PATIENT_PAGE_URL": f"{http_url}{PAY_PAGE_PATH}",
            }
        )
        if self.options.uses_stripe:
            back = f"{http_url}{RETURN_PATH}/{{clinic_id}}"
            self._export({"CONNECT_RETURN_URL": back, "CONNECT_REFRESH_URL": back})
        else:
            self._export({"LOCAL_ONBOARDING_URL": f"{http_url}{PATH}"})
        runtime.reset()  # build clients from the environment just set

    def _provision_aws(self, tables: InfraTables) -> str:
        """Table, receipt queue and its dead letters, SES identity, the three secrets; the
        queue URL."""
        import boto3  # noqa: PLC0415

        from callpay.adapters.table_schema import (  # noqa: PLC0415
            TTL_ATTRIBUTE,
            create_table_request,
        )
        from callpay.config import StripeKeys, TokenKey, WebhookSecrets  # noqa: PLC0415

        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(**create_table_request(TABLE))
        dynamodb.update_time_to_live(
            TableName=TABLE,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
        sqs = boto3.client("sqs")
        dead_letters = sqs.create_queue(
            QueueName=RECEIPT_DEAD_LETTERS,
            Attributes={"MessageRetentionPeriod": str(tables.dead_letter_retention_seconds)},
        )["QueueUrl"]
        dead_letters_arn = sqs.get_queue_attributes(
            QueueUrl=dead_letters, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        queue_url: str = sqs.create_queue(
            QueueName=RECEIPT_QUEUE,
            Attributes={
                # Six times the consumer's timeout, as Lambda advises (and infra does).
                "VisibilityTimeout": str(tables.consumer_timeout_seconds * 6),
                "MessageRetentionPeriod": str(tables.queue_retention_seconds),
                "RedrivePolicy": json.dumps(
                    {
                        "deadLetterTargetArn": dead_letters_arn,
                        "maxReceiveCount": tables.max_receive_count,
                    }
                ),
            },
        )["QueueUrl"]
        ses = boto3.client("ses")
        ses.verify_email_identity(EmailAddress=SENDER)
        ses.create_configuration_set(ConfigurationSet={"Name": tables.configuration_set})
        options = self.options
        # Each secret's JSON validated by the model its functions read it with.
        values = {
            "STRIPE_SECRET_ID": StripeKeys(
                stripe_api_key=options.stripe_secret_key or LOCALSTRIPE_KEYS[0],
                stripe_publishable_key=options.stripe_publishable_key or LOCALSTRIPE_KEYS[1],
            ),
            "WEBHOOK_SECRET_ID": WebhookSecrets(
                webhook_secrets=[
                    self._secrets.account_webhook_secret,
                    self._secrets.connect_webhook_secret,
                    *options.extra_webhook_secrets,
                ]
            ),
            "TOKEN_SECRET_ID": TokenKey(patient_token_key=self._secrets.patient_token_key),
        }
        secretsmanager = boto3.client("secretsmanager")
        for variable, name in SECRET_IDS.items():
            secretsmanager.create_secret(Name=name, SecretString=values[variable].model_dump_json())
        self._progress(
            f"created table {TABLE}, queue {RECEIPT_QUEUE} (+ dead letters), "
            f"SES sender {SENDER}, secrets {', '.join(SECRET_IDS.values())}"
        )
        return queue_url

    def _start_gateway(
        self, identity: LocalIdentityProvider, port: int, stripe_base: str
    ) -> LocalApiGateway:
        from devtools.jwt_authorizer import JwtAuthorizer  # noqa: PLC0415
        from devtools.local_connect import RETURN_PATH, LocalOnboarding, returned  # noqa: PLC0415
        from devtools.local_gateway import (  # noqa: PLC0415
            CorsPolicy,
            HttpApi,
            LocalApiGateway,
            Page,
        )
        from devtools.pay_site import PaySite  # noqa: PLC0415
        from devtools.stripe_js import SCRIPT_PATH, StripeJsStandIn  # noqa: PLC0415

        assert self.tables is not None  # read before the gateway starts
        timeout = self.tables.api_timeout_seconds
        functions = {
            module: self._lambda.function(module.partition(".")[0], module, timeout)
            for module in sorted({r.function for r in self._routes})
        }
        realtime = self._lambda.function("realtime", "realtime.handler", timeout)
        jwks = identity.jwks()
        pages: list[tuple[str, str, Page]] = [self._lambda.page_route()]
        from devtools.hold_sweeps import SWEEP_TIMEOUT_SECONDS, HoldSweepLoop  # noqa: PLC0415

        sweeper = self._lambda.function(
            "hold_sweeper", "hold_sweeper.handler", SWEEP_TIMEOUT_SECONDS
        )
        self._hold_sweeps = HoldSweepLoop(sweeper, self.options.hold_sweep_seconds)
        pages.append(self._hold_sweeps.page_route())
        onboarding = LocalOnboarding(
            lambda: f"{gateway.http_url}/webhooks/stripe", self._secrets.connect_webhook_secret
        )
        if self.options.uses_stripe:
            pages.append(("GET", RETURN_PATH + "/{clinic_id}", returned))
        else:
            pages.append(onboarding.page_route())
            # Stripe.js for pages paying on localstripe (Stripe's own test mode uses the real one).
            stand_in = StripeJsStandIn(
                stripe_base,
                LOCALSTRIPE_KEYS[0],
                lambda: f"{gateway.http_url}/webhooks/stripe",
                self._secrets.account_webhook_secret,
            )
            pages.extend(stand_in.routes())
        assert self.tables is not None
        site = PaySite(
            http_url=lambda: gateway.http_url,
            ws_url=lambda: gateway.ws_url,
            stripe_js_url=lambda: (
                STRIPE_JS_URL if self.options.uses_stripe else gateway.http_url + SCRIPT_PATH
            ),
            content_security_policy=self.tables.site_policy,
        )
        pages.extend(site.routes())
        api = HttpApi(
            routes=self._routes,
            functions=functions,
            authorizer=JwtAuthorizer(ISSUER, [AUDIENCE], jwks),
            jwks=jwks,
            cors=CorsPolicy(extra_origins=self.options.cors_origins),
            pages=pages,
        )
        gateway = LocalApiGateway(api, realtime, self.options.host, port)
        gateway.start()
        self._gateway = gateway
        return gateway

    def _register_webhook(self, stripe_base: str, url: str) -> None:
        """localstripe signs its deliveries with the account endpoint's secret."""
        from devtools.local_client import register_webhook  # noqa: PLC0415

        register_webhook(stripe_base, url, self._secrets.account_webhook_secret)
        self._progress(f"localstripe delivers webhooks to {url}")

    def _start_workers(self, queue_url: str, tables: InfraTables) -> None:
        """What feeds the functions besides the gateway: queues, the stream, the schedule."""
        self._start_receipt_worker(queue_url, tables)
        self._start_platform_event_workers(tables)
        assert self._hold_sweeps is not None
        self._hold_sweeps.start()
        self._progress(
            f"hold sweeper every {self.options.hold_sweep_seconds:g} s (EventBridge Scheduler)"
        )

    def _start_receipt_worker(self, queue_url: str, tables: InfraTables) -> None:
        import boto3  # noqa: PLC0415

        from devtools.sqs_worker import SqsWorker  # noqa: PLC0415

        send_receipt = self._lambda.function(
            "send_receipt", "send_receipt.handler", tables.consumer_timeout_seconds
        )
        worker = SqsWorker(boto3.client("sqs"), queue_url, send_receipt)
        self._run_worker("receipt-worker", worker.run)
        self._progress("receipt worker polling the queue for send_receipt")

    def _provision_platform_events(self, tables: InfraTables) -> dict[str, str]:
        """The FIFO delivery queue and its dead letters, and the KMS key sealing endpoint
        secrets, as infra/platform_events.py makes them; their environment variables."""
        import boto3  # noqa: PLC0415

        sqs = boto3.client("sqs")
        dead_letters = sqs.create_queue(
            QueueName=f"{tables.delivery_queue}-dead-letters.fifo",
            Attributes={"FifoQueue": "true"},
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])
        redrive = {"deadLetterTargetArn": arn["Attributes"]["QueueArn"],
                   "maxReceiveCount": tables.delivery_max_attempts}  # fmt: skip
        queue_url = sqs.create_queue(
            QueueName=f"{tables.delivery_queue}.fifo",
            Attributes={
                "FifoQueue": "true",
                "VisibilityTimeout": str(tables.delivery_timeout_seconds * 6),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        key = boto3.client("kms").create_key(Description="callpay local: endpoint secrets")
        self._progress(f"created the platform's delivery queue {tables.delivery_queue}.fifo")
        return {
            "PLATFORM_EVENT_QUEUE_URL": queue_url,
            "ENDPOINT_SECRET_KEY_ID": key["KeyMetadata"]["Arn"],
            # The demo's and a developer's endpoints listen on this machine, over http.
            "ALLOW_LOOPBACK_ENDPOINTS": "true",
        }

    def _start_platform_event_workers(self, tables: InfraTables) -> None:
        """The table's stream -> platform_outbox, the delivery queue -> platform_delivery."""
        import boto3  # noqa: PLC0415

        from callpay.adapters.dynamodb_outbox import STREAM_FILTER  # noqa: PLC0415
        from devtools.sqs_worker import SqsWorker  # noqa: PLC0415
        from devtools.stream_worker import StreamWorker  # noqa: PLC0415

        stream_arn = boto3.client("dynamodb").describe_table(TableName=TABLE)["Table"][
            "LatestStreamArn"
        ]
        outbox = self._lambda.function("platform_outbox", "platform_outbox.handler", 30)
        reader = StreamWorker(boto3.client("dynamodbstreams"), stream_arn, outbox, STREAM_FILTER)
        self._run_worker("outbox-worker", reader.run)
        timeout = tables.delivery_timeout_seconds
        delivery = self._lambda.function("platform_delivery", "platform_delivery.handler", timeout)
        queue_url = os.environ["PLATFORM_EVENT_QUEUE_URL"]
        sender = SqsWorker(boto3.client("sqs"), queue_url, delivery, batch_size=5)
        self._run_worker("delivery-worker", sender.run)
        self._progress("outbox and delivery workers feeding platform_outbox, platform_delivery")

    def _run_worker(self, name: str, run: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=run, args=(self._stop_worker,), name=name, daemon=True)
        thread.start()
        self._worker_threads.append(thread)

    # -- run and stop --------------------------------------------------------------------

    def wait(self, poll_seconds: float = 0.5) -> None:
        """Until interrupted; raises StackFailed if a server dies."""
        while True:
            for child in self._children:
                code = child.exited()
                if code is not None:
                    raise StackFailed(
                        f"{child.name} exited with code {code}; the end of {child.log_path}:\n"
                        + child.log_tail()
                    )
            time.sleep(poll_seconds)

    @property
    def _routes(self) -> list[HttpRoute]:
        return self.tables.routes if self.tables else []

    def stop(self) -> None:
        """Every clean-up step, each on its own: one that fails (a gateway that does not
        shut down in time) must not leave the servers running or local.json behind."""
        steps: list[tuple[str, Callable[[], None]]] = []
        if self._reading is not None:
            steps.append(("reading infra/", self._reading.cancel))
        steps.append(("workers", self._stop_workers))
        if self._hold_sweeps is not None:
            steps.append(("hold sweeper", self._hold_sweeps.stop))
        if self._gateway is not None:
            steps.append(("gateway", self._gateway.stop))
        steps.append(("execution environments", self._lambda.stop))
        steps += [(child.name, child.stop) for child in reversed(self._children)]
        steps.append(("local.json", lambda: endpoints.remove(self.options.state_dir, os.getpid())))
        for name, step in steps:
            try:
                step()
            except Exception as error:
                print(f"stopping {name} failed: {error!r}", file=sys.stderr, flush=True)

    def _stop_workers(self) -> None:
        self._stop_worker.set()
        for thread in self._worker_threads:
            thread.join(timeout=5)

    def banner(self) -> str:
        from devtools.routes import describe  # noqa: PLC0415

        e = self.endpoints
        assert e is not None
        stripe = "Stripe test mode" if self.options.uses_stripe else "localstripe"
        lines = [
            "",
            "callpay is running locally",
            f"  HTTP API        {e.http_url}",
            f"  WebSocket API   {e.ws_url}?call_id=<call>&token=<token>",
            f"  @connections    {e.http_url}/@connections/<connection id>",
            f"  JWKS            {e.jwks_url}   (issuer {e.issuer}, audience {e.audience})",
            f"  Stripe          {e.stripe_api_base}   ({stripe}, publishable key "
            f"{e.publishable_key})",
            f"  pay page        {e.http_url}/app/pay/#call_id=<call>&token=<patient token>",
            f"  panels          {e.http_url}/app/callpay.js   (docs/frontend.md)",
            f"  Stripe.js       {e.stripe_js_url}"
            + ("" if self.options.uses_stripe else "   (the local stand-in)"),
            f"  AWS (moto)      {e.aws_endpoint_url}   (sent e-mails: "
            f"{e.aws_endpoint_url}/moto-api/data.json)",
            f"  demo clinic     {e.demo_clinic_id} in organisation {e.demo_org_id}",
            f"  functions       up to {self.options.concurrency} execution environments each, "
            f"idle ones shut down after {self.options.idle_seconds:g} s; invocations at "
            f"{e.http_url}/_local/lambda",
            f"  hold sweeper    every {self.options.hold_sweep_seconds:g} s; one now: "
            f"POST {e.http_url}/_local/hold-sweeps",
            f"  endpoints file  {self.options.state_dir / endpoints.FILE_NAME}",
            f"  logs            {self.logs_dir}/ (moto, localstripe); functions log here",
            "",
            "A clinician token:",
            f"  callpay token --sub dr-lee --org {e.demo_org_id} --role team_member "
            f"--clinic {e.demo_clinic_id}",
            "",
            "Routes (from infra/http_api.py):",
            *(f"  {line}" for line in describe(self._routes)),
            "",
            "Ctrl-C stops everything.",
            "",
        ]
        return "\n".join(lines)


# The demo clinic's settings, as an organisation admin would enter them.
DEMO_CLINIC_SETTINGS: dict[str, Any] = {
    "country": "AU",
    "default_currency": "aud",
    "time_zone": "Australia/Sydney",
    "legal_name": "Harbour Telehealth Pty Ltd",
    "address": "1 Harbour Street, Sydney NSW 2000",
    "tax_id": "51 824 753 556",
    "tax_id_label": "ABN",
    "provider_name": "Dr Sam Lee",
    "provider_number": "2426711A",
    "tax_statement": "GST-free health service",
}


def seed_demo_clinic(http_url: str, identity: LocalIdentityProvider) -> None:
    """The demo organisation's clinic, set up the way its admins would: an org admin
    enables payments through the clinic routes, links the clinic's (local) Stripe account
    and completes the simulated onboarding page."""
    from devtools.local_client import CallpayApi, set_up_clinic  # noqa: PLC0415

    org_admin = identity.token(
        "demo-org-admin", DEMO_ORG_ID, "org_admin", [DEMO_CLINIC_ID], expires_in=300
    )
    account = set_up_clinic(CallpayApi(http_url, org_admin), DEMO_CLINIC_ID, DEMO_CLINIC_SETTINGS)
    if not account.get("charges_enabled"):
        raise StackFailed(f"the demo clinic's Stripe account cannot take charges: {account}")


def seed_demo_clinic_in_store(stripe_account_id: str) -> None:
    """The demo clinic written straight to the store: with Stripe's own test mode, whose
    Connect onboarding cannot be completed from here (the account is given instead)."""
    from callpay import runtime  # noqa: PLC0415
    from callpay.domain.clinic import Clinic  # noqa: PLC0415

    runtime.store().put_clinic(
        Clinic(
            clinic_id=DEMO_CLINIC_ID,
            org_id=DEMO_ORG_ID,
            enabled=True,
            stripe_account_id=stripe_account_id,
            charges_enabled=True,
            details_submitted=True,
            **DEMO_CLINIC_SETTINGS,
        )
    )


def _start_failures() -> tuple[type[Exception], ...]:
    """What a start-up step may raise that is a failure to report, not a bug to trace: a
    server that died or never listened, a timeout, AWS or the gateway answering otherwise
    (requests' errors are OSErrors)."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from devtools.local_client import UnexpectedAnswer  # noqa: PLC0415

    return (RuntimeError, TimedOut, subprocess.TimeoutExpired, UnexpectedAnswer, OSError,
            BotoCoreError, ClientError)  # fmt: skip


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(options: StackOptions) -> int:
    """Run the stack in the foreground until Ctrl-C or SIGTERM; the exit status."""
    stack_logging.configure()
    if options.exit_with_parent:
        from devtools.processes import exit_with_parent  # noqa: PLC0415

        exit_with_parent()
    signal.signal(signal.SIGTERM, _interrupt)
    stack = LocalStack(options, say=lambda line: print(line, flush=True))
    status = 1
    start_failures = _start_failures()
    try:
        try:
            stack.start()
        except start_failures as error:
            raise StackFailed(f"could not start: {error}") from error
        print(stack.banner(), flush=True)
        stack.wait()
    except KeyboardInterrupt:
        print("\nstopping the local stack...", flush=True)
        status = 0
    except StackFailed as failure:
        print(f"\nthe local stack failed: {failure}", file=sys.stderr, flush=True)
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
    return status
