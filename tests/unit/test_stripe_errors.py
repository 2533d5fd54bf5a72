"""Stripe SDK exceptions become the domain's errors (and so 402 / 503 / 409)."""

from __future__ import annotations

import pytest
import stripe

from callpay.adapters.stripe_gateway import stripe_errors
from callpay.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    PaymentDeclined,
    UpstreamUnavailable,
)


def card_error() -> stripe.CardError:
    error = {"code": "card_declined", "decline_code": "insufficient_funds", "type": "card_error"}
    body = {"error": error | {"message": "Your card has insufficient funds."}}
    return stripe.CardError(
        "Your card has insufficient funds.", None, "card_declined", json_body=body, http_status=402
    )


@pytest.mark.parametrize(
    ("raised", "expected", "code"),
    [
        (card_error(), PaymentDeclined, "insufficient_funds"),
        (stripe.RateLimitError("slow down"), UpstreamUnavailable, "stripe_unavailable"),
        (stripe.APIConnectionError("no route"), UpstreamUnavailable, "stripe_unavailable"),
        (stripe.APIError("stripe 500"), UpstreamUnavailable, "stripe_unavailable"),
        (stripe.InvalidRequestError("cannot cancel", "intent"), Conflict, "stripe_rejected"),
        (stripe.IdempotencyError("key reused"), Conflict, "stripe_busy"),
        (stripe.PermissionError("account deauthorized"), Conflict, "stripe_access_revoked"),
        (
            stripe.InvalidRequestError("too small", "amount", code="amount_too_small"),
            InvalidInput,
            "amount_too_small",
        ),
    ],
)
def test_stripe_exceptions_map_to_domain_errors(
    raised: Exception, expected: type[DomainError], code: str
) -> None:
    with pytest.raises(expected) as error, stripe_errors():
        raise raised
    assert error.value.code == code
