"""The hold sweeper, on a schedule (EventBridge Scheduler; the local stack's loop): warns
clinics about holds about to lapse and records lapsed ones (callpay.logic.hold_sweeper).

The scheduled event carries nothing the sweep needs: it reads the clock and the table.
A run that fails is retried by the scheduler's retry policy; every step is idempotent.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from hold_sweeper import composition

logger = Logger(service="hold_sweeper")
metrics = Metrics(namespace="callpay", service="hold_sweeper")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sweep = composition.hold_sweeper().sweep()
    counts = {
        "warned": len(sweep.warned),
        "expired": len(sweep.expired),
        "captured": len(sweep.captured),
        "postponed": len(sweep.postponed),
        "unreachable": len(sweep.unreachable),
    }
    for name, count in counts.items():
        metrics.add_metric(name=f"Holds_{name}", unit=MetricUnit.Count, value=count)
    logger.info("holds swept", extra=counts)
    return counts
