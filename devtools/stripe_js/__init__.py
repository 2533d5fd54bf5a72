"""A local stand-in for the part of Stripe.js callpay's panels use, served by the local
gateway only (never shipped): the script, its card-fields and 3-D Secure frames, and its
server part, which plays Stripe's publishable-key API on localstripe (docs/local-development.md).
"""

from __future__ import annotations

from devtools.stripe_js.server import SCRIPT_PATH, StripeJsStandIn

__all__ = ["SCRIPT_PATH", "StripeJsStandIn"]
