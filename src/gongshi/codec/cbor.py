"""Deterministic CBOR (RFC 8949 §4.2.1) over a small subset of values, through `cbor2`.

The subset: `None`, `bool`, `int` in CBOR's native range [-2**64, 2**64-1], `str`, `bytes`,
arrays (held as `tuple`) and maps with text keys (held as an immutable `frozendict` whose keys
are kept in canonical order). No floats, tags, simple values or `undefined`.

Encoding: `cbor2` always writes shortest-form integers and lengths and definite lengths; we put
map keys in bytewise order of their encodings ourselves (for text keys that is shorter first,
then bytewise) and let `cbor2` write them in that order. `cbor2`'s own `canonical=True` sorts
keys length-first (the older RFC 7049 rule), which differs from RFC 8949 only for mixed key
types, which the subset excludes; it is also about four times slower.

Decoding is strict by re-encoding: an input is accepted only if it decodes to a value of the
subset whose encoding is exactly the input. `gongshi.codec.diagnose` explains rejections.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NoReturn, TypeAlias

import cbor2
from cbor2 import frozendict

from gongshi.codec.diagnose import explain_mismatch, explain_rejection
from gongshi.codec.errors import (
    EncodingTooLarge,
    InvalidValue,
    MalformedCbor,
    NestingTooDeep,
    UnsupportedCborItem,
)
from gongshi.codec.limits import (
    CBOR_INT_MAX,
    CBOR_INT_MIN,
    DECODE_DEPTH_MAX,
    VALUE_BYTES_MAX,
    VALUE_DEPTH_MAX,
)

CborValue: TypeAlias = (
    bool | int | str | bytes | tuple["CborValue", ...] | Mapping[str, "CborValue"] | None
)

__all__ = [
    "CborValue",
    "ValueProblem",
    "decode_value",
    "encode_value",
    "freeze_value",
    "frozendict",
    "load_item",
    "map_key_order",
    "show",
]


class ValueProblem(Exception):
    """Internal: a value outside the subset; `where` is a path suffix like `[2].amount`.

    Callers turn it into the public error of their context; it never leaves the codec.
    """

    def __init__(self, where: str, problem: str, *, too_deep: bool = False) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem
        self.too_deep = too_deep

    def inside(self, step: str) -> ValueProblem:
        """The same problem seen from the enclosing container (`step` is `[3]` or `['k']`)."""
        return ValueProblem(step + self.where, self.problem, too_deep=self.too_deep)


_WIRE_NAMES = {
    "tuple": "array",
    "list": "array",
    "frozendict": "map",
    "dict": "map",
    "NoneType": "null",
    "str": "text",
    "CBORSimpleValue": "simple value",
    "UndefinedType": "undefined",
}


def describe(value: object) -> str:
    """How a value's type is named in messages: its CBOR name where there is one."""
    name = type(value).__name__
    return _WIRE_NAMES.get(name, name)


