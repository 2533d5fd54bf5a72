"""callpay's DynamoDB conversions agree with boto3's TypeSerializer and TypeDeserializer
for every value callpay stores (callpay.adapters.dynamodb_items writes them out to keep
boto3 out of the cold start)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from callpay.adapters.dynamodb_items import from_item, plain, to_item, value

scalars = (
    st.none() | st.booleans() | st.text(max_size=20)
    | st.integers(min_value=-(10**37), max_value=10**37)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**20),
                  max_value=10**20)
)  # fmt: skip
values = st.recursive(
    scalars | st.frozensets(st.text(max_size=5), min_size=1, max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=4),
    max_leaves=12,
)  # fmt: skip


def normalised(typed: Any) -> Any:
    """Sets are lists in both; their order is a set's."""
    if isinstance(typed, dict):
        return {k: sorted(v) if k == "SS" else normalised(v) for k, v in typed.items()}
    if isinstance(typed, list):
        return [normalised(v) for v in typed]
    return typed


@given(values)
def test_values_are_typed_as_boto3_types_them(plain_value: Any) -> None:
    assert normalised(value(plain_value)) == normalised(TypeSerializer().serialize(plain_value))


@given(values)
def test_typed_values_read_back_as_boto3_reads_them(plain_value: Any) -> None:
    typed = TypeSerializer().serialize(plain_value)
    assert plain(typed) == TypeDeserializer().deserialize(typed)


def test_an_item_round_trips_without_its_none_values() -> None:
    item = to_item({"PK": "PR#1", "amount": 8000, "paid": True, "paid_at": None,
                    "line_items": [{"description": "x", "amount": 8000}]})  # fmt: skip
    assert "paid_at" not in item
    lines = [{"description": "x", "amount": Decimal(8000)}]
    assert from_item(item) == {"PK": "PR#1", "amount": Decimal(8000), "paid": True,
                               "line_items": lines}  # fmt: skip


@pytest.mark.parametrize("refused", [1.5, object(), 10**40])
def test_what_boto3_refuses_is_refused(refused: Any) -> None:
    with pytest.raises((TypeError, ArithmeticError)):
        TypeSerializer().serialize(refused)
    with pytest.raises((TypeError, ArithmeticError)):
        value(refused)
