"""The HTTP API: DESIGN.md's routes, the JWT authorizer where API Gateway can use it.

Which routes carry the JWT authorizer, and why some do not:

* Clinician-only routes carry it: API Gateway rejects a missing, expired or foreign
  token before the Lambda runs, and the Lambda then applies the role and clinic rules.
* Routes only the platform's backend calls (with a client-credentials token from the same
  identity provider) also name the OAuth scopes the token must carry: API Gateway answers
  403 to a valid token without one of them. Routes shared by backends and admins cannot
  (an admin's token has no such scope); their Lambda checks the scope of a backend's token.
* Routes that clinicians *and* patients call (viewing a call's payment requests, one
  request or its receipt, the patient's checkout) have no gateway authorizer. A patient presents a
  call-scoped token that callpay signed itself, which the identity provider's JWT
  authorizer would reject; the Lambda authenticates both kinds of bearer token and
  refuses anything else with 401.
* The Stripe webhook has none: Stripe does not send a bearer token, and the Lambda
  checks the Stripe-Signature of the raw body (a bad signature is a 400).
* The contract (`GET /openapi.json`) is public, and so is `$default`: every request no
  other route takes goes to the api_contract function, which answers callpay's envelope
  (404 `not_found`, 405 `method_not_allowed`) instead of API Gateway's own `Not Found`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import jsii
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from callpay.domain.access import INVOICES_WRITE
from infra.config import CallpayConfig
from infra.nag import acknowledge

GET = apigwv2.HttpMethod.GET
POST = apigwv2.HttpMethod.POST
PUT = apigwv2.HttpMethod.PUT
DELETE = apigwv2.HttpMethod.DELETE


@dataclass(frozen=True)
class Route:
    method: apigwv2.HttpMethod
    path: str
    # True: the JWT authorizer guards it. False: the Lambda authenticates (see above).
    clinician_jwt: bool
    # With the authorizer: the token must carry one of these scopes (platform backends).
    scopes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.method.value} {self.path}"


# Handled by request_payment (the infra tests check this list against its resolver).
PAYMENT_REQUEST_ROUTES = (
    Route(POST, "/calls/{call_id}/patient-access", clinician_jwt=True),
    Route(POST, "/calls/{call_id}/payment-requests", clinician_jwt=True),
    Route(GET, "/calls/{call_id}/payment-requests", clinician_jwt=False),
    Route(GET, "/payment-requests/{id}", clinician_jwt=False),
    Route(POST, "/payment-requests/{id}/checkout", clinician_jwt=False),
    Route(POST, "/payment-requests/{id}/cancel", clinician_jwt=True),
    Route(POST, "/payment-requests/{id}/capture", clinician_jwt=True),
    Route(POST, "/payment-requests/{id}/reauthorize", clinician_jwt=True),
    Route(POST, "/payment-requests/{id}/pay-link", clinician_jwt=True),
    Route(POST, "/calls/{call_id}/no-show-fees", clinician_jwt=True),
    # Admins only: the authorizer admits the IdP's JWT, the Lambda checks the role.
    Route(POST, "/payment-requests/{id}/refunds", clinician_jwt=True),
    Route(GET, "/payment-requests/{id}/receipt", clinician_jwt=False),
)
STRIPE_WEBHOOK_ROUTES = (Route(POST, "/webhooks/stripe", clinician_jwt=False),)
# Handled by api_contract: the OpenAPI document, and (DEFAULT_ROUTE) every route miss.
CONTRACT_ROUTES = (Route(GET, "/openapi.json", clinician_jwt=False),)
DEFAULT_ROUTE = "$default"
# Handled by clinic_admin (settings, account, reports, audit trail): admins only, so all
# behind the JWT authorizer.
CLINIC_ROUTES = (
    Route(GET, "/clinics/{clinic_id}/settings", clinician_jwt=True),
    Route(PUT, "/clinics/{clinic_id}/settings", clinician_jwt=True),
    Route(POST, "/clinics/{clinic_id}/stripe-account/link", clinician_jwt=True),
    Route(GET, "/clinics/{clinic_id}/stripe-account", clinician_jwt=True),
    Route(DELETE, "/clinics/{clinic_id}/stripe-account", clinician_jwt=True),
    Route(GET, "/clinics/{clinic_id}/payments", clinician_jwt=True),
    Route(GET, "/clinics/{clinic_id}/audit", clinician_jwt=True),
    # An admin reading: the trail is the clinic's record, whichever call it was made in.
    Route(GET, "/payment-requests/{id}/audit", clinician_jwt=True),
)

# Handled by platform_api: the platform's backend (client credentials, scopes checked in
# the Lambda where admins may call too) and its organisation admins.
PLATFORM_ROUTES = (
    # Only the backend writes invoices: API Gateway checks its scope.
    Route(
        PUT,
        "/clinics/{clinic_id}/invoices/{invoice_id}",
        clinician_jwt=True,
        scopes=(INVOICES_WRITE,),
    ),
    Route(GET, "/clinics/{clinic_id}/invoices", clinician_jwt=True),
    Route(GET, "/clinics/{clinic_id}/invoices/{invoice_id}", clinician_jwt=True),
    Route(POST, "/orgs/{org_id}/webhook-endpoints", clinician_jwt=True),
    Route(GET, "/orgs/{org_id}/webhook-endpoints", clinician_jwt=True),
    Route(DELETE, "/orgs/{org_id}/webhook-endpoints/{endpoint_id}", clinician_jwt=True),
    Route(POST, "/orgs/{org_id}/webhook-endpoints/{endpoint_id}/replay", clinician_jwt=True),
)

# One JSON line per request. No query strings or bodies: those may carry tokens.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "sourceIp": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class AccessLogSettings:
    """apigatewayv2.IAccessLogSettings for a CloudWatch log group and a JSON format."""

    def __init__(self, log_group: logs.ILogGroup, fields: dict[str, str]) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)
        self._format = apigw.AccessLogFormat.custom(json.dumps(fields))

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


class PaymentsHttpApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CallpayConfig) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"callpay-{config.stage}-http",
            description="callpay: payment requests and the Stripe webhook",
            cors_preflight=apigwv2.CorsPreflightOptions(
                allow_origins=config.cors_origins,
                allow_methods=[
                    apigwv2.CorsHttpMethod.GET,
                    apigwv2.CorsHttpMethod.POST,
                    apigwv2.CorsHttpMethod.PUT,
                    apigwv2.CorsHttpMethod.DELETE,
                ],
                allow_headers=["authorization", "content-type", "idempotency-key"],
                expose_headers=["location", "idempotent-replayed"],
                # Bearer tokens, not cookies: browsers need not send credentials.
                allow_credentials=False,
                max_age=Duration.hours(1),
            ),
            create_default_stage=False,
        )
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=config.removal_policy,
        )
        self.stage = self.api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.api_rate_limit, burst_limit=config.api_burst_limit
            ),
            access_log_settings=AccessLogSettings(self.access_logs, ACCESS_LOG_FORMAT),
        )
        self.jwt_authorizer = authorizers.HttpJwtAuthorizer(
            "ClinicianJwt",
            config.jwt_issuer,
            jwt_audience=[config.jwt_audience],
            authorizer_name="clinician-jwt",
        )
        self.routes: dict[str, apigwv2.HttpRoute] = {}
        self._integrations: dict[str, integrations.HttpLambdaIntegration] = {}

    @property
    def url(self) -> str:
        return self.stage.url

    def throttle_route(self, route_key: str, *, rate_limit: int, burst_limit: int) -> None:
        """A route's own throttle on the stage, below the stage's default."""
        stage = cast(apigwv2.CfnStage, self.stage.node.default_child)
        settings = dict(cast(dict[str, Any], stage.route_settings or {}))
        # RouteSettings is a JSON map in CloudFormation: its values keep their own casing.
        settings[route_key] = {
            "ThrottlingRateLimit": rate_limit,
            "ThrottlingBurstLimit": burst_limit,
        }
        stage.route_settings = settings
        # API Gateway refuses settings for a route key the API does not have yet.
        stage.node.add_dependency(self.routes[route_key])

    def add_default_route(self, name: str) -> None:
        """Every request no other route takes (API Gateway's `$default` route key), to the
        function of the routes added as `name`."""
        created = apigwv2.HttpRoute(
            self,
            "DefaultRoute",
            http_api=self.api,
            route_key=apigwv2.HttpRouteKey.DEFAULT,
            integration=self._integrations[name],
        )
        self.routes[DEFAULT_ROUTE] = created
        acknowledge(
            created.node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-APIG4",
            "$default only answers route misses (404/405 in callpay's error envelope): "
            "there is nothing behind it to authorize.",
        )

    def add_routes(self, name: str, routes: Sequence[Route], handler: lambda_.IFunction) -> None:
        """Send routes to one function, each with the authorizer its Route says."""
        integration = integrations.HttpLambdaIntegration(f"{name}Integration", handler)
        self._integrations[name] = integration
        for route in routes:
            authorizer: apigwv2.IHttpRouteAuthorizer = (
                self.jwt_authorizer if route.clinician_jwt else apigwv2.HttpNoneAuthorizer()
            )
            (created,) = self.api.add_routes(
                path=route.path,
                methods=[route.method],
                integration=integration,
                authorizer=authorizer,
                authorization_scopes=list(route.scopes) or None,
            )
            self.routes[route.key] = created
            if not route.clinician_jwt:
                acknowledge(
                    created.node.default_child,  # type: ignore[arg-type]
                    "AwsSolutions-APIG4",
                    f"{route.key} authenticates in the Lambda: a callpay-signed patient "
                    "token or a clinician JWT, or for Stripe the webhook signature "
                    "(see infra/http_api.py).",
                )
