"""Explain why bytes are not deterministic CBOR of the subset: the first problem, by offset.

A small walker over CBOR item heads (RFC 8949 §3), written independently of `cbor2`. It runs
only after an input has been rejected (by the parser or by the re-encoding check), to turn the
rejection into a precise error; the accept/reject decision never depends on it. Tests check
that it agrees with the decoder on mutated inputs, which cross-checks both.

It allocates nothing in proportion to declared lengths: a string or container that claims more
bytes than remain is reported as truncated before anything is read.
"""

from __future__ import annotations

from gongshi.codec.errors import (
    DuplicateMapKey,
    MalformedCbor,
    NestingTooDeep,
    NonCanonicalEncoding,
    TrailingBytes,
    UnsupportedCborItem,
)
from gongshi.codec.limits import DECODE_DEPTH_MAX
from gongshi.errors import DecodeError

# The walker is plain Python: past this size a rejection keeps the parser's message rather
# than spend time proportional to a huge input on explaining it.
EXPLAIN_BYTES_MAX = 1024 * 1024

_MAJOR_NAMES = (
    "unsigned integer",
    "negative integer",
    "byte string length",
    "text string length",
    "array length",
    "map length",
    "tag number",
    "simple value",
)
# The smallest argument that needs 1, 2, 4 or 8 bytes after the initial byte.
_SHORTEST_FLOOR = {24: 24, 25: 1 << 8, 26: 1 << 16, 27: 1 << 32}


class _Found(Exception):
    def __init__(self, error: DecodeError) -> None:
        super().__init__(error.message)
        self.error = error


def find_problem(data: bytes, what: str, depth_max: int = DECODE_DEPTH_MAX) -> DecodeError | None:
    """The first reason `data` is not one deterministic CBOR item of the subset, or None."""
    walker = _Walker(data, what, depth_max)
    try:
        end = walker.item(0, 0)
    except _Found as found:
        return found.error
    if end != len(data):
        return TrailingBytes(
            f"{what}: {len(data) - end} trailing bytes after the item, at offset {end}"
        )
    return None


def explain_rejection(data: bytes, what: str, parser_error: Exception) -> DecodeError:
    """The error to raise when the CBOR parser refused `data`."""
    problem = find_problem(data, what) if len(data) <= EXPLAIN_BYTES_MAX else None
    if problem is not None:
        return problem
    return MalformedCbor(f"{what}: not well-formed CBOR ({parser_error})")


def explain_mismatch(data: bytes, what: str, canonical: bytes | None = None) -> DecodeError:
    """The error to raise when `data` parsed but does not re-encode to itself."""
    problem = find_problem(data, what) if len(data) <= EXPLAIN_BYTES_MAX else None
    if problem is not None:
        return problem
    where = ""
    if canonical is not None:
        where = f" (first difference at offset {first_difference(data, canonical)})"
    return NonCanonicalEncoding(f"{what}: not the canonical encoding{where}")


def first_difference(left: bytes, right: bytes) -> int:
    """Offset of the first byte where `left` and `right` differ (or the shorter length)."""
    size = min(len(left), len(right))
    chunk = 4096
    start = 0
    # Compare whole chunks at C speed; only the differing chunk is scanned byte by byte.
    while start < size and left[start : start + chunk] == right[start : start + chunk]:
        start += chunk
    end = min(start + chunk, size)
    return next((i for i in range(start, end) if left[i] != right[i]), end)


