"""Storage objects of a running contract: `Map` and `Value` over its `ContractStorage`.

Layout in the contract's namespace: a `Value` named `owner` is the key `b"owner\\0"`; an
entry of a `Map` named `balances` is `b"balances\\0" + CBOR(key)`, where a nested key
`m[a, b]` is encoded as the CBOR array `[a, b]`. Values are `values.encode_stored` bytes.
A value read is a fresh copy: mutating a list read from storage changes nothing until it
is assigned back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cbor2

from gongshi.codec.limits import CBOR_INT_MAX, CBOR_INT_MIN
from gongshi.contracts.declarations import StorageDecl
from gongshi.contracts.errors import InvalidContractValue, LimitExceeded
from gongshi.contracts.faults import ContractFault, LimitFault
from gongshi.contracts.sizes import text_gas
from gongshi.contracts.values import decode_stored, decode_stored_int, encode_stored, type_name

if TYPE_CHECKING:
    from gongshi.contracts.machine import Machine

KEY_BYTES_MAX = 512
_KEY_TYPES: dict[str, type] = {"str": str, "int": int, "bytes": bytes}


def _key_bytes(map_name: str, part: Any, expected: str) -> bytes:
    """The canonical CBOR of one key component (a scalar's cbor2 encoding is canonical)."""
    if type(part) is not _KEY_TYPES[expected]:
        raise ContractFault("KeyError", f"{map_name} key must be {expected}, not {type_name(part)}")
    if isinstance(part, int):
        if not CBOR_INT_MIN <= part <= CBOR_INT_MAX:
            raise LimitFault(f"{map_name} int key outside [-2**64, 2**64-1]")
    elif isinstance(part, str | bytes) and len(part) > KEY_BYTES_MAX:
        raise LimitFault(f"{map_name} key is more than {KEY_BYTES_MAX} bytes")
    try:
        return cbor2.dumps(part)
    except (UnicodeEncodeError, cbor2.CBOREncodeError):
        raise ContractFault("KeyError", f"{map_name} key is not valid Unicode") from None


def _array_head(length: int) -> bytes:
    """CBOR head of an array of `length` items; nested keys have few parts (< 24)."""
    if length >= 24:
        raise LimitFault("a nested key has at most 23 parts")
    return bytes([0x80 + length])


class Map:
    """A mapping persisted in the contract's namespace; missing keys read as the default."""

    __slots__ = ("_decl", "_machine", "_prefix")

    def __init__(self, machine: Machine, decl: StorageDecl) -> None:
        self._machine = machine
        self._decl = decl
        self._prefix = decl.name.encode("ascii") + b"\x00"

    def _key(self, key: Any) -> bytes:
        types = self._decl.key_types
        name = self._decl.name
        if len(types) == 1:
            return self._prefix + _key_bytes(name, key, types[0])
        if type(key) is not tuple or len(key) != len(types):
            raise ContractFault("KeyError", f"{name} keys are ({', '.join(types)})")
        parts = [_key_bytes(name, part, kind) for part, kind in zip(key, types, strict=True)]
        encoded = _array_head(len(parts)) + b"".join(parts)
        if len(encoded) > KEY_BYTES_MAX:
            raise LimitFault(f"{name} key is more than {KEY_BYTES_MAX} bytes")
        return self._prefix + encoded

    def __getitem__(self, key: Any) -> Any:
        return self._machine.load(self._key(key), self._decl.default)

    def get(self, key: Any, default: Any = None) -> Any:
        return self._machine.load(self._key(key), default)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._machine.store(self._key(key), value)

    def __delitem__(self, key: Any) -> None:
        self._machine.store(self._key(key), None)

    def __contains__(self, key: Any) -> bool:
        return self._machine.load(self._key(key), None) is not None

    def __iter__(self) -> None:
        raise ContractFault("TypeError", "a Map cannot be iterated: keep a list of its keys")


class Value:
    """One value persisted in the contract's namespace."""

    __slots__ = ("_decl", "_key", "_machine")

    def __init__(self, machine: Machine, decl: StorageDecl) -> None:
        self._machine = machine
        self._decl = decl
        self._key = decl.name.encode("ascii") + b"\x00"

    def get(self) -> Any:
        return self._machine.load(self._key, self._decl.default)

    def set(self, value: Any) -> None:
        self._machine.store(self._key, value)


def read(machine: Machine, key: bytes, default: Any) -> Any:
    """The stored value under `key` decoded, or `default`; decoding charged per byte."""
    data = machine.storage.get(key)
    if data is None:
        return default
    if len(data) <= 9 and data[0] < 0x40:  # a CBOR integer (major type 0 or 1): the hot case
        return decode_stored_int(data)
    gas = text_gas(len(data))
    if gas:
        machine.charge(gas, "contract storage decode")
    return decode_stored(data)


def write(machine: Machine, key: bytes, value: Any) -> None:
    """Store `value` (None deletes) under `key`; the storage charges per byte written."""
    if value is None:
        machine.storage.set(key, None)
        return
    try:
        data = encode_stored(value)
    except LimitExceeded as error:
        raise LimitFault(error.message) from None
    except InvalidContractValue as error:
        raise ContractFault("TypeError", error.message) from None
    machine.storage.set(key, data)
