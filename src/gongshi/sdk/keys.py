"""State keys as the ledger builds them, so the SDK can check a state proof for the key it
asked about (without importing the storage package)."""

from __future__ import annotations

from gongshi.errors import ValidationError

NAMESPACE_BYTES_MAX = 255


def state_key(namespace: str, key: bytes) -> bytes:
    """The raw state key the state tree hashes: `u8 len(namespace) || namespace || key`
    (the same as `gongshi.storage.schema.state_key`; a test checks they agree)."""
    encoded = namespace.encode("utf-8")
    if not 1 <= len(encoded) <= NAMESPACE_BYTES_MAX:
        raise ValidationError(f"a namespace is 1..{NAMESPACE_BYTES_MAX} bytes of UTF-8")
    return bytes((len(encoded),)) + encoded + key
