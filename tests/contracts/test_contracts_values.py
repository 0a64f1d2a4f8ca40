"""Decimal arithmetic and the value encodings (CBOR boundary, storage), by property."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.contracts import CorruptStoredValue, Decimal, InvalidContractValue, LimitExceeded
from gongshi.contracts.faults import ContractFault
from gongshi.contracts.fixedpoint import SCALE_FACTOR
from gongshi.contracts.values import (
    decode_stored,
    encode_stored,
    from_cbor,
    to_cbor,
)

units = st.integers(min_value=-(10**30), max_value=10**30)
decimals = units.map(Decimal.from_units)


def exact(value: Decimal) -> Fraction:
    return Fraction(value.units, SCALE_FACTOR)


def half_even(value: Fraction) -> int:
    """Units of `value` rounded half to even: the documented rounding."""
    scaled = value * SCALE_FACTOR
    floor = scaled.numerator // scaled.denominator
    remainder = scaled - floor
    if remainder > Fraction(1, 2) or (remainder == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


@given(decimals, decimals)
def test_add_and_sub_are_exact(a: Decimal, b: Decimal) -> None:
    assert exact(a + b) == exact(a) + exact(b)
    assert exact(a - b) == exact(a) - exact(b)


@given(decimals, decimals)
def test_mul_and_div_round_half_even(a: Decimal, b: Decimal) -> None:
    assert (a * b).units == half_even(exact(a) * exact(b))
    if b:
        assert (a / b).units == half_even(exact(a) / exact(b))


@given(decimals, st.integers(min_value=-(10**6), max_value=10**6))
def test_int_operands_are_exact(a: Decimal, n: int) -> None:
    assert exact(a * n) == exact(a) * n
    assert exact(a + n) == exact(a) + n
    assert (a == n) == (exact(a) == n)
    if a == n:
        assert hash(a) == hash(n)


@given(decimals)
def test_text_round_trips(a: Decimal) -> None:
    assert Decimal(str(a)) == a
    assert Decimal(str(a)).units == a.units


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "0"),
        ("-1.50", "-1.5"),
        ("0.000000000000000001", "0.000000000000000001"),
        ("+12", "12"),
        ("1000000", "1000000"),
    ],
)
def test_text_forms(text: str, expected: str) -> None:
    assert str(Decimal(text)) == expected


@pytest.mark.parametrize("text", ["1e5", "1.", ".5", "0.0000000000000000001", "nan", "1,5", ""])
def test_bad_text_is_refused(text: str) -> None:
    with pytest.raises(ContractFault):
        Decimal(text)


def test_rounding_examples() -> None:
    tiny = Decimal("0.000000000000000001")
    assert (tiny / 2).units == 0  # 0.5 units: to even (0)
    assert (Decimal("0.000000000000000003") / 2).units == 2  # 1.5 units: to even (2)
    assert Decimal(1) / 3 == Decimal("0.333333333333333333")
    assert Decimal(2) / 3 == Decimal("0.666666666666666667")
    with pytest.raises(ContractFault, match="ZeroDivisionError"):
        Decimal(1) / 0


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**300), max_value=2**300)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | decimals
)
hashable = st.recursive(scalars, lambda inner: st.tuples(inner, inner), max_leaves=4)
stored_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(hashable, inner, max_size=3)
    ),
    max_leaves=20,
)


@given(stored_values)
def test_storage_keeps_values_and_their_types(value: object) -> None:
    decoded = decode_stored(encode_stored(value))
    assert decoded == value
    assert repr(decoded) == repr(value)  # same container types, same dict order
    assert encode_stored(decoded) == encode_stored(value)  # deterministic


@pytest.mark.parametrize(
    "data",
    [b"\x81\x09", b"\x82\x03\x00\x00", b"\xa0", b"\x80", b"\x83\x04\xf5\x41"],
)
def test_corrupt_stored_values_are_reported(data: bytes) -> None:
    with pytest.raises(CorruptStoredValue):
        decode_stored(data)


def test_storage_refuses_what_it_cannot_keep() -> None:
    with pytest.raises(InvalidContractValue):
        encode_stored([len])
    nested: list[object] = []
    for _ in range(20):
        nested = [nested]
    with pytest.raises(LimitExceeded):
        encode_stored(nested)


@given(stored_values)
def test_cbor_boundary_converts_or_refuses(value: object) -> None:
    try:
        converted = to_cbor(value)
    except InvalidContractValue:
        return
    again = to_cbor(from_cbor(converted))
    assert again == converted


def test_size_gas_counts_nested_and_shared_containers() -> None:
    from gongshi.contracts.faults import LimitFault
    from gongshi.contracts.limits import GAS_NESTED, GAS_PER_ITEM, NESTING_MAX
    from gongshi.contracts.sizes import SIZE_GAS_CAP, size_gas

    inner = [1, 2, 3]
    assert size_gas(inner) == 3 * GAS_PER_ITEM
    assert size_gas([inner, inner]) == 2 * (GAS_PER_ITEM + GAS_NESTED) + 2 * size_gas(inner)
    assert size_gas({"k": inner}) == 2 * GAS_PER_ITEM + GAS_NESTED + size_gas(inner)
    assert size_gas(("x" * 400,)) == GAS_PER_ITEM + 100
    cycle: list[object] = []
    cycle.append([cycle])
    assert size_gas(cycle) == SIZE_GAS_CAP
    deep: list[object] = []
    for _ in range(NESTING_MAX - 1):
        deep = [deep]
    assert size_gas(deep) == (NESTING_MAX - 1) * (GAS_PER_ITEM + GAS_NESTED)
    with pytest.raises(LimitFault, match="nested deeper"):
        size_gas([deep])
    # A shallow first path to `deep` must not hide a deeper second one.
    wrapped: object = deep
    for _ in range(10):
        wrapped = (wrapped,)
    with pytest.raises(LimitFault):
        size_gas([deep, wrapped])
    chain: object = ()
    for _ in range(200_000):  # deeper than the C stack allows hashing: refused, not crashed
        chain = (chain,)
    with pytest.raises(LimitFault):
        size_gas(chain)
    assert size_gas(7) == 0 and size_gas(Decimal(1)) == 0
