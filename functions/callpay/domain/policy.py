"""A clinic's no-show policy: the fee and the words patients see before they authorise a
hold or keep their card, versioned so a consent can say which words it was given to."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from callpay.domain.clinic import Clinic
from callpay.domain.payment_request import PolicyShown

# Long enough for a paragraph of terms; short enough to show on a phone before paying.
MAX_POLICY_CHARS = 2000


@dataclass(frozen=True, slots=True)
class NoShowPolicy:
    version: int
    fee: int  # minor units of `currency`
    currency: str
    text: str

    @property
    def sha256(self) -> str:
        """A digest of exactly what the patient was shown: version, fee and words."""
        shown = f"{self.version}\n{self.fee} {self.currency}\n{self.text}"
        return hashlib.sha256(shown.encode()).hexdigest()

    def shown(self) -> PolicyShown:
        return PolicyShown(version=self.version, sha256=self.sha256, fee=self.fee)


def policy_of(clinic: Clinic | None) -> NoShowPolicy | None:
    """The clinic's policy in force, if it has one (a fee and its words, both set)."""
    if clinic is None or clinic.no_show_fee is None or not clinic.no_show_policy:
        return None
    return NoShowPolicy(
        version=clinic.no_show_policy_version,
        fee=clinic.no_show_fee,
        currency=clinic.default_currency,
        text=clinic.no_show_policy,
    )


def next_policy_version(before: Clinic, after: Clinic) -> Clinic:
    """`after` with the policy's version moved on if its fee, words or currency changed."""
    changed = (before.no_show_fee, before.no_show_policy, before.default_currency) != (
        after.no_show_fee, after.no_show_policy, after.default_currency,
    )  # fmt: skip
    if not changed or policy_of(after) is None:
        return after
    return after.model_copy(update={"no_show_policy_version": before.no_show_policy_version + 1})
