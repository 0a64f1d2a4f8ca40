"""Hashing of canonical encodings with a caller-given suite or hash function (nothing global)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from gongshi.codec.limits import HASH_SIZE
from gongshi.crypto.suite import Suite
from gongshi.errors import InvariantViolation

# A crypto suite (its `hash`), or any function from bytes to a 32-byte digest, e.g.
# `lambda data: hashlib.sha256(data).digest()`.
Hasher: TypeAlias = Suite | Callable[[bytes], bytes]


def digest(hasher: Hasher, data: bytes) -> bytes:
    """Hash `data` with `hasher`; the result is always HASH_SIZE bytes."""
    result = hasher.hash(data) if isinstance(hasher, Suite) else hasher(data)
    if type(result) is not bytes or len(result) != HASH_SIZE:
        raise InvariantViolation(
            f"hash function returned {type(result).__name__} of "
            f"{len(result)} bytes, expected {HASH_SIZE} bytes"
        )
    return result
