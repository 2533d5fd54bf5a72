"""Connect webhooks: keep each clinic's view of its Stripe account current, exactly once.

`account.updated` carries the account's state (charges_enabled, details_submitted,
requirements); `account.application.deauthorized` means the clinic disconnected us.
Both arrive on the Connect endpoint with an `account` field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callpay.domain.clinic import Clinic, ClinicAction, ClinicChange, change_clinic
from callpay.domain.stripe_objects import Account, StripeEvent
from callpay.domain.stripe_outcomes import ACCOUNT_EVENTS, EVENT_RETENTION
from callpay.logic.clinics import unlinked
from callpay.logic.optimistic import optimistic_update
from callpay.logic.stripe_events import Applied, Outcome
from callpay.ports import ClinicStore, DuplicateEvent, PaymentStore

DEAUTHORIZED: ClinicAction = "stripe_account.deauthorized"


def account_state(account: Account) -> dict[str, Any]:
    return {
        "charges_enabled": account.charges_enabled,
        "details_submitted": account.details_submitted,
        "requirements_due": tuple(
            account.requirements.currently_due if account.requirements else ()
        ),
    }


@dataclass
class ConnectEvents:
    clinics: ClinicStore
    events: PaymentStore  # where processed event ids are recorded
    clock: Callable[[], datetime]

    def apply(self, event: StripeEvent) -> Applied:
        """Raises pydantic's ValidationError when an `account.updated` does not carry an
        account we can read (the webhook answers 400)."""
        if event.type not in ACCOUNT_EVENTS:
            return Applied(Outcome.IGNORED)
        account = Account.model_validate(event.object) if event.type == "account.updated" else None
        account_id = event.account or (account.id if account else None)
        clinic = self.clinics.clinic_by_account(account_id) if account_id else None
        if clinic is None:
            return Applied(Outcome.IGNORED)

        def reload() -> Clinic:
            latest = self.clinics.get_clinic(clinic.clinic_id)
            assert latest is not None  # clinics are never deleted
            return latest

        def decide(current: Clinic) -> ClinicChange | None:
            # Only the account linked to the clinic speaks for it: a stray account (one
            # created and then replaced, or removed) never changes the clinic.
            if current.stripe_account_id != account_id or event.created < current.account_event_at:
                return None
            after, action = changed(current, event, account)
            return change_clinic(
                current, after, action=action, actor="stripe", subject=event.id, at=self.clock()
            )

        def save(step: ClinicChange) -> None:
            self.clinics.save_clinic(
                step,
                account_removed=account_id if step.audit.action == DEAUTHORIZED else None,
                event=(event.id, self.clock() + EVENT_RETENTION),
            )

        try:
            updated = optimistic_update(load=reload, decide=decide, save=save, first=clinic)
            if updated.change is None:
                if updated.state.stripe_account_id != account_id:
                    return Applied(Outcome.IGNORED)
                self.events.record_event(event.id)
                return Applied(Outcome.STALE)
        except DuplicateEvent:
            return Applied(Outcome.DUPLICATE)
        return Applied(Outcome.APPLIED)


def changed(
    clinic: Clinic, event: StripeEvent, account: Account | None
) -> tuple[Clinic, ClinicAction]:
    """The clinic after an account event: the account's state, or unlinked."""
    update: dict[str, Any] = {"account_event_at": event.created}
    if account is None:
        return unlinked(clinic).model_copy(update=update), DEAUTHORIZED
    return clinic.model_copy(update=update | account_state(account)), "stripe_account.updated"
