"""Stripe SDK exceptions become the domain's errors (and so 402 / 503 / 409)."""

from __future__ import annotations

import pytest
import stripe

from callpay import runtime
from callpay.adapters.stripe_gateway import STRIPE_API_VERSION, stripe_errors
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


def test_the_pinned_api_version_is_the_sdks_and_every_call_sends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert stripe.api_version == STRIPE_API_VERSION  # an SDK upgrade is a decision
    monkeypatch.setenv("TABLE_NAME", "t")
    runtime.reset()
    client = runtime._stripe_client("sk_test_x")
    # The SDK keeps the version in its requestor's options; it sends it as Stripe-Version.
    assert client._requestor._options.stripe_version == STRIPE_API_VERSION
    runtime.reset()
