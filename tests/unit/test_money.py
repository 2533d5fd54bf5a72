from __future__ import annotations

import pytest

from callpay.domain.errors import InvalidInput
from callpay.domain.money import STRIPE_MAXIMUM, Money, check_chargeable, minor_unit_exponent


def test_currency_is_normalised_to_lowercase_iso_code() -> None:
    assert Money.of(8000, " AUD ") == Money(8000, "aud")


@pytest.mark.parametrize("currency", ["jpy", "krw", "vnd"])
def test_zero_decimal_currencies_have_no_minor_unit(currency: str) -> None:
    assert minor_unit_exponent(currency) == 0
    assert Money.of(8000, currency).display() == f"8000 {currency.upper()}"


def test_two_and_three_decimal_display() -> None:
    assert Money.of(8050, "aud").display() == "80.50 AUD"
    assert Money.of(5, "eur").display() == "0.05 EUR"
    assert Money.of(12340, "kwd").display() == "12.340 KWD"


@pytest.mark.parametrize("currency", ["xyz", "", "usdollars", "ab"])
def test_unknown_currency_is_refused(currency: str) -> None:
    with pytest.raises(InvalidInput) as error:
        Money.of(100, currency)
    assert error.value.code == "unsupported_currency"


@pytest.mark.parametrize("amount", [-1, True, 1.5, "100"])
def test_amount_must_be_a_non_negative_integer(amount: object) -> None:
    with pytest.raises(InvalidInput) as error:
        Money.of(amount, "usd")  # type: ignore[arg-type]
    assert error.value.code == "invalid_amount"


@pytest.mark.parametrize(
    ("amount", "currency", "ok"),
    [
        (49, "usd", False),
        (50, "usd", True),
        (29, "gbp", False),
        (30, "gbp", True),
        (49, "jpy", False),  # ¥50 is Stripe's minimum
        (50, "jpy", True),
        (17499, "huf", False),
        (0, "ngn", False),  # unlisted currency: Stripe judges any positive amount
        (1, "vnd", True),
    ],
)
def test_stripe_minimum_per_currency(amount: int, currency: str, ok: bool) -> None:
    money = Money.of(amount, currency)
    if ok:
        check_chargeable(money)
    else:
        with pytest.raises(InvalidInput) as error:
            check_chargeable(money)
        assert error.value.code == "amount_too_small"


def test_amount_above_stripe_maximum_is_refused() -> None:
    check_chargeable(Money.of(STRIPE_MAXIMUM, "usd"))
    with pytest.raises(InvalidInput) as error:
        check_chargeable(Money.of(STRIPE_MAXIMUM + 1, "usd"))
    assert error.value.code == "amount_too_large"


def test_clinic_maximum_is_enforced() -> None:
    check_chargeable(Money.of(50000, "aud"), clinic_maximum=50000)
    with pytest.raises(InvalidInput) as error:
        check_chargeable(Money.of(50001, "aud"), clinic_maximum=50000)
    assert error.value.code == "amount_above_clinic_maximum"
    assert "500.00 AUD" in error.value.message


def test_three_decimal_currencies_must_end_in_zero() -> None:
    check_chargeable(Money.of(5000, "kwd"))
    with pytest.raises(InvalidInput):
        check_chargeable(Money.of(5001, "kwd"))


@pytest.mark.parametrize("currency", ["isk", "ugx", "huf", "twd"])
def test_stripes_special_currencies_take_whole_units_only(currency: str) -> None:
    check_chargeable(Money.of(50_000, currency))  # 500 whole units
    with pytest.raises(InvalidInput) as error:
        check_chargeable(Money.of(50_050, currency))
    assert error.value.code == "whole_units_only"
    assert "multiple of 100" in error.value.message and "50000 is 500" in error.value.message
    assert minor_unit_exponent(currency) == 2
    assert Money.of(50_000, currency).display() == f"500 {currency.upper()}"


def test_ugx_is_sent_in_hundredths_not_as_a_zero_decimal_currency() -> None:
    # Stripe: 5 UGX is an amount of 500; before this, 8000 meant 8,000 UGX here and 80 there.
    assert Money.of(500, "ugx").display() == "5 UGX"
