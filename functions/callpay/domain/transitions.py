"""The payment request state machine: one status, only ever moved forward.

Stripe may deliver events late, twice or out of order, and our own API writes
through the same function, so every change goes through `transition`. It returns
None when a change would move the payment backwards or changes nothing.

Up to the payment, a change names the status it moves to (`requested` ... `succeeded`,
`canceled`), ordered by precedence. After the payment the status follows from facts that
only accumulate: refunds (by their own objects, or the charge's figure; domain/refunds.py)
and a dispute (domain/disputes.py). A late or duplicated fact changes nothing, so the
money figures never move backwards either.

A hold can be asked for again (re-authorisation): the one move back to `requested`, named
by our own API only, from `authorized` or from a hold that lapsed. It starts the next
attempt on a new PaymentIntent; a change about the previous one (an event, the sweeper)
names its PaymentIntent and is stale once the request has moved on, so within an attempt
the precedence above is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callpay.domain.disputes import DisputeUpdate, is_open_or_lost, merged
from callpay.domain.payment_request import (
    AuditEntry,
    CancellationReason,
    Cause,
    ChargeDetails,
    ChargeReason,
    Failure,
    PayLink,
    PaymentRequest,
    Refund,
    Status,
)
from callpay.domain.refunds import refunded_total

S = Status

# The attempt phase: a patient can fail, retry, be asked for 3-D Secure, retry again.
# Moves inside it are ordered by the Stripe event time, not by rank.
IN_FLIGHT = frozenset({S.PROCESSING, S.REQUIRES_ACTION, S.FAILED})

# The moves a change may name. What follows a payment (refunds, disputes) is not named but
# derived from facts, see `after_payment`.
FORWARD: dict[Status, frozenset[Status]] = {
    S.REQUESTED: frozenset(IN_FLIGHT | {S.AUTHORIZED, S.SUCCEEDED, S.CANCELED}),
    **{s: frozenset(IN_FLIGHT | {S.AUTHORIZED, S.SUCCEEDED, S.CANCELED}) for s in IN_FLIGHT},
    S.AUTHORIZED: frozenset({S.SUCCEEDED, S.CANCELED}),
    S.SUCCEEDED: frozenset(),
    S.PARTIALLY_REFUNDED: frozenset(),
    S.REFUNDED: frozenset(),
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
# A fresh hold may be asked for while one is held, or after it lapsed.
REAUTHORIZABLE = frozenset({S.AUTHORIZED, S.CANCELED})
CANCELABLE = frozenset({S.REQUESTED, S.FAILED, S.REQUIRES_ACTION, S.AUTHORIZED})
REFUNDABLE = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})
# What can only follow a payment, and every status of a paid request.
AFTER_PAYMENT = frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED})
PAID = AFTER_PAYMENT | {S.SUCCEEDED}


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A proposed change: a move of the lifecycle (`status`) and/or facts Stripe (or our
    API) reported with it."""

    status: Status | None  # None: facts only (refunds, a dispute, charge details)
    cause: Cause
    event_created: int | None = None  # Stripe's event time, None for our own API calls
    amount_captured: int | None = None
    amount_capturable: int | None = None
    failure: Failure | None = None
    refund: Refund | None = None  # one refund, by its own object
    reported_refunded: int | None = None  # money returned, by the charge's own figure
    dispute: DisputeUpdate | None = None
    charge: ChargeDetails | None = None
    # The PaymentIntent the change is about (events, the hold sweeper): stale once the
    # request has moved on to another one (a re-authorisation). None: our own API calls.
    intent_id: str | None = None
    cancellation_reason: CancellationReason | None = None  # with `canceled`
    charge_reason: ChargeReason | None = None  # with `succeeded`: a no-show fee
    capture_before: datetime | None = None  # Stripe's deadline for a hold
    saved_payment_method: str | None = None  # the card Stripe kept, if consented
    expiry_warned: bool = False  # the clinic was warned the hold is about to lapse
    pay_link: PayLink | None = None  # a pay-later link was sent
    # A re-authorisation: the next hold's PaymentIntent (with status `requested`).
    reauthorized_with: str | None = None

    def __post_init__(self) -> None:
        if self.status in AFTER_PAYMENT:
            raise ValueError(f"{self.status} follows from refunds and disputes, not a change")
        if self.reauthorized_with is not None and self.status is not S.REQUESTED:
            raise ValueError("a re-authorisation moves the request to requested")


@dataclass(frozen=True, slots=True)
class Transition:
    before: PaymentRequest
    after: PaymentRequest
    audit: AuditEntry


def is_forward(current: PaymentRequest, change: StatusChange) -> bool:
    """Whether the status `change` names may follow `current` without moving it backwards."""
    if change.intent_id is not None and change.intent_id != current.payment_intent_id:
        return False  # about a PaymentIntent this request has moved on from
    target = change.status
    if change.reauthorized_with is not None:
        return can_reauthorize(current)
    if target is None:
        return True
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
    return RANK[target] >= RANK[current.status]


def can_reauthorize(request: PaymentRequest) -> bool:
    """A hold held or lapsed (never one released or canceled on purpose) may be renewed."""
    if request.capture_method != "manual" or request.status not in REAUTHORIZABLE:
        return False
    return request.status is S.AUTHORIZED or request.cancellation_reason == "expired"


