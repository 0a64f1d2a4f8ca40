"""Field kinds: the declared type and validation of one record field.

A record field is annotated `Annotated[<python type>, <kind>]`. The kind checks a value given
to the constructor (`check`, which may normalise it: an IntEnum to int, a list to a tuple),
turns a decoded CBOR item into a constructor argument (`from_wire`: only nested records and
arrays of them need work) and a field value into a CBOR item (`to_wire`). Checks raise
`ValueProblem`; the record turns it into an error naming the record and field.
"""

from __future__ import annotations

import enum
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gongshi.codec.cbor import ValueProblem, check_text, describe, freeze_value, show
from gongshi.codec.errors import InvalidEncodedField
from gongshi.codec.limits import VALUE_DEPTH_MAX

if TYPE_CHECKING:
    from gongshi.codec.record import Record


class Kind(ABC):
    """The type and validation of a record field."""

    # True when `to_wire` and `from_wire` are the identity: records skip calling them.
    plain: bool = True

    @property
    @abstractmethod
    def description(self) -> str:
        """The type as SPEC.md's Type column states it, e.g. `uint64`, `bytes[32]`."""

    @abstractmethod
    def check(self, value: object) -> object:
        """Validate a constructor argument; return it, normalised. Raises ValueProblem."""

    def to_wire(self, value: object) -> object:
        return value

    def from_wire(self, raw: object, path: str) -> object:
        return raw


class UInt(Kind):
    """A non-negative integer up to `maximum` (default 2**64-1)."""

    def __init__(self, maximum: int = 2**64 - 1) -> None:
        self.maximum = maximum

    @property
    def description(self) -> str:
        return "uint64" if self.maximum == 2**64 - 1 else f"uint ≤ {self.maximum}"

    def check(self, value: object) -> object:
        if type(value) is int and 0 <= value <= self.maximum:
            return value
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueProblem("", f"expected an integer, got {describe(value)}")
        if not 0 <= value <= self.maximum:
            raise ValueProblem("", f"{show(value)} is outside 0..{self.maximum}")
        return int(value)  # an IntEnum member, say


class Bytes(Kind):
    """A byte string whose length is one of `sizes`, or within `size_min..size_max`."""

    def __init__(
        self, *, sizes: tuple[int, ...] = (), size_min: int = 0, size_max: int = 0
    ) -> None:
        assert sizes or size_max > 0, "give sizes or a size_max"
        self.sizes = sizes
        self.size_min = size_min
        self.size_max = size_max

    @property
    def description(self) -> str:
        if self.sizes:
            return "bytes[" + " or ".join(str(size) for size in self.sizes) + "]"
        return f"bytes[{self.size_min}..{self.size_max}]"

    def check(self, value: object) -> object:
        if type(value) is not bytes:
            if not isinstance(value, bytes | bytearray):
                raise ValueProblem("", f"expected bytes, got {describe(value)}")
            value = bytes(value)
        size = len(value)
        if self.sizes:
            if size not in self.sizes:
                raise ValueProblem(
                    "", f"expected {' or '.join(map(str, self.sizes))} bytes, got {size}"
                )
        elif not self.size_min <= size <= self.size_max:
            raise ValueProblem("", f"expected {self.size_min}..{self.size_max} bytes, got {size}")
        return value


class Text(Kind):
    """A text string of at most `bytes_max` UTF-8 bytes, matching `pattern` if given."""

    def __init__(
        self, *, bytes_max: int, pattern: str | None = None, pattern_hint: str = ""
    ) -> None:
        self.bytes_max = bytes_max
        self.pattern = re.compile(pattern) if pattern is not None else None
        self.pattern_hint = pattern_hint or (pattern or "")

    @property
    def description(self) -> str:
        return "text"

    def check(self, value: object) -> object:
        if type(value) is not str:
            raise ValueProblem("", f"expected text, got {describe(value)}")
        size = check_text(value)
        if size > self.bytes_max:
            raise ValueProblem("", f"{size} bytes is longer than {self.bytes_max}")
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            raise ValueProblem("", f"{show(value)} is not {self.pattern_hint}")
        return value


