"""`Record.from_checked`: the unchecked constructor for values that passed their kinds makes
the very record (equal, same encoding, same hash) the checked constructor makes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.codec import (
    Block,
    BlockHeader,
    Receipt,
    ReceiptStatus,
    Record,
    Transaction,
    decode,
    encode,
)
from gongshi.codec.errors import InvalidField
from gongshi.crypto import get_suite

from .conftest import events, receipts, transactions  # type: ignore[import-not-found]


def field_values(obj: Record, *, omit_defaults: bool) -> dict[str, object]:
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]
    if omit_defaults:
        defaults = {f.name: f.default for f in dataclasses.fields(obj)}  # type: ignore[arg-type]
        values = {name: v for name, v in values.items() if v is not defaults[name]}
    return values


@settings(max_examples=150, deadline=None)
@given(obj=st.one_of(events(), receipts(), transactions()), omit_defaults=st.booleans())
def test_from_checked_makes_the_checked_record(obj: Record, omit_defaults: bool) -> None:
    copy = type(obj).from_checked(**field_values(obj, omit_defaults=omit_defaults))
    assert copy == obj and copy is not obj
    assert encode(copy) == encode(obj)
    assert decode(type(obj), encode(copy)) == obj
    suite = get_suite("intl")
    if isinstance(obj, Receipt | Transaction):
        assert copy.hash(suite) == obj.hash(suite)


def test_from_checked_nests_records_as_the_checked_constructor_does() -> None:
    header = BlockHeader(
        height=3,
        parent_hash=bytes(32),
        tx_root=bytes(32),
        receipts_root=bytes(32),
        state_root=bytes(32),
        timestamp_ms=1,
        proposer=bytes(32),
        round=0,
        config_version=0,
    )
    block = Block(header=header, transactions=())
    assert Block.from_checked(header=header, transactions=()) == block
    assert encode(Block.from_checked(header=header, transactions=())) == encode(block)


def test_from_checked_still_checks_invariants() -> None:
    with pytest.raises(InvalidField, match="must be empty when status is SUCCESS"):
        Receipt.from_checked(
            tx_hash=bytes(32), status=ReceiptStatus.SUCCESS, gas_used=1, error="no"
        )


def test_from_checked_refuses_missing_and_unknown_fields() -> None:
    with pytest.raises(TypeError, match="missing field 'gas_used'"):
        Receipt.from_checked(tx_hash=bytes(32), status=ReceiptStatus.SUCCESS)
    with pytest.raises(TypeError, match="unknown fields \\['colour'\\]"):
        Receipt.from_checked(
            tx_hash=bytes(32), status=ReceiptStatus.SUCCESS, gas_used=1, colour="red"
        )
