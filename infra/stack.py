"""The callpay stack: the constructs wired together, one function per handler.

A new handler is a HandlerFunction here, given only the grants it uses from the
constructs below (table, secrets, receipt queue, SES, @connections), routed, and watched.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack, Tags
from constructs import Construct

from infra.app_secrets import AppSecrets
from infra.bundling import function_code
from infra.config import CallpayConfig
from infra.data import PaymentData
from infra.functions import HandlerFunction
from infra.hold_sweeps import HoldSweeps
from infra.http_api import (
    CLINIC_ROUTES,
    PAYMENT_REQUEST_ROUTES,
    STRIPE_WEBHOOK_ROUTES,
    PaymentsHttpApi,
)
from infra.monitoring import Monitoring
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
        self.handlers = (
            self.request_payment,
            self.stripe_webhook,
            self.realtime_handler,
            self.send_receipt,
            self.clinic_admin,
            self.hold_sweeper,
        )

        # Least privilege: each grant names the one resource, and only users get it.
        for handler in self.handlers:
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
        self.realtime.add_routes(self.realtime_handler.function)
        self.hold_sweeps = HoldSweeps(
            self, "HoldSweeps", config=config, function=self.hold_sweeper.function
        )

        # Stripe's deliveries need far less than the apps' traffic; a flood of forged
        # ones then cannot use up the API's whole rate.
        for route in STRIPE_WEBHOOK_ROUTES:
            self.http_api.throttle_route(
                route, rate_limit=config.webhook_rate_limit, burst_limit=config.webhook_burst_limit
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
