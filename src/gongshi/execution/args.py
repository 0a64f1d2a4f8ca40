"""Reading a call's `args`: a map of named arguments, checked field by field.

A transaction's `args` is any value of the CBOR subset; a built-in method takes a map and
declares the names it accepts. Every accessor raises InvalidArguments (a FAILED receipt, or a
JSON-RPC error on the query path) with the argument's name, never a raw exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeGuard

from gongshi.codec import CborValue, frozendict
from gongshi.codec.cbor import describe
from gongshi.execution.errors import InvalidArguments

_NO_VALUES: Mapping[str, CborValue] = frozendict()


def _is_map(value: object) -> TypeGuard[Mapping[str, CborValue]]:
    # A frozen value's maps are frozendicts: test the type first, as isinstance against the
    # Mapping ABC is slow for frozendict (its registration is never cached).
    return type(value) is frozendict or isinstance(value, Mapping)


class Args:
    """The named arguments of one call.

    Invariant: `value` is frozen (`freeze_value`'s output, as a decoded transaction's args
    and the query path's are), so a map argument is a frozendict in canonical key order."""

    __slots__ = ("_method", "_values")

    def __init__(self, method: str, value: CborValue, accepted: frozenset[str]) -> None:
        if value is None:
            value = _NO_VALUES
        if not _is_map(value):
            raise InvalidArguments(f"{method}: args must be a map, got {describe(value)}")
        if not accepted.issuperset(value):
            unknown = sorted(name for name in value if name not in accepted)
            raise InvalidArguments(f"{method}: unknown argument {', '.join(unknown)}")
        self._method = method
        self._values: Mapping[str, CborValue] = value

    def _fail(self, name: str, problem: str) -> InvalidArguments:
        return InvalidArguments(f"{self._method}: argument {name} {problem}")

    def _get(self, name: str, required: bool) -> CborValue:
        if name not in self._values:
            if required:
                raise self._fail(name, "is required")
            return None
        return self._values[name]

    def has(self, name: str) -> bool:
        """Whether the call gives argument `name` (with any value but null)."""
        return self._values.get(name) is not None

    def bool_(self, name: str, *, default: bool) -> bool:
        value = self._get(name, required=False)
        if value is None:
            return default
        if type(value) is not bool:
            raise self._fail(name, f"must be true or false, got {describe(value)}")
        return value

    def bytes_(self, name: str, *, sizes: tuple[int, ...]) -> bytes:
        value = self._get(name, required=True)
        if type(value) is not bytes:
            raise self._fail(name, f"must be bytes, got {describe(value)}")
        if len(value) not in sizes:
            expected = " or ".join(str(size) for size in sizes)
            raise self._fail(name, f"must be {expected} bytes, got {len(value)}")
        return value

    def uint(self, name: str, *, default: int, maximum: int) -> int:
        value = self._get(name, required=False)
        if value is None:
            return default
        if type(value) is not int or not 0 <= value <= maximum:
            raise self._fail(name, f"must be an integer in 0..{maximum}")
        return value

    def text(self, name: str, *, bytes_max: int, required: bool) -> str | None:
        value = self._get(name, required=required)
        if value is None:
            return None
        if type(value) is not str:
            raise self._fail(name, f"must be text, got {describe(value)}")
        if len(value.encode("utf-8")) > bytes_max:
            raise self._fail(name, f"is longer than {bytes_max} bytes")
        return value

    def map_(self, name: str) -> Mapping[str, CborValue]:
        """An optional map argument (an empty map when absent)."""
        value = self._get(name, required=False)
        if value is None:
            return _NO_VALUES
        if not _is_map(value):
            raise self._fail(name, f"must be a map, got {describe(value)}")
        return value
