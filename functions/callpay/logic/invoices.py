"""The platform's invoices: its backend upserts them, the clinic's people and the backend
read them. Billing and settling them belongs to the payment requests (domain/invoice.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from callpay.api_models import InvoiceIn
from callpay.domain.access import (
    INVOICES_READ,
    INVOICES_WRITE,
    Clinician,
    PlatformBackend,
    PlatformCaller,
    acts_for_clinic,
    check_backend_clinic,
)
from callpay.domain.clinic import Clinic, org_of
from callpay.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from callpay.domain.invoice import EDITABLE, Invoice, InvoiceStatus
from callpay.domain.money import Money
from callpay.domain.payment_request import LineItem
from callpay.logic.optimistic import optimistic_update
from callpay.ports import InvoiceStore


@dataclass
class Invoices:
    invoices: InvoiceStore
    clinic_of: Callable[[str], Clinic | None]
    clock: Callable[[], datetime]

    def _clinic(self, caller: PlatformCaller, clinic_id: str, *scopes: str) -> Clinic:
        """The clinic, if `caller` may use its invoices: the backend of its organisation
        with one of `scopes`, or (to read) a clinician or admin of the clinic."""
        clinic = self.clinic_of(clinic_id)
        org_id = org_of(clinic)
        if isinstance(caller, PlatformBackend):
            check_backend_clinic(caller, org_id, *scopes)
        elif INVOICES_WRITE in scopes and INVOICES_READ not in scopes:
            raise Forbidden("platform_backend_only", "Invoices come from the platform's backend.")
        elif not isinstance(caller, Clinician) or not acts_for_clinic(caller, clinic_id, org_id):
            raise Forbidden("not_your_clinic", "You do not belong to this clinic.")
        if clinic is None:
            raise NotFound("clinic_not_set_up", "Payments have not been set up for this clinic.")
        return clinic

    def put(
        self, caller: PlatformCaller, clinic_id: str, invoice_id: str, body: InvoiceIn
    ) -> tuple[Invoice, bool]:
        """The invoice as stored, and whether it is new. An invoice being paid, paid or
        refunded is the payment's: the same content again is fine, a change is a 409."""
        clinic = self._clinic(caller, clinic_id, INVOICES_WRITE)
        money = Money.of(body.total, body.currency)
        if money.currency != clinic.default_currency:
            currency = clinic.default_currency.upper()
            raise InvalidInput("currency_not_accepted", f"This clinic charges in {currency}.")
        lines = tuple(LineItem(description=line.description, amount=line.amount)
                      for line in body.lines)  # fmt: skip
        if sum(line.amount for line in lines) != money.amount:
            raise InvalidInput("invoice_total_mismatch", "The lines must add up to the total.")
        now = self.clock()
        wanted = Invoice(
            clinic_id=clinic_id, id=invoice_id, patient=body.patient, issued_on=body.issued_on,
            currency=money.currency, lines=lines, total=money.amount,
            status=InvoiceStatus.VOID if body.void else InvoiceStatus.UNPAID,
            created_at=now, updated_at=now,
        )  # fmt: skip

        def decide(current: Invoice | None) -> tuple[Invoice, int | None] | None:
            if current is None:
                return wanted, None
            if current.status not in EDITABLE:
                if current.same_content(wanted) and not body.void:
                    return None
                raise Conflict(
                    "invoice_locked", f"The invoice is {current.status.value}: it can't change."
                )
            if current.same_content(wanted) and current.status is wanted.status:
                return None
            after = wanted.model_copy(
                update={"created_at": current.created_at, "version": current.version + 1}
            )
            return after, current.version

        updated = optimistic_update(
            load=lambda: self.invoices.get_invoice(clinic_id, invoice_id),
            save=lambda change: self.invoices.put_invoice(*change),
            decide=decide,
        )
        if updated.change is None:
            assert updated.state is not None
            return updated.state, False
        return updated.change[0], updated.change[1] is None

    def get(self, caller: PlatformCaller, clinic_id: str, invoice_id: str) -> Invoice:
        self._clinic(caller, clinic_id, INVOICES_READ, INVOICES_WRITE)
        invoice = self.invoices.get_invoice(clinic_id, invoice_id)
        if invoice is None:
            raise NotFound("invoice_not_found", "No such invoice for this clinic.")
        return invoice

    def list(
        self, caller: PlatformCaller, clinic_id: str, *, patient: str | None,
        status: InvoiceStatus | None, cursor: str | None, limit: int,
    ) -> tuple[list[Invoice], str | None]:  # fmt: skip
        """A page of the clinic's invoices, a patient's when given, by patient and id."""
        self._clinic(caller, clinic_id, INVOICES_READ, INVOICES_WRITE)
        page, after = self.invoices.invoices_of(clinic_id, patient, cursor, limit)
        return [i for i in page if status is None or i.status is status], after
