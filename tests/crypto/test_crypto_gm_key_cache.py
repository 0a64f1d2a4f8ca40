"""The gm suite's cache of parsed public keys: parse once, bounded, never a verdict cache."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gongshi.crypto import gm
from gongshi.crypto.gm import GmSuite
from gongshi.errors import InvalidKey

MESSAGE = b"transfer 10 to bob"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every public key the suite parses (a suite built after this fixture counts them)."""
    seen: list[bytes] = []
    original: Callable[[bytes], object] = gm._load_public_key

    def counting(public_key: bytes) -> object:
        seen.append(public_key)
        return original(public_key)

    monkeypatch.setattr(gm, "_load_public_key", counting)
    return seen


def keys(count: int) -> list[gm.GmPrivateKey]:
    return [gm.GM.derive_private_key(bytes([index + 1]) * 32) for index in range(count)]


def test_a_repeated_sender_key_is_parsed_once(parses: list[bytes]) -> None:
    suite = GmSuite()
    (key,) = keys(1)
    signature = key.sign(MESSAGE)
    for _ in range(5):
        assert suite.verify(key.public_key_bytes(), MESSAGE, signature)
    assert parses == [key.public_key_bytes()]


def test_the_cache_is_bounded_and_evicts_the_least_recently_used(parses: list[bytes]) -> None:
    suite = GmSuite(public_key_cache_size=2)
    first, second, third = (key.public_key_bytes() for key in keys(3))
    for public_key in (first, second, first, third):  # third evicts second, not first
        suite.validate_public_key(public_key)
    assert parses == [first, second, third]
    suite.validate_public_key(first)
    assert len(parses) == 3
    suite.validate_public_key(second)
    assert parses[3:] == [second]


def test_a_cached_key_still_checks_every_signature(parses: list[bytes]) -> None:
    suite = GmSuite()
    signer, other = keys(2)
    public_key = signer.public_key_bytes()
    signature = signer.sign(MESSAGE)
    assert suite.verify(public_key, MESSAGE, signature)
    assert not suite.verify(public_key, MESSAGE + b"!", signature)
    assert not suite.verify(public_key, MESSAGE, other.sign(MESSAGE))
    assert not suite.verify(other.public_key_bytes(), MESSAGE, signature)
    assert suite.verify(public_key, MESSAGE, signature)


def test_invalid_keys_are_refused_every_time_and_never_cached(parses: list[bytes]) -> None:
    suite = GmSuite()
    (key,) = keys(1)
    off_curve = key.public_key_bytes()[:-1] + bytes([key.public_key_bytes()[-1] ^ 1])
    signature = key.sign(MESSAGE)
    for _ in range(2):
        with pytest.raises(InvalidKey):
            suite.validate_public_key(off_curve)
        assert not suite.verify(off_curve, MESSAGE, signature)
    assert parses == [off_curve] * 4


def test_keys_that_are_not_exact_bytes_bypass_the_cache() -> None:
    suite = GmSuite()
    (key,) = keys(1)
    signature = key.sign(MESSAGE)
    mutable = bytearray(key.public_key_bytes())
    assert not suite.verify(mutable, MESSAGE, signature)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        suite.validate_public_key(mutable)  # type: ignore[arg-type]
