"""How much money went back to the patient, whatever Stripe's API version says.

`amount_refunded` on our record is money returned to the patient, never a released
authorisation. Two sources give it:

- Refunds by their own objects: every refund callpay makes is a Stripe Refund with an id,
  an amount and a status; the record keeps them, so a retry or a replay counts one once.
- The charge's `amount_refunded`, from `charge.refunded` events (refunds made in Stripe's
  dashboard). Before API version 2025-03-31.basil Stripe folds released authorisations
  into it: a partial capture of 6,000 of an 8,000 hold reports 2,000 refunded, and a
  released hold reports the whole amount refunded (`refunded: true`). For those versions
  the uncaptured remainder is subtracted. Since basil neither creates a refund.

The record's figure is the larger of the two (each is a lower bound of the truth), never
less than before and never more than was captured. A dashboard refund and one of ours in
the same moments are both counted once Stripe's event for the later one arrives; until
then the figure is low, never high (a refund asked for meanwhile may be refused by Stripe,
never paid twice).
"""

from __future__ import annotations

from collections.abc import Iterable

from callpay.domain.payment_request import Refund
from callpay.domain.stripe_objects import Charge

# The first API version in which partial captures and cancellations create no refund.
RELEASES_NOT_REFUNDS_SINCE = "2025-03-31"


def folds_releases_into_refunds(api_version: str | None) -> bool:
    """Whether a charge rendered in this API version counts released authorisations as
    refunded. Events without a version (localstripe) behave like the old versions."""
    return api_version is None or api_version[:10] < RELEASES_NOT_REFUNDS_SINCE


def returned_by_charge(charge: Charge, api_version: str | None, captured_hint: int) -> int:
    """Money returned to the patient according to the charge's `amount_refunded`.

    `captured_hint` (what our record says was captured) stands in for `amount_captured`
    where the charge does not say (localstripe).
    """
    if not folds_releases_into_refunds(api_version):
        return charge.amount_refunded
    if not charge.captured:
        return 0  # an authorisation released before capture: nothing was ever taken
    captured = charge.amount_captured if charge.amount_captured is not None else captured_hint
    released = max(charge.amount - captured, 0)
    return max(charge.amount_refunded - released, 0)


def refunded_total(
    refunds: Iterable[Refund], reported: int, captured: int, previous: int = 0
) -> int:
    """The record's `amount_refunded`: refunds known by their objects, or the charge's own
    figure if larger (refunds made elsewhere), never less than before (a late event is
    older news) and never more than was captured."""
    known = sum(refund.amount for refund in refunds if refund.counts)
    return min(max(known, reported, previous), captured)
