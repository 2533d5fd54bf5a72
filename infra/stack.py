"""The callpay stack: the constructs wired together, one function per handler.

A new handler is a HandlerFunction here, given only the grants it uses from the
constructs below (table, secrets, receipt queue, SES, @connections), routed, and watched.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.app_secrets import AppSecrets
from infra.bundling import function_code
from infra.config import CallpayConfig
from infra.data import PaymentData
from infra.functions import HandlerFunction
from infra.hold_sweeps import HoldSweeps
from infra.http_api import (
    CLINIC_ROUTES,
    CONTRACT_ROUTES,
    DEFAULT_ROUTE,
    PAYMENT_REQUEST_ROUTES,
    PLATFORM_ROUTES,
    STRIPE_WEBHOOK_ROUTES,
    PaymentsHttpApi,
)
from infra.monitoring import Monitoring
from infra.platform_events import (
    DELIVERY_TIMEOUT_SECONDS,
    OUTBOX_TIMEOUT_SECONDS,
    PlatformEvents,
)
from infra.realtime import RealtimeApi
from infra.receipts import CONSUMER_TIMEOUT_SECONDS, Receipts
from infra.static_site import StaticSite

API_TIMEOUT = Duration.seconds(10)


class CallpayStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: CallpayConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("project", "callpay")
        Tags.of(self).add("stage", config.stage)

        self.data = PaymentData(self, "Data", config=config)
        self.secrets = AppSecrets(self, "Secrets", config=config)
        self.realtime = RealtimeApi(self, "Realtime", config=config)
        self.receipts = Receipts(self, "Receipts", config=config)
        self.http_api = PaymentsHttpApi(self, "HttpApi", config=config)
        self.monitoring = Monitoring(self, "Monitoring", config=config)
        self.site = StaticSite(
            self,
            "Site",
            config=config,
            http_api=self.http_api.api,
            websocket_api=self.realtime.api,
        )

        code = function_code()
        # The secrets' ids (never their values) are given with the grants below.
        common = {"TABLE_NAME": self.data.table.table_name}
        # For the functions that authenticate clinicians themselves: the HTTP routes
        # shared with patients, and the WebSocket $connect. Same issuer and audience as
        # the HTTP API's JWT authorizer.
        clinician_jwt = {
            "JWT_ISSUER": config.jwt_issuer,
            "JWT_AUDIENCE": config.jwt_audience,
            "JWKS_URL": config.jwks_endpoint,
        }
        # For the functions that push payment updates to the call's sockets.
        pushes_updates = {"WEBSOCKET_CALLBACK_URL": self.realtime.callback_url}
        # For the functions that queue receipt e-mails (payments, refunds).
        queues_receipts = {"RECEIPT_QUEUE_URL": self.receipts.queue.queue_url}
        # For the functions that build receipts: send_receipt mails them, request_payment
        # renders the receipt page with the same sender details.
        receipt_mail = {
            "RECEIPT_SENDER": self.receipts.sender_email,
            "SES_CONFIGURATION_SET": self.receipts.configuration_set_name,
        }

        self.request_payment = HandlerFunction(
            self,
            "RequestPayment",
            config=config,
            code=code,
            handler="request_payment.handler.lambda_handler",
            service="request_payment",
            description="callpay: payment requests (create, view, pay, cancel, refund, receipt)",
            environment={
                **common,
                **clinician_jwt,
                **pushes_updates,
                **queues_receipts,
                **receipt_mail,
                # patient access links the hosted pay page (patient_url).
                "PATIENT_PAGE_URL": self.site.pay_page_url,
                # How long a pay-later link works (the mailer reads its expiry from the record).
                "PAY_LINK_HOURS": str(config.pay_link_hours),
            },
            timeout=API_TIMEOUT,
        )
        self.stripe_webhook = HandlerFunction(
            self,
            "StripeWebhook",
            config=config,
            code=code,
            handler="stripe_webhook.handler.lambda_handler",
            service="stripe_webhook",
            description="callpay: Stripe webhook events to payment state, pop-ups, receipts",
            environment={**common, **pushes_updates, **queues_receipts},
            timeout=API_TIMEOUT,
        )
        self.realtime_handler = HandlerFunction(
            self,
            "RealtimeHandler",
            config=config,
            code=code,
            handler="realtime.handler.lambda_handler",
            service="realtime",
            description="callpay: WebSocket connect, disconnect, sync and ping",
            environment={**common, **clinician_jwt, **pushes_updates},
            timeout=API_TIMEOUT,
        )
        self.send_receipt = HandlerFunction(
            self,
            "SendReceipt",
            config=config,
            code=code,
            handler="send_receipt.handler.lambda_handler",
            service="send_receipt",
            description="callpay: receipt and pay-later link e-mails through SES",
            environment={
                **common,
                **receipt_mail,
                # Pay-later link e-mails link the hosted page (the token minted again).
                "PATIENT_PAGE_URL": self.site.pay_page_url,
            },
            timeout=Duration.seconds(CONSUMER_TIMEOUT_SECONDS),
        )
        self.hold_sweeper = HandlerFunction(
            self,
            "HoldSweeper",
            config=config,
            code=code,
            handler="hold_sweeper.handler.lambda_handler",
            service="hold_sweeper",
            description="callpay: warn about holds near expiry, record lapsed ones (scheduled)",
            environment={
                **common,
                **pushes_updates,
                **queues_receipts,
                "HOLD_WARNING_HOURS": str(config.hold_warning_hours),
            },
            # Stripe is asked about each lapsed hold: room for a backlog after an outage.
            timeout=Duration.minutes(5),
        )
        self.clinic_admin = HandlerFunction(
            self,
            "ClinicAdmin",
            config=config,
            code=code,
            handler="clinic_admin.handler.lambda_handler",
            service="clinic_admin",
            description="callpay: clinic settings, Stripe account link/status/removal, reports",
            environment={
                **common,
                **clinician_jwt,
                "CONNECT_RETURN_URL": config.connect_return_url,
                "CONNECT_REFRESH_URL": config.connect_refresh_url,
            },
            timeout=API_TIMEOUT,
        )
        # The OpenAPI document (bundled beside it) and callpay's answer to route misses.
        self.api_contract = HandlerFunction(
            self,
            "ApiContract",
            config=config,
            code=code,
            handler="api_contract.handler.lambda_handler",
            service="api_contract",
            description="callpay: GET /openapi.json and 404/405 for every other route miss",
            environment={},  # it touches nothing: no table, no secret
            timeout=API_TIMEOUT,
        )
        self.handlers = (
            self.request_payment,
            self.stripe_webhook,
            self.realtime_handler,
            self.send_receipt,
            self.clinic_admin,
            self.api_contract,
            # platform_api, platform_outbox, platform_delivery
            *self._add_platform_functions(config, code, {**common, **clinician_jwt}),
            self.hold_sweeper,
        )

        # Least privilege: each grant names the one resource, and only users get it.
        for handler in self.handlers:
            if handler is not self.api_contract:
                self.data.grant_read_write(handler)
            self.monitoring.watch_function(handler.service, handler.function)
        # Each secret's id (its *_SECRET_ID variable) and read access to it, only to the
        # functions that use it: the internet-facing realtime function never sees the
        # Stripe key, only stripe_webhook sees the webhook signing secrets, and only the
        # functions patients call (request_payment, realtime) the patient token key.
        stripe, webhook, token = self.secrets.stripe, self.secrets.webhook, self.secrets.token
        self.secrets_used = {
            self.request_payment: (stripe, token),
            self.stripe_webhook: (webhook,),
            self.realtime_handler: (token,),
            # The token key mints the pay-later link's token in the e-mail.
            self.send_receipt: (stripe, token),
            self.clinic_admin: (stripe,),
            # The platform routes are behind the JWT authorizer; a patient token is refused
            # unread (platform_caller_of), so no token key here.
            self.platform_api: (),
            self.platform_outbox: (),
            self.platform_delivery: (),
            self.hold_sweeper: (stripe,),
        }
        for handler, used in self.secrets_used.items():
            for secret in used:
                secret.give_to(handler)
        for handler in (
            self.request_payment,
            self.stripe_webhook,
            self.realtime_handler,
            self.hold_sweeper,
        ):
            self.realtime.grant_post_to_connections(handler)
        for handler in (self.request_payment, self.stripe_webhook, self.hold_sweeper):
            self.receipts.grant_enqueue(handler.function)
        self.receipts.add_consumer(self.send_receipt.function)
        self.receipts.grant_send_receipts(self.send_receipt.function)

        self.http_api.add_routes(
            "RequestPayment", PAYMENT_REQUEST_ROUTES, self.request_payment.function
        )
        self.http_api.add_routes(
            "StripeWebhook", STRIPE_WEBHOOK_ROUTES, self.stripe_webhook.function
        )
        self.http_api.add_routes("ClinicAdmin", CLINIC_ROUTES, self.clinic_admin.function)
        self.http_api.add_routes("ApiContract", CONTRACT_ROUTES, self.api_contract.function)
        self.http_api.add_default_route("ApiContract")
        self.realtime.add_routes(self.realtime_handler.function)
        self.hold_sweeps = HoldSweeps(
            self, "HoldSweeps", config=config, function=self.hold_sweeper.function
        )

        # Stripe's deliveries need far less than the apps' traffic; a flood of forged
        # ones then cannot use up the API's whole rate.
        # Likewise stray requests to $default (each one invokes api_contract).
        for route_key in (*(r.key for r in STRIPE_WEBHOOK_ROUTES), DEFAULT_ROUTE):
            self.http_api.throttle_route(
                route_key,
                rate_limit=config.webhook_rate_limit,
                burst_limit=config.webhook_burst_limit,
            )

        self.monitoring.watch_http_api("HttpApi", self.http_api.api)
        self.monitoring.watch_websocket_api("Realtime", self.realtime.api, self.realtime.stage)
        self.monitoring.watch_table("Table", self.data.table)
        self.monitoring.watch_dead_letters("ReceiptDeadLetters", self.receipts.dead_letters)
        self.monitoring.watch_dead_letters("HoldSweepDeadLetters", self.hold_sweeps.dead_letters)
        self.monitoring.watch_webhook_signatures()

        self._outputs()

    def _outputs(self) -> None:
        """What an operator needs after deploying (docs/deploy.md)."""
        CfnOutput(self, "HttpApiUrl", value=self.http_api.url)
        CfnOutput(
            self,
            "StripeWebhookUrl",
            value=f"{self.http_api.url.rstrip('/')}/webhooks/stripe",
            description="Register this endpoint in Stripe twice: account events and Connect events",
        )
        CfnOutput(self, "WebSocketUrl", value=self.realtime.url)
        CfnOutput(
            self,
            "PayPageUrl",
            value=self.site.pay_page_url,
            description="The hosted pay page (patient_url); the panels' module is at /callpay.js",
        )
        CfnOutput(self, "TableName", value=self.data.table.table_name)
        CfnOutput(
            self,
            "StripeSecretId",
            value=self.secrets.stripe.secret_id,
            description="Fill stripe_api_key and stripe_publishable_key (docs/deploy.md)",
        )
        CfnOutput(
            self,
            "WebhookSecretId",
            value=self.secrets.webhook.secret_id,
            description="Fill webhook_secrets with both Stripe endpoints' signing secrets",
        )
        CfnOutput(
            self,
            "TokenSecretId",
            value=self.secrets.token.secret_id,
            description="The generated patient_token_key; nothing to fill in",
        )
        CfnOutput(
            self,
            "SesIdentity",
            value=self.receipts.identity.email_identity_name,
            description="Verify it (and leave the SES sandbox) before receipts can be sent",
        )
        CfnOutput(self, "ReceiptQueueUrl", value=self.receipts.queue.queue_url)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)

    def _add_platform_functions(
        self, config: CallpayConfig, code: lambda_.Code, api_environment: dict[str, str]
    ) -> tuple[HandlerFunction, ...]:
        """Events to the platform (infra/platform_events.py) and its functions: platform_api
        (the platform routes), platform_outbox and platform_delivery, wired."""
        self.platform_events = PlatformEvents(self, "PlatformEvents", config=config)
        common = {"TABLE_NAME": self.data.table.table_name}
        # For the functions that queue deliveries to the platform (and open or seal secrets).
        events = self.platform_events
        queues_events = {"PLATFORM_EVENT_QUEUE_URL": events.queue.queue_url}
        secrets_key = {"ENDPOINT_SECRET_KEY_ID": events.secrets_key.key_arn}
        self.platform_api = HandlerFunction(
            self,
            "PlatformApi",
            config=config,
            code=code,
            handler="platform_api.handler.lambda_handler",
            service="platform_api",
            description="callpay: the platform's webhook endpoints and invoices",
            environment={**api_environment, **queues_events, **secrets_key},
            timeout=API_TIMEOUT,
        )
        self.platform_outbox = HandlerFunction(
            self,
            "PlatformOutbox",
            config=config,
            code=code,
            handler="platform_outbox.handler.lambda_handler",
            service="platform_outbox",
            description="callpay: outbox events from the table's stream to the delivery queue",
            environment={**common, **queues_events},
            timeout=Duration.seconds(OUTBOX_TIMEOUT_SECONDS),
        )
        self.platform_delivery = HandlerFunction(
            self,
            "PlatformDelivery",
            config=config,
            code=code,
            handler="platform_delivery.handler.lambda_handler",
            service="platform_delivery",
            description="callpay: signed events to the platform's endpoints, with retries",
            environment={**common, **queues_events, **secrets_key},
            timeout=Duration.seconds(DELIVERY_TIMEOUT_SECONDS),
        )
        self._wire_platform_events()
        return self.platform_api, self.platform_outbox, self.platform_delivery

    def _wire_platform_events(self) -> None:
        """Grants, event sources, routes and alarms of the events to the platform."""
        events = self.platform_events
        events.grant_seal(self.platform_api.function)
        events.grant_open(self.platform_delivery.function)
        for handler in (self.platform_api, self.platform_outbox):
            events.grant_enqueue(handler.function)
        events.add_outbox_reader(self.platform_outbox.function, self.data.table)
        events.add_delivery_consumer(self.platform_delivery.function)
        self.http_api.add_routes("PlatformApi", PLATFORM_ROUTES, self.platform_api.function)
        self.monitoring.watch_dead_letters("PlatformEventDeadLetters", events.dead_letters)
        self.monitoring.watch_dead_letters("PlatformOutboxFailures", events.outbox_failures)
        CfnOutput(self, "PlatformEventQueueUrl", value=events.queue.queue_url)
