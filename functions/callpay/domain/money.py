"""Money as integer minor units plus an ISO 4217 currency, with Stripe's per-currency rules."""

from __future__ import annotations

from dataclasses import dataclass

from callpay.domain.errors import InvalidInput

# Stripe treats these as having no minor unit: 8000 JPY is ¥8,000.
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
# Three-decimal currencies: Stripe requires the last digit to be 0.
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
# Stripe's special cases (docs.stripe.com/currencies#special-cases): in the API these are
# two-decimal, but only whole units can be charged, so amounts must be divisible by 100.
# ISK and UGX became zero-decimal and Stripe keeps the two decimals for backwards
# compatibility ("Currency UGX has become effectively zero-decimal and charged amounts
# must be evenly divisible by 100"); HUF and TWD are charged in two decimals but shown to
# cardholders and paid out in whole units (payouts must be divisible by 100). A fraction
# of a forint or a Taiwan dollar would be an amount the clinic could never be paid out.
WHOLE_UNITS_ONLY = {
    "isk": "Icelandic krónur",
    "ugx": "Ugandan shillings",
    "huf": "Hungarian forints",
    "twd": "New Taiwan dollars",
}

# Stripe's minimum charge per settlement-relevant currency, in minor units
# (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
# For other currencies the minimum is the equivalent of 0.50 USD, which moves with
# exchange rates: only a positive amount is checked here, and Stripe's own
# `amount_too_small` answer becomes the same 422.
STRIPE_MINIMUM = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500,
    "inr": 50, "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50,
    "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000, "krw": 1000,
}  # fmt: skip
DEFAULT_MINIMUM = 1

# Stripe's API rejects amounts above eight digits in the minor unit.
STRIPE_MAXIMUM = 99_999_999

# Presentment currencies Stripe supports for card payments.
SUPPORTED = frozenset(
    [
        "usd",
        "aed",
        "afn",
        "all",
        "amd",
        "ang",
        "aoa",
        "ars",
        "aud",
        "awg",
        "azn",
        "bam",
        "bbd",
        "bdt",
        "bgn",
        "bhd",
        "bif",
        "bmd",
        "bnd",
        "bob",
        "brl",
        "bsd",
        "bwp",
        "byn",
        "bzd",
        "cad",
        "cdf",
        "chf",
        "clp",
        "cny",
        "cop",
        "crc",
        "cve",
        "czk",
        "djf",
        "dkk",
        "dop",
        "dzd",
        "egp",
        "etb",
        "eur",
        "fjd",
        "fkp",
        "gbp",
        "gel",
        "gip",
        "gmd",
        "gnf",
        "gtq",
        "gyd",
        "hkd",
        "hnl",
        "htg",
        "huf",
        "idr",
        "ils",
        "inr",
        "isk",
        "jmd",
        "jod",
        "jpy",
        "kes",
        "kgs",
        "khr",
        "kmf",
        "krw",
        "kwd",
        "kyd",
        "kzt",
        "lak",
        "lbp",
        "lkr",
        "lrd",
        "lsl",
        "mad",
        "mdl",
        "mga",
        "mkd",
        "mmk",
        "mnt",
        "mop",
        "mur",
        "mvr",
        "mwk",
        "mxn",
        "myr",
        "mzn",
        "nad",
        "ngn",
        "nio",
        "nok",
        "npr",
        "nzd",
        "omr",
        "pab",
        "pen",
        "pgk",
        "php",
        "pkr",
        "pln",
        "pyg",
        "qar",
        "ron",
        "rsd",
        "rub",
        "rwf",
        "sar",
        "sbd",
        "scr",
        "sek",
        "sgd",
        "shp",
        "sle",
        "sos",
        "srd",
        "std",
        "szl",
        "thb",
        "tjs",
        "tnd",
        "top",
        "try",
        "ttd",
        "twd",
        "tzs",
        "uah",
        "ugx",
        "uyu",
        "uzs",
        "vnd",
        "vuv",
        "wst",
        "xaf",
        "xcd",
        "xof",
        "xpf",
        "yer",
        "zar",
        "zmw",
    ]
)


def minor_unit_exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has, as Stripe counts them."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in the currency's minor unit (cents, yen...) and a lowercase ISO currency."""

    amount: int
    currency: str

    @classmethod
    def of(cls, amount: int, currency: str) -> Money:
        """Validated money: a known currency and a non-negative integer amount."""
        code = currency.strip().lower()
        if code not in SUPPORTED:
            raise InvalidInput("unsupported_currency", f"Currency {currency!r} is not supported.")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise InvalidInput("invalid_amount", "Amount must be a non-negative integer.")
        return cls(amount, code)

    def display(self) -> str:
        """Plain decimal form for logs and CSV, e.g. '80.00 AUD' (receipts localise it)."""
        exponent = minor_unit_exponent(self.currency)
        if exponent == 0:
            return f"{self.amount} {self.currency.upper()}"
        if self.currency in WHOLE_UNITS_ONLY and not self.amount % 100:
            return f"{self.amount // 100} {self.currency.upper()}"
        whole, fraction = divmod(self.amount, 10**exponent)
        return f"{whole}.{fraction:0{exponent}d} {self.currency.upper()}"


def check_chargeable(
    money: Money, clinic_maximum: int | None = None, clinic_minimum: int | None = None
) -> None:
    """Refuse an amount Stripe would refuse, or one outside the clinic's own limits."""
    minimum = STRIPE_MINIMUM.get(money.currency, DEFAULT_MINIMUM)
    if money.amount < minimum:
        raise InvalidInput(
            "amount_too_small",
            f"The minimum for {money.currency.upper()} is "
            f"{Money(minimum, money.currency).display()}.",
        )
    if money.amount > STRIPE_MAXIMUM:
        raise InvalidInput("amount_too_large", "The amount is above what Stripe can charge.")
    if clinic_minimum is not None and money.amount < clinic_minimum:
        raise InvalidInput(
            "amount_below_clinic_minimum",
            f"The clinic's minimum is {Money(clinic_minimum, money.currency).display()}.",
        )
    if clinic_maximum is not None and money.amount > clinic_maximum:
        raise InvalidInput(
            "amount_above_clinic_maximum",
            f"The clinic's maximum is {Money(clinic_maximum, money.currency).display()}.",
        )
    if money.currency in THREE_DECIMAL and money.amount % 10:
        raise InvalidInput(
            "invalid_amount", f"{money.currency.upper()} amounts must end in 0 (Stripe rule)."
        )
    check_whole_units(money)


def check_whole_units(money: Money) -> None:
    """Refuse a fraction of ISK, UGX, HUF or TWD, saying why (Stripe would refuse it, or
    could never pay it out)."""
    if money.currency in WHOLE_UNITS_ONLY and money.amount % 100:
        code, units = money.currency.upper(), max(money.amount // 100, 1)
        raise InvalidInput(
            "whole_units_only",
            f"{code} is charged in whole {WHOLE_UNITS_ONLY[money.currency]}, sent to Stripe "
            f"in hundredths: the amount must be a multiple of 100 "
            f"({units * 100} is {units} {code}).",
        )