def after_payment(request: PaymentRequest) -> Status:
    """A paid request's status, from its facts."""
    if is_open_or_lost(request.dispute):
        return S.DISPUTED
    if request.dispute is None and request.status is S.DISPUTED:
        return S.DISPUTED  # recorded before disputes were kept: nothing says it ended
    if request.amount_captured and request.amount_refunded >= request.amount_captured:
        return S.REFUNDED
    return S.PARTIALLY_REFUNDED if request.amount_refunded else S.SUCCEEDED


def _with_facts(request: PaymentRequest, change: StatusChange) -> PaymentRequest:
    """`request` with the change's facts merged in; equal to it when they add nothing."""
    updates: dict[str, object] = {}
    refunds = request.refunds
    if change.refund is not None and all(r.id != change.refund.id for r in refunds):
        refunds = updates["refunds"] = (*refunds, change.refund)
    total = refunded_total(
        refunds, change.reported_refunded or 0, request.amount_captured, request.amount_refunded
    )
    if total != request.amount_refunded:
        updates["amount_refunded"] = total
    if change.dispute is not None:
        dispute = merged(request.dispute, change.dispute)
        if dispute != request.dispute:
            updates["dispute"] = dispute
    known_card = request.charge is not None and request.charge.complete
    if change.charge is not None and not known_card and change.charge != request.charge:
        updates["charge"] = change.charge
    if change.capture_before is not None and change.capture_before != request.capture_before:
        updates["capture_before"] = change.capture_before
    if (
        change.saved_payment_method is not None
        and request.card_consent is not None  # Stripe kept it; we only use it if consented
        and request.saved_payment_method is None
    ):
        updates["saved_payment_method"] = change.saved_payment_method
    if change.pay_link is not None and change.pay_link != request.pay_link:
        updates["pay_link"] = change.pay_link
    return request.model_copy(update=updates) if updates else request


def _reauthorized(current: PaymentRequest, intent_id: str) -> dict[str, object]:
    """The next hold on a new PaymentIntent: what the last one knew is forgotten (its
    deadline, card and warning); the history stays in the audit trail."""
    return {
        "status": S.REQUESTED,
        "payment_intent_id": intent_id,
        "hold_attempt": current.hold_attempt + 1,
        "amount_capturable": 0,
        "capture_before": None,
        "authorized_at": None,
        "expiry_warned_at": None,
        "cancellation_reason": None,
        "failure": None,
        "charge": None,
        "no_show_policy": None,
    }


def transition(current: PaymentRequest, change: StatusChange, now: datetime) -> Transition | None:
    """Apply `change` if it moves the payment forward; None if it is stale or a duplicate."""
    if not is_forward(current, change):
        return None
    moved = current
    if change.reauthorized_with is not None:
        moved = current.model_copy(update=_reauthorized(current, change.reauthorized_with))
    elif change.status is not None:
        target = change.status
        updates: dict[str, object] = {
            "status": target,
            "last_event_at": max(current.last_event_at, change.event_created or 0),
            "failure": change.failure if target is S.FAILED else None,
        }
        if change.amount_captured is not None:
            updates["amount_captured"] = change.amount_captured
        if change.amount_capturable is not None:
            updates["amount_capturable"] = change.amount_capturable
        if target is S.AUTHORIZED and current.status is not S.AUTHORIZED:
            updates["authorized_at"] = now
        if target is S.SUCCEEDED:
            updates["paid_at"] = now
            updates["amount_capturable"] = 0
            updates["charge_reason"] = change.charge_reason or current.charge_reason
        if target is S.CANCELED:
            updates["cancellation_reason"] = change.cancellation_reason or "canceled"
        moved = current.model_copy(update=updates)
    moved = _with_facts(moved, change)
    if change.expiry_warned and moved.status is S.AUTHORIZED and moved.expiry_warned_at is None:
        moved = moved.model_copy(update={"expiry_warned_at": now})
    if moved.status in PAID:
        moved = moved.model_copy(update={"status": after_payment(moved)})
    if moved == current:
        return None
    after = moved.model_copy(update={"updated_at": now, "version": current.version + 1})
    audit = AuditEntry(
        payment_request_id=current.id,
        version=after.version,
        at=now,
        action=_action(current, after, change),
        from_status=current.status,
        to_status=after.status,
        cause=change.cause,
    )
    return Transition(before=current, after=after, audit=audit)


def _action(before: PaymentRequest, after: PaymentRequest, change: StatusChange) -> str:
    """What the audit trail calls a change."""
    if change.reauthorized_with is not None:
        return "hold.reauthorization_requested"
    if after.status is not before.status and after.cancellation_reason == "expired":
        return "hold.expired"
    if change.status is not None or after.status is not before.status:
        return f"status.{after.status.value}"
    if after.expiry_warned_at != before.expiry_warned_at:
        return "hold.expiring"
    if after.pay_link != before.pay_link:
        return "pay_link.sent"
    if after.saved_payment_method != before.saved_payment_method:
        return "card.saved"
    if after.capture_before != before.capture_before:
        return "hold.capture_before"
    if after.dispute != before.dispute and after.dispute is not None:
        return f"dispute.{after.dispute.status}"
    if after.amount_refunded != before.amount_refunded or after.refunds != before.refunds:
        return "refund"
    return "charge_details"


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
