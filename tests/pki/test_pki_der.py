"""The strict DER subset of the identity extensions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.pki import der
from gongshi.pki.errors import BadIdentityExtension


@given(st.text(max_size=300))
def test_utf8_string_round_trip(text: str) -> None:
    encoded = der.encode_utf8_string(text)
    if len(encoded) > der.VALUE_SIZE_MAX:
        with pytest.raises(BadIdentityExtension, match="larger than"):
            der.decode_utf8_string(encoded, "value")
    else:
        assert der.decode_utf8_string(encoded, "value") == text


@given(st.lists(st.binary(max_size=200), max_size=4))
def test_sequence_splits_into_its_elements(parts: list[bytes]) -> None:
    elements = [der.encode(der.TAG_OCTET_STRING, part) for part in parts]
    content = der.decode_single(der.encode_sequence(*elements), der.TAG_SEQUENCE, "sequence")
    assert der.split_elements(content) == [(der.TAG_OCTET_STRING, part) for part in parts]


@pytest.mark.parametrize(
    ("length", "header"),
    [(0, b"\x04\x00"), (127, b"\x04\x7f"), (128, b"\x04\x81\x80"), (300, b"\x04\x82\x01\x2c")],
)
def test_lengths_are_minimal(length: int, header: bytes) -> None:
    assert der.encode(der.TAG_OCTET_STRING, bytes(length)).startswith(header)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x04", "no length"),
        (b"\x04\x80", "indefinite"),
        (b"\x04\x83\x00\x00\x01\x00", "indefinite or too large"),
        (b"\x04\x81\x05abcde", "not minimally encoded"),
        (b"\x04\x82\x00\x80" + bytes(128), "not minimally encoded"),
        (b"\x04\x82\x01", "truncated"),
        (b"\x04\x05abc", "truncated"),
        (b"\x04\x01a\x04\x01b", "not a single DER value"),
        (b"", "not a single DER value"),
    ],
)
def test_malformed_encodings_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(BadIdentityExtension, match=message):
        der.decode_single(data, der.TAG_OCTET_STRING, "value")


@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_raise_a_raw_exception(data: bytes) -> None:
    try:
        content = der.decode_single(data, der.TAG_OCTET_STRING, "value")
    except BadIdentityExtension:
        return
    assert der.encode(der.TAG_OCTET_STRING, content) == data  # only the one encoding decodes
