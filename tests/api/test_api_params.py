"""Parameter checking and the JSON wire form, without a server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.api.dispatch import parse_json
from gongshi.api.errors import InvalidParams, ParseError
from gongshi.api.params import BlockRef, Cursor, HexBytes, Param, Text, UInt, parse_params
from gongshi.api.wire import (
    WireFormatError,
    from_hex,
    inclusion_proof_from_json,
    inclusion_proof_to_json,
    to_hex,
    value_from_json,
    value_to_json,
)
from gongshi.merkle import InclusionProof

SPECS = (
    Param("a", UInt(maximum=10), "a"),
    Param("b", Text(length_max=3), "b", required=False, default="z"),
)


def test_params_by_name_position_and_defaults() -> None:
    assert parse_params({"a": 1}, SPECS) == {"a": 1, "b": "z"}
    assert parse_params([2, "xy"], SPECS) == {"a": 2, "b": "xy"}
    assert parse_params([3, None], SPECS) == {"a": 3, "b": "z"}


@pytest.mark.parametrize(
    "params",
    [
        None,
        {},
        [],
        {"a": 1, "c": 2},
        [1, "x", 3],
        {"a": 11},
        {"a": True},
        {"a": 1.0},
        {"a": 1, "b": "long"},
        {"a": 1, "b": 5},
        "a",
    ],
)
def test_bad_params_are_invalid_params(params: Any) -> None:
    with pytest.raises(InvalidParams):
        parse_params(params, SPECS)


def test_kinds() -> None:
    assert HexBytes(sizes=(2,)).parse("x", "0xABcd") == b"\xab\xcd"
    for bad in ("abcd", "0xabc", "0x ab", "0xabcdef", 12, "0x+1"):
        with pytest.raises(InvalidParams):
            HexBytes(sizes=(2,)).parse("x", bad)
    assert BlockRef().parse("b", 5) == 5
    assert BlockRef().parse("b", "0x" + "00" * 32) == bytes(32)
    assert Cursor().parse("c", "1:2:3") == (1, 2, 3)
    for bad in ("1:2", "a:b:c", "1:2:99999999999", "١:2:3", 5):
        with pytest.raises(InvalidParams):
            Cursor().parse("c", bad)


@pytest.mark.parametrize("body", [b"[1,", b"\xc3\x28", b"Infinity", b"[" * 5000 + b"]" * 5000])
def test_parse_json_rejects(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_json(body)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64 - 1)
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(json_values)
def test_values_round_trip_when_no_text_looks_like_hex(value: Any) -> None:
    rendered = value_to_json(value)
    back = value_from_json(rendered)
    # Text that happens to look like 0x-hex is read back as bytes: the documented ambiguity.
    if "0x" not in repr(value):
        assert back == _listify(value)


def _listify(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_listify(v) for v in value]
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    return value


@given(st.binary(max_size=64))
def test_hex_round_trip(data: bytes) -> None:
    assert from_hex(to_hex(data), what="x") == data


_HEX_RULE = re.compile(r"(?:[0-9a-fA-F]{2})*")  # the documented rule, as a definition


@given(
    st.text(alphabet="0123456789abcdefABCDEFxg \t\n\x0b\x1c\u00a0\u0661", max_size=12)
    | st.text(max_size=8)
)
def test_from_hex_accepts_exactly_an_even_number_of_hex_digits(body: str) -> None:
    expected = bytes.fromhex(body) if _HEX_RULE.fullmatch(body) else None
    try:
        found: bytes | None = from_hex("0x" + body, what="x")
    except WireFormatError as error:
        assert "is not valid hex" in error.message
        found = None
    assert found == expected


def test_from_hex_sizes() -> None:
    with pytest.raises(WireFormatError, match="must be 32 bytes"):
        from_hex("0x00", what="hash", sizes=(32,))
    with pytest.raises(WireFormatError, match="longer than"):
        from_hex("0x" + "00" * 5, what="x", size_max=4)


def test_inclusion_proof_json_round_trip_and_strictness() -> None:
    proof = InclusionProof(leaf_index=1, tree_size=3, hashes=(b"\x01" * 32, b"\x02" * 32))
    assert inclusion_proof_from_json(inclusion_proof_to_json(proof)) == proof
    for bad in (
        {"leaf_index": 1, "tree_size": 3},
        {"leaf_index": "1", "tree_size": 3, "hashes": []},
        {"leaf_index": 1, "tree_size": 3, "hashes": ["0x00"]},
        {"leaf_index": 1, "tree_size": 3, "hashes": ["0x" + "00" * 32] * 65},
        [],
    ):
        with pytest.raises(WireFormatError):
            inclusion_proof_from_json(bad)
