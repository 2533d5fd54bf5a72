"""The WebSocket API for in-call pop-ups: API, stage, routes, and @connections access.

All routes go to the realtime function: `$connect` authenticates from the query string
(API Gateway's JWT authorizer does not exist for WebSocket APIs, and patients present a
callpay-signed token anyway), `$disconnect` forgets the socket, and `$default` answers
`sync` and `ping`. Functions that push payment updates get POST on this stage's
@connections and nothing else.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import CfnElement, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import CallpayConfig
from infra.functions import HandlerFunction
from infra.http_api import AccessLogSettings
from infra.nag import acknowledge

ROUTES = {"$connect": "Connect", "$disconnect": "Disconnect", "$default": "Default"}

# The $connect query string carries the access token, so it is never logged.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "sourceIp": "$context.identity.sourceIp",
    "connectionId": "$context.connectionId",
    "eventType": "$context.eventType",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "errorMessage": "$context.error.message",
}


class RealtimeApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CallpayConfig) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            api_name=f"callpay-{config.stage}-realtime",
            description="callpay: payment request updates for the call's clinician and patient",
        )
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=config.removal_policy,
        )
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=config.stage,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.api_rate_limit, burst_limit=config.api_burst_limit
            ),
            access_log_settings=AccessLogSettings(self.access_logs, ACCESS_LOG_FORMAT),
        )
        self.logs_role = self._account_logs_role() if config.manage_apigateway_logs_role else None

    def _account_logs_role(self) -> iam.Role:
        """WebSocket (unlike HTTP) API logging needs the region's API Gateway logs role.

        It is one setting per account and region; a stack that shares the account with
        another owner of that setting turns this off (manage_apigateway_logs_role=false).
        """
        role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "AWS's documented policy for the API Gateway account logs role; API Gateway "
            "names the execution log groups itself, so no narrower resource list exists.",
        )
        account = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        self.stage.node.add_dependency(account)
        return role

    @property
    def url(self) -> str:
        return self.stage.url

    @property
    def callback_url(self) -> str:
        """The @connections endpoint (https://...) the functions post updates to."""
        return self.stage.callback_url

    def add_routes(self, handler: lambda_.IFunction) -> None:
        """$connect, $disconnect and $default ("sync", "ping"...) to the realtime function."""
        for route_key, name in ROUTES.items():
            route = self.api.add_route(
                route_key,
                integration=integrations.WebSocketLambdaIntegration(f"{name}Integration", handler),
            )
            acknowledge(
                route.node.default_child,  # type: ignore[arg-type]
                "AwsSolutions-APIG4",
                f"{route_key}: WebSocket APIs have no JWT authorizer; the realtime function "
                "verifies the clinician JWT or patient token on $connect and refuses the "
                "socket otherwise, and later frames only reach admitted connections.",
            )

    def grant_post_to_connections(self, handler: HandlerFunction) -> None:
        """execute-api:ManageConnections to POST to this stage's @connections only."""
        stack = Stack.of(self)
        connections = stack.format_arn(
            service="execute-api",
            resource=self.api.api_id,
            resource_name=f"{self.stage.stage_name}/POST/@connections/*",
        )
        iam.Grant.add_to_principal(
            grantee=handler.function,
            actions=["execute-api:ManageConnections"],
            resource_arns=[connections],
        )
        api = stack.resolve(stack.get_logical_id(cast(CfnElement, self.api.node.default_child)))
        handler.acknowledge_permission(
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:"
            f"<AWS::AccountId>:<{api}>/{self.stage.stage_name}/POST/@connections/*]",
            "Connection ids are only known at run time; the wildcard spans POST to the "
            "connections of this API's stage and nothing else.",
        )
