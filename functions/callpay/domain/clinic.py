"""A clinic as payments see it: whether it may take payments, into which Stripe account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from callpay.domain.errors import Conflict
from callpay.domain.receipt_details import ReceiptDetails


class Clinic(ReceiptDetails):
    """The clinic's settings; its receipt details are the fields of ReceiptDetails."""

    model_config = ConfigDict(frozen=True)

    clinic_id: str
    org_id: str
    enabled: bool = False
    stripe_account_id: str | None = None
    charges_enabled: bool = False
    # Stripe's view of the linked account, kept current by `account.updated` events.
    details_submitted: bool = False
    requirements_due: tuple[str, ...] = ()
    # Stripe's `created` of the newest account event applied: older ones are stale.
    account_event_at: int = 0
    # ISO 3166-1 alpha-2, for creating the Stripe account; Stripe asks when absent.
    country: str | None = None
    default_currency: str = "aud"
    minimum_amount: int | None = None
    maximum_amount: int | None = None
    # The clinician's description is clinical information: Stripe sees it only on opt-in.
    share_description_with_stripe: bool = False
    # The same, for the events sent to the video platform's endpoints: a separate choice.
    share_description_with_platform: bool = False
    time_zone: str = "UTC"
    default_locale: str | None = None
    # The no-show policy (domain/policy.py): the fee, in the clinic's currency, and the
    # words shown to patients before they authorise a hold or keep their card. Its
    # version moves whenever either changes, so a consent names the words it was given to.
    no_show_fee: int | None = None
    no_show_policy: str | None = None
    no_show_policy_version: int = 0
    version: int = 0  # 0: never stored

    def check_can_take_payments(self) -> str:
        """The connected account to charge, or a Conflict saying why there is none."""
        if not self.enabled:
            raise Conflict("payments_not_enabled", "Payments are not enabled for this clinic.")
        if not self.stripe_account_id:
            raise Conflict("stripe_account_not_linked", "The clinic has no linked Stripe account.")
        if not self.charges_enabled:
            raise Conflict(
                "stripe_account_not_ready", "The clinic's Stripe account cannot take charges yet."
            )
        return self.stripe_account_id


def org_of(clinic: Clinic | None) -> str | None:
    """The clinic's organisation, or None for a clinic not set up here."""
    return clinic.org_id if clinic else None


ClinicAction = Literal["settings", "stripe_account.linked", "stripe_account.updated",
                      "stripe_account.removed", "stripe_account.deauthorized"]  # fmt: skip


class ClinicAuditEntry(BaseModel):
    """Who changed a clinic's settings or Stripe account, when, and what changed."""

    model_config = ConfigDict(frozen=True)

    clinic_id: str
    version: int
    at: datetime
    action: ClinicAction
    actor: Literal["admin", "stripe"]
    subject: str
    changes: dict[str, tuple[Any, Any]]  # field -> (before, after)


def changes_between(before: Clinic, after: Clinic) -> dict[str, tuple[Any, Any]]:
    skip = {"version", "account_event_at"}
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return {k: (old[k], new[k]) for k in new if k not in skip and old[k] != new[k]}


@dataclass(frozen=True, slots=True)
class ClinicChange:
    """One change of a clinic: the version it was made on, the next one, its audit entry."""

    before: Clinic
    after: Clinic
    audit: ClinicAuditEntry


def change_clinic(
    before: Clinic, after: Clinic, *, action: ClinicAction, actor: Literal["admin", "stripe"],
    subject: str, at: datetime,
) -> ClinicChange:  # fmt: skip
    """`after` as the next version of `before`, with who did what."""
    after = after.model_copy(update={"version": before.version + 1})
    audit = ClinicAuditEntry(
        clinic_id=before.clinic_id, version=after.version, at=at, action=action, actor=actor,
        subject=subject, changes=changes_between(before, after),
    )  # fmt: skip
    return ClinicChange(before, after, audit)
