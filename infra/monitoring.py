"""Alarms to an SNS topic and one dashboard: what an on-call engineer looks at first.

Later functions are added with watch_function(); later APIs with watch_http_api().
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import CallpayConfig
from infra.functions import METRICS_NAMESPACE

PERIOD = Duration.minutes(5)
WEBHOOK_SERVICE = "stripe_webhook"


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CallpayConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        # CloudWatch can publish to an encrypted topic only with a customer-managed key
        # whose policy lets it use the key.
        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"callpay {config.stage}: alarm notifications",
            enable_key_rotation=True,
        )
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"callpay {config.stage} alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.action = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"callpay-{config.stage}",
            default_interval=Duration.hours(6),
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        description: str,
        threshold: float = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self.action)
        alarm.add_ok_action(self.action)
        self.alarms.append(alarm)
        return alarm

    def watch_http_api(self, name: str, api: apigwv2.HttpApi) -> None:
        server_errors = api.metric_server_error(period=PERIOD, statistic="Sum")
        self._alarm(
            f"{name}ServerErrors",
            server_errors,
            description=f"{name}: the HTTP API answered 5xx (bad input must never do that).",
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{name}: requests and errors",
                left=[
                    api.metric_count(period=PERIOD, statistic="Sum"),
                    api.metric_client_error(period=PERIOD, statistic="Sum"),
                    server_errors,
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title=f"{name}: latency",
                left=[
                    api.metric_latency(period=PERIOD, statistic="p50"),
                    api.metric_latency(period=PERIOD, statistic="p99"),
                ],
                width=12,
            ),
        )

    def watch_function(self, name: str, function: lambda_.Function) -> None:
        errors = function.metric_errors(period=PERIOD, statistic="Sum")
        throttles = function.metric_throttles(period=PERIOD, statistic="Sum")
        self._alarm(f"{name}Errors", errors, description=f"{name}: the function failed.")
        self._alarm(
            f"{name}Throttles",
            throttles,
            description=f"{name}: invocations were throttled (concurrency exhausted).",
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{name}: invocations, errors, throttles",
                left=[
                    function.metric_invocations(period=PERIOD, statistic="Sum"),
                    errors,
                    throttles,
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title=f"{name}: duration",
                left=[
                    function.metric_duration(period=PERIOD, statistic="p50"),
                    function.metric_duration(period=PERIOD, statistic="p99"),
                ],
                width=12,
            ),
        )

    def watch_dead_letters(self, name: str, queue: sqs.IQueue) -> None:
        depth = queue.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum"
        )
        self._alarm(
            f"{name}Depth",
            depth,
            description=f"{name}: messages gave up after every retry; inspect and redrive.",
        )
        self.dashboard.add_widgets(
            cloudwatch.SingleValueWidget(title=f"{name}: messages", metrics=[depth], width=6)
        )

    def watch_webhook_signatures(self) -> None:
        """Many bad Stripe signatures: a rotated secret not yet in webhook_secrets, or probing."""
        failures = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name="WebhookSignatureFailures",
            dimensions_map={"service": WEBHOOK_SERVICE},
            period=PERIOD,
            statistic="Sum",
        )
        self._alarm(
            "WebhookSignatureFailures",
            failures,
            threshold=self.config.webhook_signature_failure_threshold,
            description="Stripe webhook signatures failed verification: check webhook_secrets "
            "in the secret against both Stripe endpoints (account and Connect).",
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Stripe webhook signature failures", left=[failures], width=6
            )
        )
