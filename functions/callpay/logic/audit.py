"""The audit trail, readable by admins: one payment request's, or a whole clinic's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from callpay.domain.access import Principal, acts_for_clinic, require_admin
from callpay.domain.clinic import Clinic
from callpay.domain.errors import Forbidden, NotFound
from callpay.domain.payment_request import AuditEntry, PaymentRequest
from callpay.domain.period import Moment, report_period
from callpay.ports import AuditLog, AuditPage, ClinicStore, PaymentStore


@dataclass
class AuditTrail:
    log: AuditLog
    payments: PaymentStore
    clinics: ClinicStore
    clock: Callable[[], datetime]

    def _check_admin_of(self, principal: Principal, clinic_id: str) -> Clinic:
        admin = require_admin(principal)
        clinic = self.clinics.get_clinic(clinic_id)
        if not acts_for_clinic(admin, clinic_id, clinic.org_id if clinic else None):
            raise Forbidden("not_your_clinic", "You are not an admin of this clinic.")
        if clinic is None:
            raise NotFound("clinic_not_set_up", "Payments have not been set up for this clinic.")
        return clinic

    def of_request(
        self, principal: Principal, payment_request_id: str, cursor: str | None, limit: int
    ) -> tuple[PaymentRequest, AuditPage]:
        """A payment request's trail, oldest first, for the admins of its clinic."""
        require_admin(principal)
        request = self.payments.get(payment_request_id)
        if request is None:
            raise NotFound("payment_request_not_found", "No such payment request.")
        self._check_admin_of(principal, request.clinic_id)
        return request, self.log.request_trail(payment_request_id, cursor, limit)

    def of_clinic(
        self, principal: Principal, clinic_id: str, start: Moment | None, end: Moment | None,
        *, cursor: str | None, limit: int,
    ) -> AuditPage:  # fmt: skip
        """Everything that changed the clinic's payments and settings in the period (dates
        in its time zone, as reports read them)."""
        clinic = self._check_admin_of(principal, clinic_id)
        first, last = report_period(start, end, clinic.time_zone, self.clock())
        return self.log.clinic_trail(clinic_id, first, last, cursor, limit)

    def entries_of(self, payment_request_id: str) -> list[AuditEntry]:
        """The whole trail of a request the caller was already allowed to see (reports)."""
        return self.payments.audit_trail(payment_request_id)