class Enum(Kind):
    """A member of an IntEnum, encoded as its integer value."""

    plain = False

    def __init__(self, enum_class: type[enum.IntEnum]) -> None:
        self.enum_class = enum_class

    @property
    def description(self) -> str:
        return f"{self.enum_class.__name__} (uint)"

    def check(self, value: object) -> object:
        if isinstance(value, self.enum_class):
            return value
        if type(value) is int:
            try:
                return self.enum_class(value)
            except ValueError:
                pass
        allowed = ", ".join(f"{member.value} ({member.name})" for member in self.enum_class)
        raise ValueProblem("", f"{show(value)} is not one of {allowed}")

    def to_wire(self, value: object) -> object:
        return int(value)  # type: ignore[call-overload]


class Value(Kind):
    """A free-form value of the deterministic CBOR subset, nested at most `depth_max` deep."""

    def __init__(self, *, depth_max: int = VALUE_DEPTH_MAX, map_only: bool = False) -> None:
        self.depth_max = depth_max
        self.map_only = map_only

    @property
    def description(self) -> str:
        return "map text → value" if self.map_only else "value"

    def check(self, value: object) -> object:
        if self.map_only and not isinstance(value, Mapping):
            raise ValueProblem("", f"expected a map, got {describe(value)}")
        return freeze_value(value, self.depth_max)


class Nested(Kind):
    """A record of another type, encoded as its map."""

    plain = False

    def __init__(self, record_class: type[Record]) -> None:
        self.record_class = record_class

    @property
    def description(self) -> str:
        return self.record_class.__name__

    def check(self, value: object) -> object:
        if not isinstance(value, self.record_class):
            raise ValueProblem(
                "", f"expected a {self.record_class.__name__}, got {describe(value)}"
            )
        return value

    def to_wire(self, value: object) -> object:
        return value  # written by the encoder's `write_nested` hook, from its memo

    def from_wire(self, raw: object, path: str) -> object:
        from gongshi.codec.record import record_from_wire

        return record_from_wire(self.record_class, raw, path)


class Array(Kind):
    """An array of at most `length_max` items of one kind, held as a tuple."""

    def __init__(self, item: Kind, *, length_max: int) -> None:
        self.item = item
        self.length_max = length_max
        self.plain = item.plain

    @property
    def description(self) -> str:
        return f"array of {self.item.description}"

    def check(self, value: object) -> object:
        if type(value) is not tuple and type(value) is not list:
            raise ValueProblem("", f"expected an array, got {describe(value)}")
        if len(value) > self.length_max:
            raise ValueProblem("", f"{len(value)} items is more than {self.length_max}")
        items: list[object] = []
        changed = type(value) is not tuple
        for index, item in enumerate(value):
            try:
                checked = self.item.check(item)
            except ValueProblem as problem:
                raise problem.inside(f"[{index}]") from None
            changed = changed or checked is not item
            items.append(checked)
        return tuple(items) if changed else value

    def to_wire(self, value: object) -> object:
        return [self.item.to_wire(item) for item in value]  # type: ignore[attr-defined]

    def from_wire(self, raw: object, path: str) -> object:
        if type(raw) is not tuple:
            raise InvalidEncodedField(path, f"expected an array, got {describe(raw)}")
        if len(raw) > self.length_max:
            raise InvalidEncodedField(path, f"{len(raw)} items is more than {self.length_max}")
        return tuple(
            self.item.from_wire(item, f"{path}[{index}]") for index, item in enumerate(raw)
        )


class Optional(Kind):
    """A field that may be None, encoded by leaving the key out (never as null)."""

    plain = False  # from_wire must reject an explicit null

    def __init__(self, inner: Kind) -> None:
        self.inner = inner

    @property
    def description(self) -> str:
        return f"optional {self.inner.description}"

    def check(self, value: object) -> object:
        return None if value is None else self.inner.check(value)

    def to_wire(self, value: object) -> object:
        return self.inner.to_wire(value)

    def from_wire(self, raw: object, path: str) -> object:
        if raw is None:
            raise InvalidEncodedField(
                path, "null is not allowed: an absent optional field is encoded by omitting its key"
            )
        return self.inner.from_wire(raw, path)
