"""Alarms to an SNS topic and one dashboard: what an on-call engineer looks at first.

Later functions are added with watch_function(); later APIs with watch_http_api().
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
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
# What DynamoDBPaymentStore calls (infra/data.py's ITEM_ACTIONS, as operations).
TABLE_OPERATIONS = (
    dynamodb.Operation.GET_ITEM,
    dynamodb.Operation.PUT_ITEM,
    dynamodb.Operation.UPDATE_ITEM,
    dynamodb.Operation.DELETE_ITEM,
    dynamodb.Operation.QUERY,
    dynamodb.Operation.TRANSACT_WRITE_ITEMS,
)


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
        # Only CloudWatch acting for this account (its alarms), not for any account.
        cloudwatch_here = iam.ServicePrincipal("cloudwatch.amazonaws.com").with_conditions(
            {"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
        )
        self.key.grant(cloudwatch_here, "kms:Decrypt", "kms:GenerateDataKey*")
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

    def watch_websocket_api(
        self, name: str, api: apigwv2.WebSocketApi, stage: apigwv2.WebSocketStage
    ) -> None:
        """Server-side failures of the WebSocket API (its metrics are per API and stage)."""

        def metric(metric_name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name=metric_name,
                dimensions_map={"ApiId": api.api_id, "Stage": stage.stage_name},
                period=PERIOD,
                statistic="Sum",
            )

        execution_errors = metric("ExecutionError")
        integration_errors = metric("IntegrationError")
        # Throttled frames and connections (429) are client errors here, next to refused
        # tokens (401/403), so they are graphed, not alarmed; function throttles alarm.
        client_errors = metric("ClientError")
        self._alarm(
            f"{name}ExecutionErrors",
            execution_errors,
            description=f"{name}: API Gateway failed to run a WebSocket route (5xx).",
        )
        self._alarm(
            f"{name}IntegrationErrors",
            integration_errors,
            description=f"{name}: the realtime function failed a WebSocket route.",
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{name}: connections, messages and errors",
                left=[
                    metric("ConnectCount"),
                    metric("MessageCount"),
                    client_errors,
                    execution_errors,
                    integration_errors,
                ],
                width=12,
            )
        )

    def watch_table(self, name: str, table: dynamodb.ITable) -> None:
        """Throttled requests and DynamoDB's own errors on the operations the store uses."""
        throttles = table.metric_throttled_requests_for_operations(
            operations=list(TABLE_OPERATIONS), period=PERIOD
        )
        system_errors = table.metric_system_errors_for_operations(
            operations=list(TABLE_OPERATIONS), period=PERIOD
        )
        self._alarm(
            f"{name}Throttles",
            throttles,
            description=f"{name}: DynamoDB throttled requests (on-demand limits reached).",
        )
        self._alarm(
            f"{name}SystemErrors",
            system_errors,
            description=f"{name}: DynamoDB answered with internal server errors.",
        )
        # One math expression per graph: both name their per-operation metrics alike.
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title=f"{name}: throttled requests", left=[throttles], width=6),
            cloudwatch.GraphWidget(title=f"{name}: system errors", left=[system_errors], width=6),
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
