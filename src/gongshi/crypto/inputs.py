"""Input checks shared by the suites."""

from __future__ import annotations

from gongshi.crypto.errors import InvalidAeadKey, InvalidNonce, InvalidSeed

MIN_SEED_SIZE = 32


def as_bytes(value: bytes | bytearray | memoryview, what: str) -> bytes:
    """`value` as bytes; TypeError for anything else (bytes(5) would silently be 5 zeros)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, not {type(value).__name__}")


def require_aead_key(key: bytes, size: int, algorithm: str) -> None:
    if not isinstance(key, bytes | bytearray | memoryview) or len(key) != size:
        raise InvalidAeadKey(f"{algorithm} key must be {size} bytes")


def require_nonce(nonce: bytes, size: int, algorithm: str) -> None:
    if not isinstance(nonce, bytes | bytearray | memoryview) or len(nonce) != size:
        raise InvalidNonce(f"{algorithm} nonce must be {size} bytes")


def require_seed(seed: bytes) -> None:
    if not isinstance(seed, bytes) or len(seed) < MIN_SEED_SIZE:
        raise InvalidSeed(f"key derivation seed must be at least {MIN_SEED_SIZE} bytes")
