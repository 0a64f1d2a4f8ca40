"""The builtins contracts may call, each bounded and charged for the work it does in C.

`len`, `abs`, `bool` and `hex` are CPython's own: their cost does not grow past the value
caps. The others check sizes before allocating and charge per item or byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from gongshi.contracts.faults import ContractFault, LimitFault
from gongshi.contracts.fixedpoint import Decimal, digits_to_int, int_to_text
from gongshi.contracts.keys import build_dict
from gongshi.contracts.limits import (
    CONTAINER_ITEMS_MAX,
    GAS_BUILTIN,
    GAS_INT_WORD,
    GAS_KEY_PROBE,
    GAS_SORT_ITEM,
    INT_TEXT_LENGTH_MAX,
    OBJECT_BYTES,
    STR_LENGTH_MAX,
)
from gongshi.contracts.sizes import (
    DICT_ITEMS,
    Allocator,
    check_int,
    check_length,
    items_gas,
    size_gas,
    text_gas,
)
from gongshi.contracts.values import type_name

Charge = Callable[[int, str], None]
_REASON = "contract builtin"
_SIZED = (list, tuple, str, bytes, dict, range)

TYPES_BY_NAME: dict[str, type] = {
    "int": int,
    "str": str,
    "bool": bool,
    "bytes": bytes,
    "list": list,
    "dict": dict,
    "tuple": tuple,
    "Decimal": Decimal,
}


_DIGITS_PER_WORD = 19  # decimal digits of a 64-bit word
_DECIMAL_INT = re.compile(r"\s*([+-]?)([0-9](?:_?[0-9])*)\s*")


def _parse_decimal_int(text: str) -> int:
    """`int(text)` in base 10 with Python's syntax, independent of the digit limit."""
    match = _DECIMAL_INT.fullmatch(text)
    if match is None or not text.isascii():
        raise ValueError(text)
    value = digits_to_int(match.group(2).replace("_", ""))
    return -value if match.group(1) == "-" else value


class SizedIterator:
    """A lazy `enumerate`/`zip`/`reversed` that knows its length, so `list()` can check it."""

    __slots__ = ("_iterator", "_length")

    def __init__(self, iterator: Iterator[object], length: int) -> None:
        self._iterator = iterator
        self._length = length

    def __iter__(self) -> Iterator[object]:
        return self._iterator

    def __len__(self) -> int:
        return self._length


def _length_of(value: Any, what: str) -> int:
    """Length of an iterable a helper may consume; ContractFault for anything unsized."""
    if isinstance(value, _SIZED) or type(value) is SizedIterator:
        try:
            return len(value)
        except OverflowError:
            raise LimitFault(f"{what}: range of more than {CONTAINER_ITEMS_MAX} items") from None
    if type(value).__name__ in ("dict_keys", "dict_values", "dict_items"):
        return len(value)
    raise ContractFault("TypeError", f"{what}() cannot take a {type_name(value)}")