def show(value: object) -> str:
    """A value for a message, kept short: huge integers by size (their str() is slow, and
    refused past 4300 digits), long texts and byte strings cut."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"{'-' if value < 0 else ''}<{value.bit_length()}-bit integer>"
    if isinstance(value, str | bytes) and len(value) > 80:
        return repr(value[:80]) + "..."
    if isinstance(value, int | str | bytes | bool) or value is None:
        return repr(value)
    return describe(value)


def map_key_order(key: str) -> tuple[int, str]:
    """Sort key putting text map keys in bytewise order of their CBOR encodings.

    Encodings of text keys order shorter first (the head grows with the length), then by the
    UTF-8 bytes, and UTF-8 byte order is code point order, which is how `str` compares.
    """
    return (len(key) if key.isascii() else len(key.encode("utf-8")), key)


def check_text(value: str) -> int:
    """Length of `value` in UTF-8 bytes; ValueProblem if it cannot be UTF-8 (surrogates)."""
    if value.isascii():
        return len(value)
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueProblem("", "text is not valid Unicode (lone surrogate)") from None


def freeze_value(value: object, depth_max: int = VALUE_DEPTH_MAX) -> CborValue:
    """Check `value` is in the subset and return it deeply immutable with maps in key order.

    Lists become tuples and mappings become `frozendict`s; a value that is already frozen and
    ordered is returned as is (the common case for decoded input). Raises ValueProblem.
    """
    return _freeze(value, 0, depth_max)


def _freeze(value: object, depth: int, depth_max: int) -> CborValue:
    kind = type(value)
    if kind is int:
        if CBOR_INT_MIN <= value <= CBOR_INT_MAX:  # type: ignore[operator]
            return value  # type: ignore[return-value]
        raise ValueProblem("", f"integer {show(value)} is outside [-2**64, 2**64-1]")
    if kind is str:
        check_text(value)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    if kind is bytes or kind is bool or value is None:
        return value  # type: ignore[return-value]
    if kind is tuple or kind is list:
        return _freeze_array(value, depth, depth_max)  # type: ignore[arg-type]
    if kind is frozendict or kind is dict or isinstance(value, Mapping):
        return _freeze_map(value, depth, depth_max)  # type: ignore[arg-type]
    if isinstance(value, int) and not isinstance(value, bool):
        return _freeze(int(value), depth, depth_max)  # an IntEnum, say
    raise ValueProblem(
        "",
        f"{describe(value)} is not allowed (only null, bool, int, text, bytes, arrays and maps "
        "with text keys)",
    )


def _too_deep(depth_max: int) -> ValueProblem:
    return ValueProblem("", f"nested deeper than {depth_max} arrays/maps", too_deep=True)


def _freeze_array(
    items: tuple[object, ...] | list[object], depth: int, depth_max: int
) -> tuple[CborValue, ...]:
    if depth >= depth_max:
        raise _too_deep(depth_max)
    frozen: list[CborValue] = []
    try:
        for item in items:
            frozen.append(_freeze(item, depth + 1, depth_max))
    except ValueProblem as problem:
        raise problem.inside(f"[{len(frozen)}]") from None
    if type(items) is tuple and all(new is old for new, old in zip(frozen, items, strict=True)):
        return items  # type: ignore[return-value]
    return tuple(frozen)


def _freeze_map(
    mapping: Mapping[object, object], depth: int, depth_max: int
) -> Mapping[str, CborValue]:
    if depth >= depth_max:
        raise _too_deep(depth_max)
    changed = type(mapping) is not frozendict
    previous: tuple[int, str] | None = None
    entries: list[tuple[tuple[int, str], str, CborValue]] = []
    for key, item in mapping.items():
        if type(key) is not str:
            raise ValueProblem("", f"map key {show(key)} is not a text string")
        try:
            check_text(key)
            new = _freeze(item, depth + 1, depth_max)
        except ValueProblem as problem:
            raise problem.inside(f"[{key[:80]!r}]") from None
        order = map_key_order(key)
        changed = changed or new is not item or (previous is not None and order < previous)
        previous = order
        entries.append((order, key, new))
    if not changed:
        return mapping  # type: ignore[return-value]
    entries.sort(key=lambda entry: entry[0])
    return frozendict({key: new for _, key, new in entries})


def encode_value(value: object) -> bytes:
    """The deterministic encoding of a subset value; InvalidValue if it is outside the subset."""
    try:
        frozen = freeze_value(value)
    except ValueProblem as problem:
        raise InvalidValue(f"value{problem.where}: {problem.problem}") from None
    return cbor2.dumps(frozen)


def decode_value(data: bytes, *, max_size: int = VALUE_BYTES_MAX) -> CborValue:
    """Decode one canonical subset value; DecodeError / EncodingTooLarge otherwise."""
    raw = load_item(data, what="value", size_max=max_size)
    try:
        value = freeze_value(raw)
    except ValueProblem as problem:
        error = NestingTooDeep if problem.too_deep else UnsupportedCborItem
        raise error(f"value{problem.where}: {problem.problem}") from None
    canonical = cbor2.dumps(value)
    if canonical != data:
        raise explain_mismatch(bytes(data), "value", canonical)
    return value


def load_item(data: bytes, *, what: str, size_max: int) -> object:
    """Parse one CBOR item with `cbor2` (immutable containers), bounded in size and depth.

    Only well-formedness is checked here; canonical form is the caller's re-encoding check.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedCbor(f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) > size_max:
        raise EncodingTooLarge(len(data), size_max, what)
    try:
        return cbor2.loads(
            data,
            immutable=True,
            allow_indefinite=False,
            max_depth=DECODE_DEPTH_MAX,
            tag_hook=_reject_tag,
            semantic_decoders=_REJECT_SEMANTIC_TAGS,
        )
    except Exception as exc:  # the parser's failure on input, whatever its type, is bad input
        raise explain_rejection(bytes(data), what, exc) from None


def _reject_tag(_tag: object, _immutable: bool) -> NoReturn:
    raise UnsupportedCborItem("tags are not allowed")


def _reject_semantic(_value: object, _immutable: bool) -> NoReturn:
    raise UnsupportedCborItem("tags are not allowed")


# Tags `cbor2` 6 decodes itself (dates, bignums, decimals, shared and string references, regular
# expressions, MIME, UUIDs, IP addresses, sets...), with room to spare; any other tag reaches
# `_reject_tag`. Every tag is outside the subset and the re-encoding check would reject it
# anyway, but refusing in the parser avoids building those objects from hostile input at all
# (compiling a 100 KB tag-35 regular expression takes 0.2 s).
_REJECT_SEMANTIC_TAGS: Mapping[int, Callable[[object, bool], NoReturn]] = frozendict(
    {
        tag: _reject_semantic
        for tag in (*range(0, 64), 100, 256, 258, 260, 261, 262, 263, 270, 1004, 1040, 55799)
    }
)
