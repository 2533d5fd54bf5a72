"""A dispute's lifecycle, merged from Stripe's events in any order, never backwards.

Stripe sends `charge.dispute.created`, `.updated`, `.closed` (won, lost...),
`.funds_withdrawn` and `.funds_reinstated`, each with the dispute as it was then. They
may arrive late, twice or out of order, so an event's dispute replaces ours only if it is
newer: a later event `created`, or the same second and a later stage of the lifecycle.
The funds events are facts of their own, kept by the time they happened.

While a dispute is open, or was lost, the payment request's status is `disputed`; a
dispute won (or an inquiry closed) gives the status back to what the money says.
Refunds keep counting whatever the dispute does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from callpay.domain import stripe_objects
from callpay.domain.payment_request import Dispute

# Later stages of Stripe's dispute lifecycle rank higher; closed is final.
STAGE = {
    "warning_needs_response": 1,
    "warning_under_review": 2,
    "needs_response": 3,
    "under_review": 4,
    "warning_closed": 5,
    "won": 5,
    "lost": 5,
    "prevented": 5,
    "charge_refunded": 5,  # legacy: the dispute ended in a refund
}
# Closed without the money leaving for good: the payment stands.
SETTLED_FOR_THE_CLINIC = frozenset({"won", "warning_closed", "prevented", "charge_refunded"})

FundsMove = Literal["withdrawn", "reinstated"] | None


@dataclass(frozen=True, slots=True)
class DisputeUpdate:
    """What one dispute event says, and when Stripe created the event."""

    dispute: stripe_objects.Dispute
    event_created: int
    funds: FundsMove = None


def is_open_or_lost(dispute: Dispute | None) -> bool:
    return dispute is not None and dispute.status not in SETTLED_FOR_THE_CLINIC


def merged(current: Dispute | None, update: DisputeUpdate) -> Dispute:
    """Our dispute after `update`; equal to `current` when the update is stale."""
    seen = update.dispute
    newer = current is None or (update.event_created, STAGE.get(seen.status, 0)) > (
        current.status_event_at,
        STAGE.get(current.status, 0),
    )
    if current is not None and current.id != seen.id and not newer:
        return current  # an older event of an earlier dispute
    base = current if current is not None and current.id == seen.id else None
    result = base or Dispute(
        id=seen.id, status=seen.status, reason=seen.reason, amount=seen.amount,
        is_charge_refundable=seen.is_charge_refundable, status_event_at=update.event_created,
    )  # fmt: skip
    if base is not None and newer:
        result = result.model_copy(
            update={
                "status": seen.status,
                "reason": seen.reason,
                "amount": seen.amount,
                "is_charge_refundable": seen.is_charge_refundable,
                "status_event_at": update.event_created,
            }
        )
    if update.funds == "withdrawn" and result.funds_withdrawn_at is None:
        result = result.model_copy(update={"funds_withdrawn_at": update.event_created})
    if update.funds == "reinstated" and result.funds_reinstated_at is None:
        result = result.model_copy(update={"funds_reinstated_at": update.event_created})
    return result
