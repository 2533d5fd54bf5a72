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

from callpay.domain.clinic import Clinic, ClinicAuditEntry, changes_between
from callpay.domain.stripe_outcomes import EVENT_RETENTION, StripeEvent
from callpay.logic.clinics import unlinked
from callpay.logic.stripe_events import Applied, Outcome
from callpay.ports import ClinicStore, DuplicateEvent, PaymentStore, VersionConflict

SAVE_ATTEMPTS = 5


def account_state(account: dict[str, Any]) -> dict[str, Any]:
    requirements = account.get("requirements") or {}
    return {
        "charges_enabled": bool(account.get("charges_enabled")),
        "details_submitted": bool(account.get("details_submitted")),
        "requirements_due": tuple(requirements.get("currently_due") or ()),
    }


@dataclass
class ConnectEvents:
    clinics: ClinicStore
    events: PaymentStore  # where processed event ids are recorded
    clock: Callable[[], datetime]

    def apply(self, event: StripeEvent) -> Applied:
        account_id = event.account or (
            event.object.get("id") if event.object.get("object") == "account" else None
        )
        if event.type not in {"account.updated", "account.application.deauthorized"}:
            return Applied(Outcome.IGNORED)
        clinic = self.clinics.clinic_by_account(account_id) if account_id else None
        if clinic is None:
            return Applied(Outcome.IGNORED)
        for _ in range(SAVE_ATTEMPTS):
            after, action = self._changed(clinic, event)
            try:
                if after is None:
                    self.events.record_event(event.id)
                    return Applied(Outcome.STALE)
                self.clinics.save_clinic(
                    after,
                    ClinicAuditEntry(
                        clinic_id=clinic.clinic_id, version=after.version, at=self.clock(),
                        action=action, actor="stripe", subject=event.id,
                        changes=changes_between(clinic, after),
                    ),
                    clinic.version,
                    account_removed=account_id if action == "stripe_account.deauthorized" else None,
                    event=(event.id, self.clock() + EVENT_RETENTION),
                )  # fmt: skip
            except DuplicateEvent:
                return Applied(Outcome.DUPLICATE)
            except VersionConflict:
                reloaded = self.clinics.get_clinic(clinic.clinic_id)
                if reloaded is None or reloaded.stripe_account_id != account_id:
                    return Applied(Outcome.IGNORED)
                clinic = reloaded
                continue
            return Applied(Outcome.APPLIED)
        raise VersionConflict(clinic.clinic_id)

    def _changed(self, clinic: Clinic, event: StripeEvent) -> tuple[Clinic | None, Any]:
        """The clinic after the event, or None when the event is older than what we know."""
        if event.created < clinic.account_event_at:
            return None, None
        update: dict[str, Any] = {"account_event_at": event.created, "version": clinic.version + 1}
        if event.type == "account.application.deauthorized":
            return unlinked(clinic).model_copy(update=update), "stripe_account.deauthorized"
        return clinic.model_copy(
            update=update | account_state(event.object)
        ), "stripe_account.updated"
