"""A handler in functions/ deployed as a Lambda: its own role, log group and settings."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME
from infra.config import CallpayConfig
from infra.nag import acknowledge

METRICS_NAMESPACE = "callpay"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class HandlerFunction(Construct):
    """One Lambda function whose role starts empty: each use it has is granted by name.

    The role is our own, not the AWSLambdaBasicExecutionRole managed policy, so the
    function may write to its own log group and nowhere else.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CallpayConfig,
        code: lambda_.Code,
        handler: str,
        service: str,
        description: str,
        environment: Mapping[str, str],
        timeout: Duration,
        memory_size: int = 512,
    ) -> None:
        super().__init__(scope, construct_id)
        self.service = service
        self.log_group = logs.LogGroup(
            self, "Logs", retention=LOG_RETENTION, removal_policy=config.removal_policy
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"callpay {config.stage}: {service} function",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            code=code,
            handler=handler,
            role=self.role,
            log_group=self.log_group,
            memory_size=memory_size,
            timeout=timeout,
            # The handlers use Powertools Logger and Metrics but not Tracer (whose X-Ray
            # SDK is not a runtime dependency), so active tracing would record nothing.
            tracing=lambda_.Tracing.DISABLED,
            environment={
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": config.log_level,
                # Events carry bearer tokens and patient e-mails: never log them whole.
                "POWERTOOLS_LOGGER_LOG_EVENT": "false",
                **environment,
            },
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Python 3.13 on purpose: the runtime the project and its bundled wheels are "
            "tested with (the asset test imports every handler under 3.13). Moving to a "
            "newer runtime is a deliberate change of LAMBDA_RUNTIME and the wheel tags.",
        )

    def acknowledge_permission(self, rule: str, reason: str) -> None:
        """Accept a cdk-nag finding on this function's role, saying why."""
        acknowledge(self.role, rule, reason)
