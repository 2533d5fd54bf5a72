"""What request_payment builds: the payment request use cases and no-show fees, on the
shared parts of callpay.runtime (the store, Stripe, patient tokens, the feed, the receipt
queue); the receipt page reads runtime.receipt_book, shared with send_receipt."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from callpay import runtime
from callpay.parts import part

if TYPE_CHECKING:
    from callpay.logic.no_show import NoShowFees
    from callpay.logic.payment_requests import PaymentRequests


@part
def payment_requests() -> PaymentRequests:
    from callpay.logic.payment_requests import PaymentRequests  # noqa: PLC0415

    config = runtime.settings()
    return PaymentRequests(
        store=runtime.store(),
        gateway=runtime.stripe_gateway(),
        tokens=runtime.patient_tokens(),
        notifier=runtime.notifier(),
        receipts=runtime.receipt_queue(),
        publishable_key=lambda: runtime.stripe_keys().stripe_publishable_key,
        clock=runtime.now,
        patient_page_url=config.patient_page_url,
        pay_link_lifetime=timedelta(hours=config.pay_link_hours),
    )


@part
def no_show_fees() -> NoShowFees:
    from callpay.logic.no_show import NoShowFees  # noqa: PLC0415

    return NoShowFees(payment_requests())
