"""Contract values at the runtime's two boundaries: CBOR arguments/results, and storage.

Calls (arguments, return values, event fields, `call` arguments and results) use the chain's
CBOR subset (`gongshi.codec.CborValue`):

| contract value      | CBOR value                 | back into a contract |
| ------------------- | -------------------------- | -------------------- |
| None, bool, str, bytes | the same                | the same             |
| int in [-2**64, 2**64-1] | integer               | int                  |
| list, tuple         | array                      | list                 |
| dict with str keys  | map                        | dict                 |
| Decimal             | text, e.g. "12.5"          | str (use Decimal(x)) |

Anything else (larger ints, dicts with other keys, functions, storage objects) raises
`InvalidContractValue`.

Storage keeps every value type exactly, as a deterministic CBOR value where each array is
tagged by its first item: `[0, items...]` list, `[1, items...]` tuple, `[2, k1, v1, ...]`
dict (insertion order), `[3, units]` Decimal, `[4, negative, magnitude]` int outside CBOR's
native range. Scalars are themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import cbor2

from gongshi.codec import CborValue, decode_value, encode_value
from gongshi.codec.cbor import frozendict
from gongshi.codec.limits import CBOR_INT_MAX, CBOR_INT_MIN, VALUE_BYTES_MAX, VALUE_DEPTH_MAX
from gongshi.contracts.errors import CorruptStoredValue, InvalidContractValue, LimitExceeded
from gongshi.contracts.faults import ContractFault
from gongshi.contracts.fixedpoint import Decimal
from gongshi.contracts.keys import build_dict
from gongshi.contracts.limits import (
    CONTAINER_ITEMS_MAX,
    INT_LIMIT,
    STORED_VALUE_BYTES_MAX,
    STR_LENGTH_MAX,
)
from gongshi.errors import GongshiError

_LIST, _TUPLE, _DICT, _DECIMAL, _BIGINT = 0, 1, 2, 3, 4
_SCALARS = (type(None), bool, str, bytes)


def type_name(value: Any) -> str:
    """A value's type as a contract author knows it."""
    return type(value).__name__


# --- CBOR boundary --------------------------------------------------------------------------


def new_budget() -> list[int]:
    """[bytes still allowed, values converted]: what `to_cbor` and `to_cbor_map` count, so
    that callers can charge for the conversion (a Python walk of every value)."""
    return [VALUE_BYTES_MAX, 0]


def to_cbor(value: Any, where: str = "value", budget: list[int] | None = None) -> CborValue:
    """A contract value as a frozen CBOR value; InvalidContractValue if it has none or if it
    would encode to more than the codec's VALUE_BYTES_MAX (counted before building it)."""
    kind = type(value)
    if kind is int and CBOR_INT_MIN <= value <= CBOR_INT_MAX:
        return cast(int, value)
    if kind is str or kind is bytes or kind is bool or value is None:
        return cast(CborValue, value)
    return _to_cbor(value, where, 0, new_budget() if budget is None else budget)


def _to_cbor(value: Any, where: str, depth: int, budget: list[int]) -> CborValue:
    kind = type(value)
    budget[1] += 1
    budget[0] -= len(value) + 1 if kind is str or kind is bytes else 1
    if budget[0] < 0:
        raise InvalidContractValue(f"{where}: more than {VALUE_BYTES_MAX} bytes")
    if kind is int:
        if CBOR_INT_MIN <= value <= CBOR_INT_MAX:
            return cast(int, value)
        raise InvalidContractValue(f"{where}: integer outside [-2**64, 2**64-1]")
    if kind in _SCALARS:
        return cast(CborValue, value)
    if depth >= VALUE_DEPTH_MAX:
        raise InvalidContractValue(f"{where}: nested deeper than {VALUE_DEPTH_MAX}")
    if kind is list or kind is tuple:
        return tuple([_to_cbor(item, where, depth + 1, budget) for item in value])
    if kind is dict:
        entries: dict[str, CborValue] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise InvalidContractValue(f"{where}: map key of type {type_name(key)}")
            if not key.isascii():
                try:
                    key.encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate: no CBOR text can hold it
                    raise InvalidContractValue(f"{where}: map key is not valid Unicode") from None
            budget[0] -= len(key)
            entries[key] = _to_cbor(item, where, depth + 1, budget)
        return frozendict(dict(sorted(entries.items(), key=lambda pair: _key_order(pair[0]))))
    if kind is Decimal:
        return str(value)
    raise InvalidContractValue(f"{where}: a {type_name(value)} has no CBOR form")


def _key_order(key: str) -> tuple[int, str]:
    return (len(key.encode("utf-8")), key)


def to_cbor_map(
    fields: Mapping[str, object], where: str, budget: list[int] | None = None
) -> dict[str, CborValue]:
    """Named values (event fields, call arguments) as CBOR values, in canonical key order."""
    budget = new_budget() if budget is None else budget
    converted = {
        name: _to_cbor(item, f"{where}.{name}", 1, budget) for name, item in fields.items()
    }
    return dict(sorted(converted.items(), key=lambda pair: _key_order(pair[0])))


