"""Deterministic CBOR of free-form values: RFC 8949 vectors, cbor2's canonical mode, rejections."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.codec import decode_value, encode_value, frozendict
from gongshi.codec.cbor import _REJECT_SEMANTIC_TAGS, _reject_tag, freeze_value
from gongshi.codec.diagnose import EXPLAIN_BYTES_MAX, find_problem, first_difference
from gongshi.codec.errors import (
    DuplicateMapKey,
    EncodingTooLarge,
    InvalidValue,
    MalformedCbor,
    NestingTooDeep,
    NonCanonicalEncoding,
    TrailingBytes,
    UnsupportedCborItem,
)
from gongshi.codec.limits import VALUE_DEPTH_MAX
from gongshi.errors import DecodeError, GongshiError

VECTORS = Path(__file__).parent.parent / "vectors" / "cbor" / "rfc8949_appendix_a.json"

# ---------------------------------------------------------------------------------------------
# RFC 8949 Appendix A


def _vectors() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(VECTORS.read_text())
    return cases


def _expected_rejection(case: dict[str, Any]) -> tuple[type[DecodeError], str] | None:
    """Why a vector is outside the deterministic subset (error class, reason), or None."""
    head = bytes.fromhex(case["hex"])
    if isinstance(case.get("decoded"), float) or case.get("diagnostic") in (
        "Infinity",
        "-Infinity",
        "NaN",
    ):
        return UnsupportedCborItem, "float"
    if not case["roundtrip"] and any(byte in head for byte in (0x5F, 0x7F, 0x9F, 0xBF)):
        return NonCanonicalEncoding, "indefinite-length form"
    if head[0] >> 5 == 6:
        return UnsupportedCborItem, "tag (including bignums, dates, URIs)"
    diagnostic = case.get("diagnostic", "")
    if diagnostic == "undefined" or diagnostic.startswith("simple("):
        return (MalformedCbor if head == b"\xf8\x18" else UnsupportedCborItem), "simple value"
    if diagnostic.startswith("{1:"):
        return UnsupportedCborItem, "map with integer keys"
    return None


def _expected_value(case: dict[str, Any]) -> object:
    if "decoded" in case:
        return freeze_value(case["decoded"])
    match = re.fullmatch(r"h'([0-9a-f]*)'", case["diagnostic"])
    assert match is not None, f"no expected value for {case}"
    return bytes.fromhex(match.group(1))


@pytest.mark.parametrize("case", _vectors(), ids=lambda case: case["hex"][:24])
def test_rfc8949_appendix_a(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["hex"])
    rejection = _expected_rejection(case)
    if rejection is None:
        assert case["roundtrip"], "every non-round-tripping vector is a stated rejection"
        expected = _expected_value(case)
        assert decode_value(data) == expected
        assert encode_value(expected) == data
        assert find_problem(data, "value") is None
    else:
        error_class, _reason = rejection
        with pytest.raises(error_class):
            decode_value(data)


def test_rfc8949_vectors_cover_both_outcomes() -> None:
    outcomes = [_expected_rejection(case) is None for case in _vectors()]
    assert sum(outcomes) >= 30 and outcomes.count(False) >= 30


# ---------------------------------------------------------------------------------------------
# Values of the subset

_INT = st.integers(min_value=-(2**64), max_value=2**64 - 1)
_SCALAR = st.none() | st.booleans() | _INT | st.text(max_size=30) | st.binary(max_size=40)
VALUES = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=25,
)


def _sorted_bytewise(data: bytes) -> bool:
    return find_problem(data, "value") is None


@given(VALUES)
def test_encoding_is_cbor2_canonical_and_round_trips(value: object) -> None:
    data = encode_value(value)
    # cbor2's canonical mode sorts length-first (RFC 7049); for text keys that is the same
    # order as RFC 8949's bytewise one, which the independent walker checks.
    assert data == cbor2.dumps(value, canonical=True)
    assert _sorted_bytewise(data)
    decoded = decode_value(data)
    assert decoded == freeze_value(value)
    assert encode_value(decoded) == data


@given(st.dictionaries(st.text(max_size=40), st.integers(0, 3), min_size=2, max_size=12))
def test_map_keys_are_in_bytewise_order_of_their_encodings(mapping: dict[str, int]) -> None:
    data = encode_value(mapping)
    encoded_keys = [cbor2.dumps(key) for key in decode_value(data)]  # type: ignore[union-attr]
    assert encoded_keys == sorted(encoded_keys)
    assert len(encoded_keys) == len(mapping)


def test_cbor2_canonical_mode_sorts_length_first_for_mixed_key_types() -> None:
    # Why we restrict keys to text: with mixed types cbor2's order is not RFC 8949's.
    # 1000 encodes as 19 03 e8 (3 bytes), "a" as 61 61 (2 bytes): bytewise puts 1000 first.
    data = cbor2.dumps({1000: 0, "a": 0}, canonical=True)
    assert data == bytes.fromhex("a2616100" + "1903e800")
    with pytest.raises(UnsupportedCborItem, match="not a text string"):
        decode_value(bytes.fromhex("a21903e800616100"))


@pytest.mark.parametrize(
    ("value", "head"),
    [
        (0, "00"),
        (23, "17"),
        (24, "1818"),
        (255, "18ff"),
        (256, "190100"),
        (65535, "19ffff"),
        (65536, "1a00010000"),
        (2**32 - 1, "1affffffff"),
        (2**32, "1b0000000100000000"),
        (-1, "20"),
        (-25, "3818"),
        (-(2**64), "3bffffffffffffffff"),
    ],
)
def test_integers_use_the_shortest_form(value: int, head: str) -> None:
    assert encode_value(value).hex() == head


@pytest.mark.parametrize("length", [0, 23, 24, 255, 256, 65536])
def test_string_lengths_use_the_shortest_form(length: int) -> None:
    data = encode_value(b"x" * length)
    head = data[: len(data) - length]
    expected = 1 if length < 24 else 2 if length < 256 else 3 if length < 65536 else 5
    assert len(head) == expected


# ---------------------------------------------------------------------------------------------
# Rejections

REJECTED = [
    ("1817", NonCanonicalEncoding, "unsigned integer 23 at offset 0 is not in shortest form"),
    ("190017", NonCanonicalEncoding, "not in shortest form"),
    ("3800", NonCanonicalEncoding, "negative integer 0 at offset 0 is not in shortest form"),
    ("5801ff", NonCanonicalEncoding, "byte string length 1"),
    ("980100", NonCanonicalEncoding, "array length 1"),
    ("9f01ff", NonCanonicalEncoding, "indefinite-length"),
    ("5f4101ff", NonCanonicalEncoding, "indefinite-length"),
    ("a2616101616102", DuplicateMapKey, "duplicate map key 'a'"),
    ("a2616201616102", NonCanonicalEncoding, "map keys out of order at offset 4: 'a' after 'b'"),
    ("a2626161016162", NonCanonicalEncoding, "'b' after 'aa'"),
    ("f97e00", UnsupportedCborItem, "float"),
    ("fb3ff199999999999a", UnsupportedCborItem, "float"),
    ("c11a514b67b0", UnsupportedCborItem, "tag 1 at offset 0"),
    ("c249010000000000000000", UnsupportedCborItem, "tag 2"),
    ("d9d9f700", UnsupportedCborItem, "tag 55799"),
    ("d81c81d81d00", UnsupportedCborItem, "tag 28"),
    ("f7", UnsupportedCborItem, "undefined"),
    ("f0", UnsupportedCborItem, "simple value"),
    ("f820", UnsupportedCborItem, "simple value"),
    ("a10102", UnsupportedCborItem, "map key"),
    ("0100", TrailingBytes, "1 trailing bytes after the item, at offset 1"),
    ("a000", TrailingBytes, "trailing"),
    ("", MalformedCbor, "truncated"),
    ("ff", MalformedCbor, "unexpected break"),
    ("1c", MalformedCbor, "reserved"),
    ("62c328", MalformedCbor, "not valid UTF-8"),
    ("6261", MalformedCbor, "truncated"),
    ("8201", MalformedCbor, "truncated"),
    ("1b0000", MalformedCbor, "truncated"),
]


@pytest.mark.parametrize(("hex_data", "error_class", "message"), REJECTED)
def test_rejections_name_the_problem(
    hex_data: str, error_class: type[DecodeError], message: str
) -> None:
    with pytest.raises(error_class) as caught:
        decode_value(bytes.fromhex(hex_data))
    assert message in caught.value.message
    assert type(caught.value) is error_class


@pytest.mark.parametrize(
    "hex_data",
    [
        "5bffffffffffffffff",
        "7b7fffffffffffffff",
        "9bffffffffffffffff",
        "bbffffffffffffffff",
        "9a10000000",
        "5a7fffffff00",
        "ba7fffffff01",
    ],
)
def test_huge_declared_lengths_are_rejected_without_allocating(hex_data: str) -> None:
    # A decoder that pre-allocated would need exabytes here and fail with MemoryError.
    with pytest.raises(MalformedCbor, match="truncated"):
        decode_value(bytes.fromhex(hex_data))


def test_nesting_is_bounded() -> None:
    deepest_allowed = b"\x81" * VALUE_DEPTH_MAX + b"\x00"
    assert decode_value(deepest_allowed) is not None
    with pytest.raises(NestingTooDeep):
        decode_value(b"\x81" * (VALUE_DEPTH_MAX + 1) + b"\x00")
    with pytest.raises(NestingTooDeep):
        decode_value(b"\x81" * 100_000 + b"\x00")
    with pytest.raises(InvalidValue, match="nested deeper"):
        encode_value(_nested_list(VALUE_DEPTH_MAX + 1))


def _nested_list(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


def test_size_limit() -> None:
    data = encode_value(b"x" * 100)
    assert decode_value(data, max_size=len(data)) == b"x" * 100
    with pytest.raises(EncodingTooLarge, match="102 bytes exceeds the limit of 101 bytes"):
        decode_value(data, max_size=101)


def test_input_must_be_bytes() -> None:
    with pytest.raises(MalformedCbor, match="expected bytes"):
        decode_value("a0")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "float is not allowed"),
        (2**64, "outside [-2**64, 2**64-1]"),
        (-(2**64) - 1, "outside"),
        (10**5000, "<16610-bit integer>"),
        ({1: 2}, "map key 1 is not a text string"),
        ({"a": [1, {"b": 1.0}]}, "value['a'][1]['b']: float"),
        ("\ud800", "lone surrogate"),
        ({"\ud800": 1}, "lone surrogate"),
        (object(), "object is not allowed"),
        ({1, 2}, "set is not allowed"),
    ],
    ids=lambda item: type(item).__name__ if not isinstance(item, str) else item[:20],
)
def test_encoding_refuses_values_outside_the_subset(value: object, message: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        encode_value(value)
    assert message in caught.value.message


def test_frozen_values_are_immutable_and_hashable() -> None:
    value = decode_value(encode_value({"b": [1, 2], "a": {"x": b""}}))
    assert isinstance(value, frozendict)
    assert value == {"a": {"x": b""}, "b": (1, 2)}
    assert list(value) == ["a", "b"]
    assert hash(value) == hash(freeze_value({"a": {"x": b""}, "b": [1, 2]}))


# ---------------------------------------------------------------------------------------------
# Mutations: rejected cleanly, or accepted and re-encoding to exactly the input


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(encode_value(draw(VALUES)))
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if operation == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "set" and data:
            data[position] = draw(st.integers(0, 255))
        elif operation == "insert":
            data.insert(position, draw(st.integers(0, 255)))
        elif operation == "delete" and data:
            del data[position]
        elif operation == "truncate":
            del data[position:]
    return bytes(data)


@settings(max_examples=1500)
@given(_mutated())
def test_mutated_bytes_are_rejected_or_exactly_canonical(data: bytes) -> None:
    try:
        value = decode_value(data)
    except GongshiError as error:
        assert isinstance(error, DecodeError)
        # The independent walker finds a problem whenever the decoder rejects, unless the
        # rejection is about the value (an out-of-subset item the walker also reports).
        assert find_problem(data, "value", VALUE_DEPTH_MAX) is not None
        return
    assert encode_value(value) == data
    assert find_problem(data, "value", VALUE_DEPTH_MAX) is None


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_random_bytes_are_rejected_or_exactly_canonical(data: bytes) -> None:
    try:
        value = decode_value(data)
    except DecodeError:
        assert find_problem(data, "value", VALUE_DEPTH_MAX) is not None
        return
    assert encode_value(value) == data


@given(st.binary(max_size=9000), st.binary(max_size=9000))
def test_first_difference(left: bytes, right: bytes) -> None:
    offset = first_difference(left, right)
    assert left[:offset] == right[:offset]
    assert offset == min(len(left), len(right)) or left[offset] != right[offset]


def test_huge_rejected_inputs_are_not_walked() -> None:
    # Past EXPLAIN_BYTES_MAX the message is the parser's, not a walk of the whole input.
    data = b"\x5a" + (EXPLAIN_BYTES_MAX + 1).to_bytes(4, "big") + bytes(EXPLAIN_BYTES_MAX + 1)
    assert decode_value(data, max_size=len(data) + 1) == bytes(EXPLAIN_BYTES_MAX + 1)
    with pytest.raises(MalformedCbor, match="not well-formed CBOR"):
        decode_value(data[:-1], max_size=len(data))
    with pytest.raises(NonCanonicalEncoding, match="first difference at offset 0"):
        decode_value(b"\x5b" + len(data[5:]).to_bytes(8, "big") + data[5:], max_size=len(data) + 9)


@pytest.mark.parametrize("tag", [*range(0, 300), 1004, 1040, 55799, 65535, 2**32])
def test_the_parser_refuses_every_tag_itself(tag: int) -> None:
    # The refusal must come from our hooks, before cbor2 builds a date, regex, set... from it.
    for content in (0, "2013-03-21T20:04:00Z", b"\x01\x02\x03\x04", [1, 2], {"a": 1}):
        with pytest.raises(cbor2.CBORDecodeError) as caught:
            cbor2.loads(
                cbor2.dumps(cbor2.CBORTag(tag, content)),
                tag_hook=_reject_tag,
                semantic_decoders=_REJECT_SEMANTIC_TAGS,
            )
        causes = [caught.value.__cause__, caught.value.__context__]
        assert any(isinstance(cause, UnsupportedCborItem) for cause in causes), (tag, content)
