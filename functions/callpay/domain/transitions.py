"""The payment request state machine: one status, only ever moved forward.

Stripe may deliver events late, twice or out of order, and our own API writes
through the same function, so every change goes through `transition`. It returns
None when a change would move the payment backwards or changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callpay.domain.payment_request import AuditEntry, Cause, Failure, PaymentRequest, Status

S = Status

# The attempt phase: a patient can fail, retry, be asked for 3-D Secure, retry again.
# Moves inside it are ordered by the Stripe event time, not by rank.
IN_FLIGHT = frozenset({S.PROCESSING, S.REQUIRES_ACTION, S.FAILED})

FORWARD: dict[Status, frozenset[Status]] = {
    S.REQUESTED: frozenset(IN_FLIGHT | {S.AUTHORIZED, S.SUCCEEDED, S.CANCELED}),
    **{s: frozenset(IN_FLIGHT | {S.AUTHORIZED, S.SUCCEEDED, S.CANCELED}) for s in IN_FLIGHT},
    S.AUTHORIZED: frozenset({S.SUCCEEDED, S.CANCELED}),
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.REFUNDED: frozenset({S.DISPUTED}),
    S.DISPUTED: frozenset(),
    S.CANCELED: frozenset(),
}

# Precedence: a status never gives way to one of lower rank.
RANK: dict[Status, int] = {
    S.REQUESTED: 0,
    S.PROCESSING: 1,
    S.REQUIRES_ACTION: 1,
    S.FAILED: 1,
    S.AUTHORIZED: 2,
    S.SUCCEEDED: 3,
    S.CANCELED: 3,
    S.PARTIALLY_REFUNDED: 4,
    S.REFUNDED: 5,
    S.DISPUTED: 6,
}

PAYABLE = frozenset({S.REQUESTED, S.FAILED, S.REQUIRES_ACTION})
CANCELABLE = frozenset({S.REQUESTED, S.FAILED, S.REQUIRES_ACTION, S.AUTHORIZED})
REFUNDABLE = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})
# What can only follow a payment, and every status of a paid request.
AFTER_PAYMENT = frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED})
PAID = AFTER_PAYMENT | {S.SUCCEEDED}


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A proposed change: the new status plus what Stripe (or our API) reported with it."""

    status: Status
    cause: Cause
    event_created: int | None = None  # Stripe's event time, None for our own API calls
    amount_captured: int | None = None
    amount_capturable: int | None = None
    amount_refunded: int | None = None
    failure: Failure | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    before: PaymentRequest
    after: PaymentRequest
    audit: AuditEntry


def is_forward(current: PaymentRequest, change: StatusChange) -> bool:
    """Whether `change` may be applied on top of `current` without moving it backwards."""
    target = change.status
    if target not in FORWARD[current.status]:
        return False
    if current.status in IN_FLIGHT and target in IN_FLIGHT:
        # Same phase: only a newer event may replace the last one (Stripe's clock has
        # one-second steps, so a different status of the same second is accepted too).
        if change.event_created is None:
            return target is not current.status
        if target is current.status:
            return change.event_created > current.last_event_at
        return change.event_created >= current.last_event_at
    if target is S.PARTIALLY_REFUNDED and current.status is S.PARTIALLY_REFUNDED:
        return (change.amount_refunded or 0) > current.amount_refunded
    return RANK[target] >= RANK[current.status]


def transition(current: PaymentRequest, change: StatusChange, now: datetime) -> Transition | None:
    """Apply `change` if it moves the payment forward; None if it is stale or a duplicate."""
    if not is_forward(current, change):
        return None
    target = change.status
    updates: dict[str, object] = {
        "status": target,
        "updated_at": now,
        "version": current.version + 1,
        "last_event_at": max(current.last_event_at, change.event_created or 0),
        "failure": change.failure if target is S.FAILED else None,
    }
    if change.amount_captured is not None:
        updates["amount_captured"] = change.amount_captured
    if change.amount_capturable is not None:
        updates["amount_capturable"] = change.amount_capturable
    if change.amount_refunded is not None:
        updates["amount_refunded"] = change.amount_refunded
    if target is S.SUCCEEDED:
        updates["paid_at"] = now
        updates["amount_capturable"] = 0
    after = current.model_copy(update=updates)
    audit = AuditEntry(
        payment_request_id=current.id,
        version=after.version,
        at=now,
        action=f"status.{target.value}",
        from_status=current.status,
        to_status=target,
        cause=change.cause,
    )
    return Transition(before=current, after=after, audit=audit)


def created(request: PaymentRequest, cause: Cause) -> AuditEntry:
    """The first line of a payment request's audit trail."""
    return AuditEntry(
        payment_request_id=request.id,
        version=request.version,
        at=request.created_at,
        action="created",
        from_status=None,
        to_status=request.status,
        cause=cause,
    )