class Builtins(Allocator):
    """Safe builtins; mixed into `Machine`, which provides `charge`."""

    __slots__ = ()
    charge: Charge

    def _consume(self, value: Any, what: str) -> int:
        length = _length_of(value, what)
        check_length(list, length)
        self.produce(list, length)
        if type(value) is SizedIterator or type(value) is DICT_ITEMS:
            self.account(OBJECT_BYTES * length)  # a new tuple per item
        return length

    def range_(self, *bounds: Any) -> range:
        if not 1 <= len(bounds) <= 3 or not all(isinstance(b, int) for b in bounds):
            raise ContractFault("TypeError", "range() takes 1 to 3 integers")
        result = range(*bounds)
        try:
            length = len(result)
        except OverflowError:
            length = CONTAINER_ITEMS_MAX + 1
        check_length(range, length)
        return result

    def list_(self, value: Any = ()) -> list[object]:
        self._consume(value, "list")
        return list(value)

    def tuple_(self, value: Any = ()) -> tuple[object, ...]:
        self._consume(value, "tuple")
        return tuple(value)

    def _materialize(self, value: Any, what: str) -> list[object]:
        """`list(value)`, charged: the items of any iterable (a tuple, a dict view, `zip`) are
        then measured like a list's before they are compared or hashed."""
        self._consume(value, what)
        return list(value)

    def dict_(self, value: Any = (), **named: Any) -> dict[object, object]:
        if type(value) is dict:  # a copy keeps the dict's hashes: nothing is hashed again
            self._consume(value, "dict")
            result = dict(value)
        else:
            pairs = self._materialize(value, "dict")
            gas = size_gas(pairs)  # the keys are hashed
            if gas:
                self.charge(gas, _REASON)
            result, probes = build_dict(pairs)
            if probes:
                self.charge(GAS_KEY_PROBE * probes, _REASON)
        for name, item in named.items():
            result[name] = item
        check_length(dict, len(result))
        return result

    def sorted_(self, value: Any, key: Any = None, reverse: Any = False) -> list[object]:
        items = self._materialize(value, "sorted")
        length = len(items)
        rounds = max(length.bit_length(), 1)
        # Comparing nested items or texts costs their size each round.
        nested = max(size_gas(items) - items_gas(length), 0)
        self.charge(GAS_SORT_ITEM * length * rounds + nested * rounds, _REASON)
        items.sort(key=key, reverse=bool(reverse))
        return items

    def reversed_(self, value: Any) -> SizedIterator:
        if type(value) not in (list, tuple, str, bytes, range):
            raise ContractFault("TypeError", f"reversed() cannot take a {type_name(value)}")
        return SizedIterator(reversed(value), len(value))

    def enumerate_(self, value: Any, start: Any = 0) -> SizedIterator:
        length = _length_of(value, "enumerate")
        if not isinstance(start, int):
            raise ContractFault("TypeError", "enumerate() start must be an int")
        return SizedIterator(enumerate(value, check_int(start)), length)

    def zip_(self, *values: Any) -> SizedIterator:
        lengths = [_length_of(value, "zip") for value in values]
        return SizedIterator(zip(*values, strict=False), min(lengths, default=0))

    def _reduce(self, values: tuple[object, ...], what: str) -> Any:
        if not values:
            raise ContractFault("TypeError", f"{what}() needs at least one argument")
        items = self._materialize(values[0], what) if len(values) == 1 else values
        gas = size_gas(items)
        if gas:
            self.charge(gas, _REASON)
        return items

    def min_(self, *values: Any, key: Any = None, default: Any = None) -> Any:
        items = self._reduce(values, "min")
        if default is not None:
            return min(items, key=key, default=default)
        return min(items, key=key)

    def max_(self, *values: Any, key: Any = None, default: Any = None) -> Any:
        items = self._reduce(values, "max")
        if default is not None:
            return max(items, key=key, default=default)
        return max(items, key=key)

    def sum_(self, value: Any, start: Any = 0) -> Any:
        if not (isinstance(start, int) or type(start) is Decimal):
            raise ContractFault("TypeError", "sum() start must be an int or a Decimal")
        items: list[Any] = self._materialize(value, "sum")  # an iterator is read once, here
        if type(start) is Decimal or Decimal in set(map(type, items)):
            self.charge(GAS_BUILTIN * len(items), _REASON)  # a Decimal addition per item
        result = sum(items, start)
        return check_int(result) if isinstance(result, int) else result

    def any_(self, value: Any) -> bool:
        self._consume(value, "any")
        return any(value)

    def all_(self, value: Any) -> bool:
        self._consume(value, "all")
        return all(value)

    def str_(self, value: Any = "") -> str:
        kind = type(value)
        if kind is str:
            return str(value)
        if kind is int:
            self._conversion_gas(value.bit_length() // 64 + 1)
            return int_to_text(value)
        if kind is Decimal:
            self._conversion_gas(value.units.bit_length() // 64 + 1)
            return str(value)
        if kind is bool or value is None:
            return str(value)
        raise ContractFault("TypeError", f"str() of a {type_name(value)} is not supported")

    def int_(self, value: Any = 0, base: Any = None) -> int:
        kind = type(value)
        if base is None and (kind is int or kind is bool):
            return int(value)
        if base is None and kind is Decimal:
            return int(value.truncate())
        if kind is not str:
            raise ContractFault("TypeError", f"int() of a {type_name(value)} is not supported")
        if len(value) > INT_TEXT_LENGTH_MAX:
            raise LimitFault(f"int() of a text longer than {INT_TEXT_LENGTH_MAX}")
        self._conversion_gas(2 * (len(value) // _DIGITS_PER_WORD + 1))
        if base is not None and (type(base) is not int or not 2 <= base <= 36):
            raise ContractFault("ValueError", "int() base must be an int in 2..36")
        try:
            if base is None or base == 10:
                return check_int(_parse_decimal_int(value))
            return check_int(int(value, base))
        except ValueError:
            raise ContractFault("ValueError", "int() of a text that is not a number") from None

    def decimal_(self, value: Any = 0) -> Decimal:
        """`Decimal(x)`: from text, charged like `int(text)`."""
        if type(value) is str and len(value) <= INT_TEXT_LENGTH_MAX:
            self._conversion_gas(2 * (len(value) // _DIGITS_PER_WORD + 1))
        return Decimal(value)

    def _conversion_gas(self, words: int) -> None:
        """int <-> decimal text: CPython's conversion is quadratic in the number's words."""
        self.charge(GAS_BUILTIN + GAS_INT_WORD * words * words, _REASON)

    def bytes_(self, value: Any = b"") -> bytes:
        kind = type(value)
        if kind is bytes:
            return bytes(value)
        if kind is int:
            if not 0 <= value <= STR_LENGTH_MAX:
                raise LimitFault(f"bytes({value}) is outside 0..{STR_LENGTH_MAX}")
            self.produce(bytes, value)
            return bytes(value)
        if kind is list or kind is tuple:
            self._consume(value, "bytes")
            try:
                return bytes(value)
            except (TypeError, ValueError):
                raise ContractFault("ValueError", "bytes() needs integers in 0..255") from None
        raise ContractFault("TypeError", f"bytes() of a {type_name(value)} (use str.encode())")

    def fromhex(self, text: Any) -> bytes:
        if type(text) is not str:
            raise ContractFault("TypeError", "bytes.fromhex() takes a str")
        self.charge(GAS_BUILTIN + text_gas(len(text)), _REASON)
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise ContractFault("ValueError", "bytes.fromhex() of a text that is not hex") from None

    def isinstance_(self, value: Any, names: tuple[str, ...]) -> bool:
        return isinstance(value, tuple(TYPES_BY_NAME[name] for name in names))

    def fstring(self, parts: tuple[object, ...]) -> str:
        """An f-string: its literal parts and `str()` of each field, length checked first."""
        texts = [self.str_(part) for part in parts]
        length = check_length(str, sum(len(text) for text in texts))
        self.produce(str, length, wide=not all(text.isascii() for text in texts))
        return "".join(texts)