def from_cbor(value: CborValue) -> Any:
    """A CBOR value as a contract value: arrays become lists and maps dicts (both mutable)."""
    if isinstance(value, tuple):
        return [from_cbor(item) for item in value]
    if isinstance(value, Mapping):
        return {key: from_cbor(item) for key, item in value.items()}
    return value


# --- storage --------------------------------------------------------------------------------


def encode_stored(value: Any) -> bytes:
    """The stored encoding of a contract value; LimitExceeded if too large or too deep."""
    if type(value) is int and CBOR_INT_MIN <= value <= CBOR_INT_MAX:  # the common case
        return encode_value(value)
    try:
        data = encode_value(_tagged(value, 0, [STORED_VALUE_BYTES_MAX]))
    except (LimitExceeded, InvalidContractValue):
        raise
    except GongshiError as error:
        raise LimitExceeded(f"stored value: {error.message}") from None
    if len(data) > STORED_VALUE_BYTES_MAX:
        raise LimitExceeded(
            f"stored value is {len(data)} bytes, more than {STORED_VALUE_BYTES_MAX}"
        )
    return data


def _tagged(value: Any, depth: int, budget: list[int]) -> Any:
    """`value` as tagged CBOR items; `budget[0]` counts down the bytes still allowed, so a list
    holding one large string many times fails before its encoding is built."""
    kind = type(value)
    budget[0] -= len(value) + 1 if kind is str or kind is bytes else 1
    if budget[0] < 0:
        raise LimitExceeded(f"stored value is more than {STORED_VALUE_BYTES_MAX} bytes")
    if kind is int:
        if CBOR_INT_MIN <= value <= CBOR_INT_MAX:
            return value
        magnitude = abs(value)
        return (_BIGINT, value < 0, magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big"))
    if kind in _SCALARS:
        return value
    if depth >= VALUE_DEPTH_MAX - 1:
        raise LimitExceeded(f"stored value nested deeper than {VALUE_DEPTH_MAX - 1}")
    if kind is list:
        return (_LIST, *(_tagged(item, depth + 1, budget) for item in value))
    if kind is tuple:
        return (_TUPLE, *(_tagged(item, depth + 1, budget) for item in value))
    if kind is dict:
        flat: list[object] = [_DICT]
        for key, item in value.items():
            flat.append(_tagged(key, depth + 1, budget))
            flat.append(_tagged(item, depth + 1, budget))
        return tuple(flat)
    if kind is Decimal:
        return (_DECIMAL, _tagged(value.units, depth + 1, budget))
    raise InvalidContractValue(f"a {type_name(value)} cannot be stored")


def decode_stored(data: bytes) -> Any:
    """A stored value back as the contract value it was; CorruptStoredValue otherwise."""
    try:
        raw = decode_value(data, max_size=STORED_VALUE_BYTES_MAX)
    except GongshiError as error:
        raise CorruptStoredValue(f"stored contract value: {error.message}") from None
    return _untagged(raw)


def decode_stored_int(data: bytes) -> int:
    """A stored CBOR integer (first byte below 0x40, at most 9 bytes), canonical form checked."""
    try:
        value = cbor2.loads(data)
    except Exception:  # any parser failure on stored bytes is corruption
        raise CorruptStoredValue("stored contract value: malformed integer") from None
    if type(value) is not int or cbor2.dumps(value) != data:
        raise CorruptStoredValue("stored contract value: non-canonical integer")
    return value


def _untagged(raw: CborValue) -> Any:
    if not isinstance(raw, tuple):
        if isinstance(raw, Mapping):
            raise CorruptStoredValue("stored contract value holds an untagged map")
        return raw
    if not raw or type(raw[0]) is not int:
        raise CorruptStoredValue("stored contract array lacks its tag")
    tag, items = raw[0], raw[1:]
    if len(items) > 2 * CONTAINER_ITEMS_MAX:
        raise CorruptStoredValue("stored contract container is too large")
    if tag == _LIST:
        return [_untagged(item) for item in items]
    if tag == _TUPLE:
        return tuple(_untagged(item) for item in items)
    if tag == _DICT and len(items) % 2 == 0:
        keys = [_untagged(key) for key in items[0::2]]
        values = [_untagged(item) for item in items[1::2]]
        try:
            # Keys checked as when the dict was built (`keys.py`): a stored dict cannot
            # bring colliding keys back in.
            return build_dict(list(zip(keys, values, strict=True)))[0]
        except (TypeError, ContractFault):
            raise CorruptStoredValue(
                "stored contract dict has an unhashable or colliding key"
            ) from None
    if tag == _DECIMAL and len(items) == 1:
        units = _untagged(items[0])
        if type(units) is int and -INT_LIMIT < units < INT_LIMIT:
            return Decimal.from_units(units)
    if tag == _BIGINT and len(items) == 2 and type(items[0]) is bool:
        magnitude = items[1]
        if type(magnitude) is bytes and len(magnitude) * 8 <= STR_LENGTH_MAX:
            number = int.from_bytes(magnitude, "big")
            if number < INT_LIMIT:
                return -number if items[0] else number
    raise CorruptStoredValue(f"stored contract value has a malformed tag-{tag} array")
