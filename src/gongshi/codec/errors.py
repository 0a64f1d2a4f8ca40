"""Errors of the canonical codec (codes 1110-1149).

`decode` raises only `DecodeError` subclasses (the bytes are not a canonical encoding of the
expected type) or `EncodingTooLarge` (the input is over the size limit); constructing a record
with a bad value raises `InvalidField`. All are `ValidationError`s: bad input, never a bug.
"""

from __future__ import annotations

from gongshi.errors import DecodeError, SizeLimitExceeded, ValidationError


class MalformedCbor(DecodeError):
    """Raised when bytes are not well-formed CBOR (truncated, bad UTF-8, reserved values)."""

    code = 1110


class NonCanonicalEncoding(DecodeError):
    """Raised when well-formed CBOR is not the deterministic encoding of the value it holds."""

    code = 1111


class TrailingBytes(NonCanonicalEncoding):
    """Raised when bytes remain after the one encoded data item."""

    code = 1112


class DuplicateMapKey(NonCanonicalEncoding):
    """Raised when a CBOR map holds the same key twice."""

    code = 1113


class UnsupportedCborItem(DecodeError):
    """Raised when CBOR holds an item outside the deterministic subset (float, tag, simple)."""

    code = 1114


class NestingTooDeep(DecodeError):
    """Raised when arrays and maps are nested deeper than the limit."""

    code = 1115


class UnknownField(DecodeError):
    """Raised when an encoded record has a key that is not one of its fields."""

    code = 1116


class MissingField(DecodeError):
    """Raised when an encoded record lacks a required field."""

    code = 1117


class InvalidEncodedField(DecodeError):
    """Raised when an encoded record's field has the wrong type or an out-of-range value."""

    code = 1118

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class InvalidField(ValidationError):
    """Raised when a record is constructed with a field of the wrong type or value."""

    code = 1119

    def __init__(self, record: str, field: str, problem: str) -> None:
        super().__init__(f"{record}.{field}: {problem}")
        self.record = record
        self.field = field
        self.problem = problem


class InvalidValue(ValidationError):
    """Raised when a value given to `encode_value` is outside the deterministic CBOR subset."""

    code = 1120


class EncodingTooLarge(SizeLimitExceeded):
    """Raised when an input to decode is longer than the configured maximum size."""

    code = 1121

    def __init__(self, size: int, size_max: int, what: str) -> None:
        super().__init__(f"{what}: {size} bytes exceeds the limit of {size_max} bytes")
        self.size = size
        self.size_max = size_max
