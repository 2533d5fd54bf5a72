"""The hold sweeper's schedule: EventBridge Scheduler invokes the hold_sweeper function
every few minutes (functions/hold_sweeper, callpay.logic.hold_sweeper).

A run that fails is retried a few times within its own interval (the next run would do the
same work anyway); one that still fails goes to a dead-letter queue, which the monitoring
watches. Every run is idempotent, so a retry or an overlap changes nothing twice.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import CfnElement, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import CallpayConfig
from infra.nag import acknowledge

# Holds last days; a warning a day ahead needs no finer step than this.
SWEEP_EVERY = Duration.minutes(15)
RETRY_ATTEMPTS = 2
# Older than the next run: a late retry would only repeat the next run's work.
MAX_EVENT_AGE = Duration.minutes(14)


class HoldSweeps(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CallpayConfig,
        function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the hold sweeper's schedule.",
        )
        # The scheduler's own role: it may invoke this one function and nothing else.
        self.role = iam.Role(
            self,
            "InvokeRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description=f"callpay {config.stage}: EventBridge Scheduler runs the hold sweeper",
        )
        stack = Stack.of(self)
        function_id = stack.resolve(
            stack.get_logical_id(cast(CfnElement, function.node.default_child))
        )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::<{function_id}.Arn>:*]",
            "CDK's grant to invoke the hold sweeper names the function and its versions "
            "(<function arn>:*); nothing else is invocable.",
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule=scheduler.ScheduleExpression.rate(SWEEP_EVERY),
            description=f"callpay {config.stage}: warn about holds near expiry, record lapsed ones",
            target=targets.LambdaInvoke(
                function,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
                dead_letter_queue=self.dead_letters,
                role=self.role,
            ),
        )
