"""The hosted pay page and the panels' module: frontend/ in S3 behind CloudFront.

The bucket is private, encrypted and TLS-only; CloudFront reads it with an origin access
control. Every answer carries a strict Content-Security-Policy (infra/site_policy.py:
Stripe's origins, the page's own and the WebSocket API's, nothing else) and CORS for
the module and its catalogs, which integrators import from their own origin. The
patient routes of the HTTP API (`/calls/*`, `/payment-requests/*`) are served through
the same distribution, so the pay page calls its own origin: the API's CORS needs no
entry for a CloudFront domain that would make the stack reference itself in a cycle
(docs/decisions.md). `config.json` is written at deploy time.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import CfnElement, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IConstruct

from infra import site_policy
from infra.config import CallpayConfig
from infra.nag import acknowledge
from infra.paths import REPO_ROOT

FRONTEND_DIR = REPO_ROOT / "frontend"
# What browsers need of frontend/: the module, the page, the compiled catalogs. The .po
# sources stay in the repository.
NOT_SHIPPED = ["locales", "locales/*", "**/*.po", "**/*.pot", "**/*.md"]
PAY_PAGE_PATH = "/pay/"
# The HTTP API routes a patient's browser calls; the clinicians' and Stripe's stay direct.
PATIENT_API_PATHS = ("/calls/*", "/payment-requests/*")

# S3 has no directory index behind an origin access control: /pay/ means /pay/index.html.
INDEX_FUNCTION = """
function handler(event) {
  var request = event.request;
  if (request.uri.endsWith('/')) { request.uri += 'index.html'; }
  return request;
}
"""


class StaticSite(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CallpayConfig,
        http_api: apigwv2.HttpApi,
        websocket_api: apigwv2.WebSocketApi,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=False,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Only shipped files, rebuilt by every deploy: nothing to keep.
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=False,
        )
        websocket_origin = (
            f"wss://{websocket_api.api_id}.execute-api.{stack.region}.{stack.url_suffix}"
        )
        self.content_security_policy = site_policy.content_security_policy(
            {"api": "'self'", "websocket": websocket_origin, **site_policy.STRIPE_SOURCES}
        )
        self.headers = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment=f"callpay {config.stage}: pay page and panels",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=self.content_security_policy, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365),
                    include_subdomains=True,
                    override=True,
                ),
            ),
            # The module and its catalogs are imported by integrators' pages (module
            # scripts are fetched with CORS); nothing here is private.
            cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
                access_control_allow_credentials=False,
                access_control_allow_headers=["*"],
                access_control_allow_methods=["GET", "HEAD"],
                access_control_allow_origins=["*"],
                origin_override=True,
            ),
        )
        index = cloudfront.Function(
            self,
            "Index",
            code=cloudfront.FunctionCode.from_inline(INDEX_FUNCTION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="callpay: /pay/ is /pay/index.html",
        )
        api_host = Fn.select(2, Fn.split("/", http_api.api_endpoint))
        api_behavior = cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(
                api_host, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY
            ),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            # Everything the API reads (Authorization, query, body) but the Host header,
            # which must stay the API's own.
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=self.headers,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"callpay {config.stage}: pay page and panels",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=index, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            additional_behaviors=dict.fromkeys(PATIENT_API_PATHS, api_behavior),
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        )
        self.url = f"https://{self.distribution.distribution_domain_name}"
        self.pay_page_url = f"{self.url}{PAY_PAGE_PATH}"
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Files",
            sources=[
                s3deploy.Source.asset(str(FRONTEND_DIR), exclude=NOT_SHIPPED),
                s3deploy.Source.json_data(
                    "config.json",
                    {
                        "apiBase": self.url,
                        "wsUrl": f"{websocket_origin}/{config.stage}",
                        "stripeJsUrl": "https://js.stripe.com/v3/",
                    },
                ),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            memory_limit=256,
        )
        self._acknowledge(config)

    def _acknowledge(self, config: CallpayConfig) -> None:
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "Holds only the shipped pay page and module, public through CloudFront; the "
            "API's access logs record every request that acts on a payment.",
        )
        for rule, reason in (
            ("AwsSolutions-CFR1", "Patients pay from wherever they are: no geo restriction."),
            ("AwsSolutions-CFR2", "Static files and the API's patient routes, which API "
             "Gateway throttles; a WAF can be attached per deployment."),
            ("AwsSolutions-CFR3", "Access logs of a static site would record page loads "
             "only; the API's access logs record every request that acts on a payment."),
            ("AwsSolutions-CFR4", "The default *.cloudfront.net certificate cannot be "
             "limited below TLS 1.2 by the distribution; with a custom domain "
             "minimum_protocol_version (TLS 1.2, 2021) applies."),
        ):  # fmt: skip
            acknowledge(self.distribution, rule, reason)
        # CDK's BucketDeployment: a Lambda-backed custom resource with its own role.
        bucket_arn = Stack.of(self).resolve(
            Stack.of(self).get_logical_id(cast(CfnElement, self.bucket.node.default_child))
        )
        copies = (
            "CDK's BucketDeployment reads its asset from the CDK assets bucket, writes and "
            "prunes the objects of this one bucket (wildcards within them) and creates "
            "CloudFront invalidations, which IAM cannot scope to one distribution."
        )
        findings = {
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]": "CDK's BucketDeployment handler writes its "
            "logs with the basic execution role.",
            "AwsSolutions-L1": "The runtime of CDK's own BucketDeployment handler, chosen "
            "by aws-cdk-lib.",
            **dict.fromkeys(
                [
                    f"AwsSolutions-IAM5[Action::{action}]"
                    for action in (
                        "s3:GetObject*",
                        "s3:GetBucket*",
                        "s3:List*",
                        "s3:DeleteObject*",
                        "s3:Abort*",
                    )
                ]
                + [
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-"
                    "assets-<AWS::AccountId>-<AWS::Region>/*]",
                    f"AwsSolutions-IAM5[Resource::<{bucket_arn}.Arn>/*]",
                    "AwsSolutions-IAM5[Resource::*]",
                ],
                copies,
            ),
        }
        for handler in self._deployment_handlers():
            for rule, reason in findings.items():
                acknowledge(handler, rule, reason)
        del config

    def _deployment_handlers(self) -> list[IConstruct]:
        """BucketDeployment's handler: one function per stack, created beside the stack's
        other resources rather than under this construct."""
        return [
            child
            for child in Stack.of(self).node.children
            if child.node.id.startswith("Custom::CDKBucketDeployment")
        ]
