"""Run localstripe, with one gap closed: a PaymentIntent can be retried after a decline.

On Stripe, a PaymentIntent whose card was declined goes back to
`requires_payment_method` and the patient can pay it with another card. localstripe
1.15 keeps the failed charge and refuses the second confirm; this launcher drops the
failed charge when a new payment method is attached, which is what Stripe does.
Usage: python devtools/localstripe_server.py --port 8420 --from-scratch
"""

from __future__ import annotations

from typing import Any

from localstripe import resources, server

_update = resources.PaymentIntent._update


def _update_allowing_retry(self: Any, **data: Any) -> None:
    charge = self.latest_charge
    if "payment_method" in data and charge is not None and charge.status == "failed":
        self.latest_charge = None
    _update(self, **data)


resources.PaymentIntent._update = _update_allowing_retry

if __name__ == "__main__":
    server.start()
