"""The C1 || C3 || C2 <-> GM/T 0009 DER conversion around Tongsuo's SM2 encryption."""

from __future__ import annotations

import pytest
from cryptography.hazmat import asn1
from hypothesis import given
from hypothesis import strategies as st

from gongshi.crypto.errors import MalformedCiphertext
from gongshi.crypto.sm2_encryption import Sm2CiphertextDer, der_to_raw, raw_to_der

coordinate = st.one_of(
    st.integers(0, 2**256 - 1),
    st.integers(0, 2**64),  # leading zero bytes: DER INTEGERs are shorter than 32 bytes
    st.integers(2**255, 2**256 - 1),  # high bit set: DER adds a 00 byte
)


@given(
    x=coordinate,
    y=coordinate,
    c3=st.binary(min_size=32, max_size=32),
    c2=st.binary(min_size=1, max_size=64),
)
def test_raw_der_round_trip(x: int, y: int, c3: bytes, c2: bytes) -> None:
    raw = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big") + c3 + c2
    der = raw_to_der(raw)
    assert der[0] == 0x30
    decoded = asn1.decode_der(Sm2CiphertextDer, der)
    assert (decoded.x, decoded.y, decoded.hash, decoded.ciphertext) == (x, y, c3, c2)
    assert der_to_raw(der) == raw


def test_raw_layout_errors() -> None:
    with pytest.raises(MalformedCiphertext):
        raw_to_der(b"\x04" + bytes(96))  # no C2
    with pytest.raises(MalformedCiphertext):
        raw_to_der(b"\x02" + bytes(100))


def test_der_errors() -> None:
    good = raw_to_der(b"\x04" + bytes(64) + bytes(32) + b"m")
    for bad in (good + b"\x00", good[:-1], b"", b"\x30\x00"):
        with pytest.raises(MalformedCiphertext):
            der_to_raw(bad)
    short_hash = asn1.encode_der(Sm2CiphertextDer(x=1, y=2, hash=bytes(31), ciphertext=b"m"))
    with pytest.raises(MalformedCiphertext, match="C3"):
        der_to_raw(short_hash)
    huge = asn1.encode_der(Sm2CiphertextDer(x=2**256, y=2, hash=bytes(32), ciphertext=b"m"))
    with pytest.raises(MalformedCiphertext, match="range"):
        der_to_raw(huge)
    negative = asn1.encode_der(Sm2CiphertextDer(x=-1, y=2, hash=bytes(32), ciphertext=b"m"))
    with pytest.raises(MalformedCiphertext, match="range"):
        der_to_raw(negative)
