"""Clinic setup: settings, the clinic's Stripe account (link, status, remove), and reports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from zoneinfo import available_timezones

from callpay.api_models import CLEARABLE, ClinicSettingsIn
from callpay.domain.access import Clinician, Principal, acts_for_clinic, require_admin
from callpay.domain.clinic import Clinic, ClinicAction, ClinicChange, change_clinic
from callpay.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from callpay.domain.money import SUPPORTED, Money, check_chargeable
from callpay.domain.payment_request import PaymentRequest, Status
from callpay.domain.period import Moment, report_period
from callpay.domain.policy import next_policy_version
from callpay.logic.optimistic import optimistic_update
from callpay.ports import ClinicStore, ConnectOnboarding


@cache
def time_zones() -> frozenset[str]:
    # A set of names, not ZoneInfo(name): that opens whatever path it is given
    # ("Australia" is a directory of the database).
    return frozenset(available_timezones())


def check_settings(clinic: Clinic) -> None:
    if clinic.default_currency not in SUPPORTED:
        raise InvalidInput("unsupported_currency", "The default currency is not supported.")
    if (
        clinic.minimum_amount
        and clinic.maximum_amount
        and clinic.minimum_amount > clinic.maximum_amount
    ):
        raise InvalidInput("invalid_limits", "The minimum amount is above the maximum.")
    if clinic.time_zone not in time_zones():
        raise InvalidInput("unknown_time_zone", "time_zone must be an IANA name.")
    if (clinic.no_show_fee is None) != (not clinic.no_show_policy):
        raise InvalidInput(
            "no_show_policy_incomplete",
            "A no-show policy needs both its fee and its words (no_show_fee, no_show_policy).",
        )
    if clinic.no_show_fee is not None:
        check_chargeable(Money(clinic.no_show_fee, clinic.default_currency))


@dataclass
class ClinicAdmin:
    clinics: ClinicStore
    connect: ConnectOnboarding
    clock: Callable[[], datetime]

    def _admin_of(self, principal: Principal, clinic_id: str) -> tuple[Clinician, Clinic | None]:
        """The admin and the clinic, if they act for it. A clinic not set up yet can only
        be set up by an org admin whose token names it (the identity provider vouches it
        belongs to their organisation)."""
        admin = require_admin(principal)
        clinic = self.clinics.get_clinic(clinic_id)
        if clinic is None:
            if admin.role == "org_admin" and clinic_id in admin.clinic_ids:
                return admin, None
            if clinic_id in admin.clinic_ids:
                raise NotFound(
                    "clinic_not_set_up", "An organisation admin must enable payments first."
                )
            raise Forbidden("not_your_clinic", "You are not an admin of this clinic.")
        if not acts_for_clinic(admin, clinic_id, clinic.org_id):
            raise Forbidden("not_your_clinic", "You are not an admin of this clinic.")
        return admin, clinic

    def _existing(self, principal: Principal, clinic_id: str) -> tuple[Clinician, Clinic]:
        admin, clinic = self._admin_of(principal, clinic_id)
        if clinic is None:
            raise NotFound("clinic_not_set_up", "Payments have not been set up for this clinic.")
        return admin, clinic

    def settings(self, principal: Principal, clinic_id: str) -> Clinic:
        return self._existing(principal, clinic_id)[1]

    def update_settings(
        self, principal: Principal, clinic_id: str, body: ClinicSettingsIn
    ) -> Clinic:
        admin, _ = self._admin_of(principal, clinic_id)
        given = body.model_dump(include=body.model_fields_set)
        if "enabled" in given and admin.role != "org_admin":
            raise Forbidden("org_admin_only", "Only an organisation admin enables payments.")
        # Empty strings clear a receipt detail, like null.
        updates = {k: (None if v == "" and k in CLEARABLE else v) for k, v in given.items()}
        for name, normalise in (("default_currency", str.lower), ("country", str.upper)):
            value = updates.get(name)
            if isinstance(value, str):
                updates[name] = normalise(value)
        return self._change(
            admin, clinic_id, "settings", lambda clinic: clinic.model_copy(update=updates)
        )

    def link_account(self, principal: Principal, clinic_id: str) -> str:
        """The URL of Stripe's onboarding for the clinic's account, creating the account first."""
        admin, clinic = self._existing(principal, clinic_id)
        if not clinic.enabled:
            raise Conflict("payments_not_enabled", "Payments are not enabled for this clinic.")
        account_id = clinic.stripe_account_id
        if account_id is None:
            # One account per link, however many admins press "Go to Stripe" at once: the
            # first claims the Stripe idempotency key in the table (keyed on the clinic's
            # version, so a re-link after removal makes a new account), and every
            # concurrent call creates with that same key, so Stripe makes one account.
            key = self.clinics.claim_account_link(
                clinic_id, f"clinic:{clinic_id}:account:{clinic.version}", self.clock()
            )
            created = self.connect.create_account(clinic_id, clinic.country, key)
            linked = self._change(
                admin, clinic_id, "stripe_account.linked",
                lambda c: None if c.stripe_account_id else c.model_copy(
                    update={"stripe_account_id": created, "charges_enabled": False,
                            "details_submitted": False, "requirements_due": ()}),
                account_linked=created,
            )  # fmt: skip
            # Linked by a concurrent call meanwhile: that account is the clinic's.
            account_id = linked.stripe_account_id or created
        return self.connect.onboarding_link(account_id, clinic_id)

    def account(self, principal: Principal, clinic_id: str) -> Clinic:
        return self._existing(principal, clinic_id)[1]

    def unlink_account(self, principal: Principal, clinic_id: str) -> Clinic:
        """Forget the clinic's account: history stays, unpaid requests can no longer be paid."""
        admin, clinic = self._existing(principal, clinic_id)
        if clinic.stripe_account_id is None:
            raise Conflict("stripe_account_not_linked", "The clinic has no linked Stripe account.")
        return self._change(
            admin, clinic_id, "stripe_account.removed", unlinked,
            account_removed=clinic.stripe_account_id,
        )  # fmt: skip

    def payments(
        self, principal: Principal, clinic_id: str, start: Moment | None, end: Moment | None,
        status: Status | None,
    ) -> Iterator[PaymentRequest]:  # fmt: skip
        """The clinic's payment requests made in the period (dates in its time zone)."""
        _, clinic = self._existing(principal, clinic_id)
        first, last = report_period(start, end, clinic.time_zone, self.clock())
        for request in self.clinics.payments(clinic_id, first, last):
            if status is None or request.status is status:
                yield request

    def _change(
        self,
        admin: Clinician,
        clinic_id: str,
        action: ClinicAction,
        change: Callable[[Clinic], Clinic | None],
        *,
        account_linked: str | None = None,
        account_removed: str | None = None,
    ) -> Clinic:
        def load() -> Clinic:
            return self.clinics.get_clinic(clinic_id) or Clinic(
                clinic_id=clinic_id, org_id=admin.org_id
            )

        def decide(before: Clinic) -> ClinicChange | None:
            changed = change(before)
            if changed is None:
                return None  # nothing to do on the latest version
            after = Clinic.model_validate(changed.model_dump())  # re-validate it whole
            check_settings(after)
            after = next_policy_version(before, after)
            return change_clinic(
                before, after, action=action, actor="admin", subject=admin.sub, at=self.clock()
            )

        def save(step: ClinicChange) -> None:
            self.clinics.save_clinic(
                step, account_linked=account_linked, account_removed=account_removed
            )

        updated = optimistic_update(load=load, decide=decide, save=save)
        return updated.change.after if updated.change else updated.state


def unlinked(clinic: Clinic) -> Clinic:
    return clinic.model_copy(
        update={
            "stripe_account_id": None,
            "charges_enabled": False,
            "details_submitted": False,
            "requirements_due": (),
        }
    )
