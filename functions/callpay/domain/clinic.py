"""A clinic as payments see it: whether it may take payments, into which Stripe account."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from callpay.domain.errors import Conflict


class Clinic(BaseModel):
    model_config = ConfigDict(frozen=True)

    clinic_id: str
    org_id: str
    enabled: bool = False
    stripe_account_id: str | None = None
    charges_enabled: bool = False
    default_currency: str = "aud"
    maximum_amount: int | None = None
    # The clinician's description is clinical information: Stripe sees it only on opt-in.
    share_description_with_stripe: bool = False
    # Receipt details: what insurers and tax offices need to see on a receipt.
    legal_name: str | None = None
    address: str | None = None
    tax_id: str | None = None
    tax_id_label: str | None = None
    provider_name: str | None = None
    provider_number: str | None = None
    tax_statement: str | None = None
    time_zone: str = "UTC"
    default_locale: str | None = None

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
