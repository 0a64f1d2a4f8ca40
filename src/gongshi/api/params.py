"""Method parameters: how each is checked, and its JSON Schema for the OpenRPC document.

One declaration per parameter serves both, so the description a client reads is the check
the server makes. Parameters come by name (an object) or by position (an array), as
JSON-RPC 2.0 allows; anything missing, unknown or of the wrong type is `InvalidParams`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gongshi.api.errors import InvalidParams
from gongshi.api.wire import WireFormatError, from_hex, value_from_json

UINT64_MAX = (1 << 64) - 1


class Kind:
    """How one parameter is parsed; subclasses say which JSON values they accept."""

    def parse(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class HexBytes(Kind):
    """Bytes as 0x hex, of one of `sizes` (or at most `size_max`)."""

    sizes: tuple[int, ...] | None = None
    size_max: int = 1 << 20

    def parse(self, name: str, value: Any) -> bytes:
        try:
            return from_hex(value, what=name, sizes=self.sizes, size_max=self.size_max)
        except WireFormatError as error:
            raise InvalidParams(error.message) from None

    def schema(self) -> dict[str, Any]:
        if self.sizes is not None and len(self.sizes) == 1:
            digits = 2 * self.sizes[0]
            return {"type": "string", "pattern": f"^0x[0-9a-fA-F]{{{digits}}}$"}
        return {"type": "string", "pattern": "^0x([0-9a-fA-F]{2})*$"}


@dataclass(frozen=True, slots=True)
class UInt(Kind):
    """A non-negative integer up to `maximum` (JSON booleans and floats are refused)."""

    maximum: int = UINT64_MAX
    minimum: int = 0

    def parse(self, name: str, value: Any) -> int:
        if type(value) is not int:
            raise InvalidParams(f"{name} must be an integer")
        if not self.minimum <= value <= self.maximum:
            raise InvalidParams(f"{name} must be in {self.minimum}..{self.maximum}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}


@dataclass(frozen=True, slots=True)
class Text(Kind):
    """A string of 1..`length_max` characters."""

    length_max: int = 255

    def parse(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not 1 <= len(value) <= self.length_max:
            raise InvalidParams(f"{name} must be a string of 1..{self.length_max} characters")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": self.length_max}


@dataclass(frozen=True, slots=True)
class Choice(Kind):
    """One of a fixed set of strings."""

    choices: tuple[str, ...]

    def parse(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise InvalidParams(f"{name} must be one of {', '.join(self.choices)}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.choices)}


@dataclass(frozen=True, slots=True)
class Flag(Kind):
    def parse(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise InvalidParams(f"{name} must be true or false")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True, slots=True)
class BlockRef(Kind):
    """A block height (integer) or a block hash (32 bytes hex)."""

    def parse(self, name: str, value: Any) -> int | bytes:
        if isinstance(value, str):
            return HexBytes(sizes=(32,)).parse(name, value)
        return UInt().parse(name, value)

    def schema(self) -> dict[str, Any]:
        return {"oneOf": [UInt().schema(), HexBytes(sizes=(32,)).schema()]}


@dataclass(frozen=True, slots=True)
class Cursor(Kind):
    """An events page cursor, `"height:tx_index:event_index"` as `events_query` returned."""

    def parse(self, name: str, value: Any) -> tuple[int, int, int]:
        parts = value.split(":") if isinstance(value, str) and len(value) <= 64 else []
        if len(parts) != 3 or not all(part.isdigit() and part.isascii() for part in parts):
            raise InvalidParams(f"{name} must be a cursor returned by events_query")
        height, tx_index, event_index = (int(part) for part in parts)
        if height > UINT64_MAX or tx_index >= 1 << 32 or event_index >= 1 << 32:
            raise InvalidParams(f"{name} is out of range")
        return height, tx_index, event_index

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": "^[0-9]+:[0-9]+:[0-9]+$"}


@dataclass(frozen=True, slots=True)
class JsonArgs(Kind):
    """Contract call arguments: any JSON value; strings of `0x` hex become bytes."""

    def parse(self, name: str, value: Any) -> Any:
        return value_from_json(value)

    def schema(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: Kind
    description: str
    required: bool = True
    default: Any = None


def parse_params(params: Any, specs: Sequence[Param]) -> dict[str, Any]:
    """Parameters by name, checked; defaults for the optional ones not given."""
    if params is None:
        given: dict[str, Any] = {}
    elif isinstance(params, list):
        if len(params) > len(specs):
            raise InvalidParams(f"at most {len(specs)} parameters, got {len(params)}")
        given = {spec.name: value for spec, value in zip(specs, params, strict=False)}
    elif isinstance(params, dict):
        known = {spec.name for spec in specs}
        unknown = sorted(str(name) for name in params if name not in known)
        if unknown:
            raise InvalidParams(f"unknown parameter {unknown[0][:64]!r}")
        given = params
    else:
        raise InvalidParams("params must be an object or an array")
    parsed: dict[str, Any] = {}
    for spec in specs:
        value = given.get(spec.name)
        if value is None:
            if spec.required:
                raise InvalidParams(f"missing parameter {spec.name!r}")
            parsed[spec.name] = spec.default
        else:
            parsed[spec.name] = spec.kind.parse(spec.name, value)
    return parsed
