"""What contract source imports, for editors and type checkers only.

A contract starts with `from gongshi.contract import export, Map, Value, ctx, require, ...`;
the runtime (`gongshi.contracts`) ignores that import and binds its own metered versions of
these names, so nothing here ever runs on a chain. These stand-ins give editors the names,
signatures and documentation (docs/contracts.md has the language).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from gongshi.contracts.fixedpoint import Decimal
from gongshi.contracts.host import Context

__all__ = ["Decimal", "Map", "Value", "call", "ctx", "emit", "export", "require"]

F = TypeVar("F", bound=Callable[..., Any])

_OUTSIDE = "gongshi.contract names only work inside a contract run by gongshi.contracts"


def export(
    function: F | None = None, *, roles: tuple[str, ...] | None = None, read_only: bool = False
) -> Any:
    """Mark a function as an entry point: `@export` or `@export(roles=(...), read_only=True)`."""
    if function is not None:
        return function
    return lambda inner: inner


class Map:
    """Persistent mapping with typed keys: `Map(key=str)`, `Map(key=(str, int), default=0)`."""

    def __init__(self, *, key: object = str, default: object = None) -> None:
        self.key = key
        self.default = default

    def __getitem__(self, key: object) -> Any:
        raise RuntimeError(_OUTSIDE)

    def __setitem__(self, key: object, value: object) -> None:
        raise RuntimeError(_OUTSIDE)

    def __delitem__(self, key: object) -> None:
        raise RuntimeError(_OUTSIDE)

    def __contains__(self, key: object) -> bool:
        raise RuntimeError(_OUTSIDE)

    def get(self, key: object, default: object = None) -> Any:
        raise RuntimeError(_OUTSIDE)


class Value:
    """One persistent value: `Value()`, `Value(default=0)`."""

    def __init__(self, *, default: object = None) -> None:
        self.default = default

    def get(self) -> Any:
        raise RuntimeError(_OUTSIDE)

    def set(self, value: object) -> None:
        raise RuntimeError(_OUTSIDE)


# The call's context; the runtime binds the real one per call.
ctx = Context(sender=b"", origin=b"", height=0, timestamp_ms=0, tx_hash=b"", chain_id="", this=b"")


def require(condition: object, message: str = "requirement failed") -> None:
    """Fail the call with `message` unless `condition` is true."""
    if not condition:
        raise RuntimeError(message)


def emit(name: str, **fields: object) -> None:
    """Emit event `name` with `fields`."""
    raise RuntimeError(_OUTSIDE)


def call(target: str, method: str, **args: object) -> Any:
    """Call `method` of contract `target` (a name or 0x address) with named `args`."""
    raise RuntimeError(_OUTSIDE)