class _Walker:
    def __init__(self, data: bytes, what: str, depth_max: int) -> None:
        self.data = data
        self.what = what
        self.depth_max = depth_max

    def fail(self, error_class: type[DecodeError], message: str) -> _Found:
        return _Found(error_class(f"{self.what}: {message}"))

    def item(self, pos: int, depth: int) -> int:
        """Check the item starting at `pos`; return the offset just after it."""
        data = self.data
        if pos >= len(data):
            raise self.fail(MalformedCbor, f"truncated: an item is missing at offset {pos}")
        major, info = data[pos] >> 5, data[pos] & 0x1F
        if major == 7:
            return self.simple(pos, info)
        if info == 31:
            if major in (2, 3, 4, 5):
                raise self.fail(
                    NonCanonicalEncoding, f"indefinite-length item at offset {pos} is not allowed"
                )
            raise self.fail(
                MalformedCbor, f"reserved indefinite {_MAJOR_NAMES[major]} at offset {pos}"
            )
        argument, after = self.argument(pos, major, info)
        if major in (0, 1):
            return after
        if major == 6:
            raise self.fail(
                UnsupportedCborItem, f"tag {argument} at offset {pos}: tags are not allowed"
            )
        if major in (2, 3):
            return self.string(pos, major, argument, after)
        if depth >= self.depth_max:
            raise self.fail(
                NestingTooDeep, f"arrays/maps nested deeper than {self.depth_max} at offset {pos}"
            )
        if major == 4:
            return self.array(argument, after, depth)
        return self.map(argument, after, depth)

    def argument(self, pos: int, major: int, info: int) -> tuple[int, int]:
        if info < 24:
            return info, pos + 1
        if info > 27:
            raise self.fail(
                MalformedCbor, f"reserved additional information {info} at offset {pos}"
            )
        size = 1 << (info - 24)
        end = pos + 1 + size
        if end > len(self.data):
            raise self.fail(MalformedCbor, f"truncated: head at offset {pos} needs {size} bytes")
        argument = int.from_bytes(self.data[pos + 1 : end], "big")
        if argument < _SHORTEST_FLOOR[info]:
            raise self.fail(
                NonCanonicalEncoding,
                f"{_MAJOR_NAMES[major]} {argument} at offset {pos} is not in shortest form",
            )
        return argument, end

    def string(self, pos: int, major: int, length: int, after: int) -> int:
        end = after + length
        if end > len(self.data):
            raise self.fail(
                MalformedCbor,
                f"truncated: string at offset {pos} declares "
                f"{length} bytes, {len(self.data) - after} remain",
            )
        if major == 3:
            try:
                self.data[after:end].decode("utf-8")
            except UnicodeDecodeError:
                raise self.fail(
                    MalformedCbor, f"text string at offset {pos} is not valid UTF-8"
                ) from None
        return end

    def array(self, count: int, pos: int, depth: int) -> int:
        if count > len(self.data) - pos:  # every item takes at least one byte
            raise self.fail(
                MalformedCbor,
                f"truncated: array declares {count} items, {len(self.data) - pos} bytes remain",
            )
        for _ in range(count):
            pos = self.item(pos, depth + 1)
        return pos

    def map(self, count: int, pos: int, depth: int) -> int:
        if count > (len(self.data) - pos) // 2:
            raise self.fail(
                MalformedCbor,
                f"truncated: map declares {count} entries, {len(self.data) - pos} bytes remain",
            )
        previous = b""
        for index in range(count):
            key_start = pos
            if pos < len(self.data) and self.data[pos] >> 5 != 3:
                raise self.fail(
                    UnsupportedCborItem, f"map key at offset {pos} is not a text string"
                )
            pos = self.item(pos, depth + 1)
            key = self.data[key_start:pos]
            if index > 0 and key == previous:
                raise self.fail(
                    DuplicateMapKey, f"duplicate map key {_show_key(key)} at offset {key_start}"
                )
            if index > 0 and key < previous:
                raise self.fail(
                    NonCanonicalEncoding,
                    f"map keys out of order at offset "
                    f"{key_start}: {_show_key(key)} after "
                    f"{_show_key(previous)}",
                )
            previous = key
            pos = self.item(pos, depth + 1)
        return pos

    def simple(self, pos: int, info: int) -> int:
        if info in (20, 21, 22):  # false, true, null
            return pos + 1
        if info == 23:
            raise self.fail(UnsupportedCborItem, f"undefined at offset {pos} is not allowed")
        if info in (25, 26, 27):
            raise self.fail(UnsupportedCborItem, f"float at offset {pos}: floats are not allowed")
        if info == 31:
            raise self.fail(MalformedCbor, f"unexpected break at offset {pos}")
        if info > 27:
            raise self.fail(MalformedCbor, f"reserved simple value encoding at offset {pos}")
        if info == 24:
            if pos + 1 >= len(self.data):
                raise self.fail(MalformedCbor, f"truncated: simple value at offset {pos}")
            if self.data[pos + 1] < 32:
                raise self.fail(
                    MalformedCbor, f"simple value at offset {pos} is not in shortest form"
                )
        raise self.fail(UnsupportedCborItem, f"simple value at offset {pos} is not allowed")


def _show_key(encoded_key: bytes) -> str:
    """A text key for a message: its UTF-8 content after the head (at most 9 bytes)."""
    info = encoded_key[0] & 0x1F
    head = 1 if info < 24 else 1 + (1 << (info - 24))
    return repr(encoded_key[head:].decode("utf-8", errors="replace")[:80])
