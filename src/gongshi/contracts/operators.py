"""Operators of contract code, routed through checks that bound what CPython allocates.

The instrumenter turns `a + b` into `__gs_add(a, b)` and so on. Each helper has a fast path
for two plain ints; the rest checks sizes before allocating (`'a' * 10**10` and `1 << 10**9`
fail before any memory is touched) and charges gas for work proportional to size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gongshi.contracts.faults import ContractFault, LimitFault
from gongshi.contracts.fixedpoint import Decimal
from gongshi.contracts.limits import (
    GAS_BUILTIN,
    GAS_INT_WORD,
    GAS_PER_ITEM,
    INT_BITS_MAX,
    INT_LIMIT,
)
from gongshi.contracts.sizes import (
    DICT_ITEMS,
    DICT_KEYS,
    DICT_VALUES,
    Allocator,
    check_int,
    check_length,
    size_gas,
    text_gas,
)
from gongshi.contracts.storage import Map
from gongshi.contracts.values import type_name

Charge = Callable[[int, str], None]
_REASON = "contract operator"


def _is_int(value: Any) -> bool:
    return isinstance(value, int)  # bool included, as in Python


def _is_number(value: Any) -> bool:
    return isinstance(value, int) or type(value) is Decimal


def _unsupported(symbol: str, left: Any, right: Any) -> ContractFault:
    return ContractFault(
        "TypeError",
        f"unsupported operand types for {symbol}: {type_name(left)} and {type_name(right)}",
    )


def _words(value: int) -> int:
    return value.bit_length() // 64 + 1


def _number_words(value: Any) -> int:
    """64-bit words of what a number is computed with: a Decimal's units, or an int scaled
    like them (10**18 < 2**60)."""
    if type(value) is Decimal:
        return _words(value.units)
    return (int(value).bit_length() + 60) // 64 + 1


class Operators(Allocator):
    """Binary operators and comparisons; mixed into `Machine`, which provides `charge`."""

    __slots__ = ()
    charge: Charge

    # --- arithmetic -------------------------------------------------------------------------
    def add(self, left: Any, right: Any) -> Any:
        if type(left) is int and type(right) is int:
            result = left + right
            if -INT_LIMIT < result < INT_LIMIT:
                return result
            raise LimitFault(f"integer has more than {INT_BITS_MAX} bits")
        if _is_number(left) and _is_number(right):
            return _number_result(left + right)
        kind = type(left)
        if kind is type(right) and kind in (str, bytes, list, tuple):
            length = check_length(kind, len(left) + len(right))
            wide = kind is str and not (left.isascii() and right.isascii())
            self.produce(kind, length, wide=wide)
            return left + right
        raise _unsupported("+", left, right)

    def iadd(self, left: Any, right: Any) -> Any:
        """`left += right`: in place for a list (as in Python), else `left + right`."""
        if type(left) is list and type(right) in (list, tuple):
            length = check_length(list, len(left) + len(right))
            self.produce(list, length - len(left))
            left.extend(right)
            return left
        return self.add(left, right)

    def sub(self, left: Any, right: Any) -> Any:
        if type(left) is int and type(right) is int:
            result = left - right
            if -INT_LIMIT < result < INT_LIMIT:
                return result
            raise LimitFault(f"integer has more than {INT_BITS_MAX} bits")
        if _is_number(left) and _is_number(right):
            return _number_result(left - right)
        raise _unsupported("-", left, right)

    def mul(self, left: Any, right: Any) -> Any:
        if _is_int(left) and _is_int(right):
            return self._int_mul(left, right)
        if _is_number(left) and _is_number(right):
            self._decimal_gas(left, right)
            return left * right
        if _is_int(right) and type(left) in (str, bytes, list, tuple):
            return self._repeat(left, right)
        if _is_int(left) and type(right) in (str, bytes, list, tuple):
            return self._repeat(right, left)
        raise _unsupported("*", left, right)

    def _int_mul(self, left: int, right: int) -> int:
        if left.bit_length() + right.bit_length() > INT_BITS_MAX + 1:
            raise LimitFault(f"integer has more than {INT_BITS_MAX} bits")
        self.charge(GAS_INT_WORD * _words(left) * _words(right), _REASON)
        return check_int(left * right)

    def _decimal_gas(self, left: Any, right: Any) -> None:
        """A Decimal product or quotient: a product of units, then a division by one of them."""
        words = _number_words(left) * _number_words(right)
        self.charge(GAS_BUILTIN + 2 * GAS_INT_WORD * words, _REASON)

    def _repeat(self, sequence: str | bytes | list[object] | tuple[object, ...], count: int) -> Any:
        length = check_length(type(sequence), len(sequence) * max(count, 0))
        wide = isinstance(sequence, str) and not sequence.isascii()
        self.produce(type(sequence), length, wide=wide)
        return sequence * count

    def truediv(self, left: Any, right: Any) -> Any:
        if (type(left) is Decimal or type(right) is Decimal) and (
            _is_number(left) and _is_number(right)
        ):
            self._decimal_gas(left, right)
            return left / right
        if _is_int(left) and _is_int(right):
            raise ContractFault("TypeError", "/ on integers gives a float: use // or Decimal")
        raise _unsupported("/", left, right)

    def floordiv(self, left: Any, right: Any) -> Any:
        if _is_int(left) and _is_int(right):
            self.charge(GAS_INT_WORD * _words(left) * _words(right), _REASON)
            return left // right
        raise _unsupported("//", left, right)

    def mod(self, left: Any, right: Any) -> Any:
        if _is_int(left) and _is_int(right):
            self.charge(GAS_INT_WORD * _words(left) * _words(right), _REASON)
            return left % right
        raise _unsupported("%", left, right)

    def pow(self, left: Any, right: Any) -> Any:
        if not (_is_int(left) and _is_int(right)):
            raise _unsupported("**", left, right)
        base, exponent = int(left), int(right)
        if exponent < 0:
            raise ContractFault("ValueError", "negative exponent (it would give a float)")
        if exponent <= 1:
            return base**exponent
        if base in (0, 1, -1):
            # CPython squares its way through every bit of the exponent (4096 squarings for
            # 20 gas); the answer is known.
            return 1 if base == 1 or (base == -1 and exponent % 2 == 0) else base
        # The result has at least (bits - 1) * exponent + 1 bits: refuse before computing.
        if (base.bit_length() - 1) * exponent + 1 > INT_BITS_MAX or exponent > INT_BITS_MAX:
            raise LimitFault(f"integer has more than {INT_BITS_MAX} bits")
        result_words = (base.bit_length() * exponent) // 64 + 1
        self.charge(GAS_INT_WORD * result_words * result_words, _REASON)
        return check_int(base**exponent)

    def lshift(self, left: Any, right: Any) -> Any:
        if not (_is_int(left) and _is_int(right)):
            raise _unsupported("<<", left, right)
        if right < 0:
            raise ContractFault("ValueError", "negative shift count")
        if left and left.bit_length() + right > INT_BITS_MAX:
            raise LimitFault(f"integer has more than {INT_BITS_MAX} bits")
        return left << right if left else 0

    def rshift(self, left: Any, right: Any) -> Any:
        if not (_is_int(left) and _is_int(right)):
            raise _unsupported(">>", left, right)
        if right < 0:
            raise ContractFault("ValueError", "negative shift count")
        return left >> min(right, INT_BITS_MAX + 1)

    def bitand(self, left: Any, right: Any) -> Any:
        if _is_int(left) and _is_int(right):
            return left & right
        raise _unsupported("&", left, right)

    def bitor(self, left: Any, right: Any) -> Any:
        if _is_int(left) and _is_int(right):
            return left | right
        raise _unsupported("|", left, right)

    def bitxor(self, left: Any, right: Any) -> Any:
        if _is_int(left) and _is_int(right):
            return left ^ right
        raise _unsupported("^", left, right)

    # --- comparisons ------------------------------------------------------------------------
    def _compare_gas(self, left: Any, right: Any) -> None:
        gas = size_gas(left) + size_gas(right)
        if gas:
            self.charge(gas, _REASON)

    def eq(self, left: Any, right: Any) -> bool:
        if type(left) is not int or type(right) is not int:
            self._compare_gas(left, right)
        return bool(left == right)

    def ne(self, left: Any, right: Any) -> bool:
        if type(left) is not int or type(right) is not int:
            self._compare_gas(left, right)
        return bool(left != right)

    def lt(self, left: Any, right: Any) -> bool:
        if type(left) is not int or type(right) is not int:
            self._ordered(left, right)
        return bool(left < right)

    def le(self, left: Any, right: Any) -> bool:
        if type(left) is not int or type(right) is not int:
            self._ordered(left, right)
        return bool(left <= right)

    def gt(self, left: Any, right: Any) -> bool:
        if type(left) is not int or type(right) is not int:
            self._ordered(left, right)
        return bool(left > right)

    def ge(self, left: Any, right: Any) -> bool:
        if type(left) is not int or type(right) is not int:
            self._ordered(left, right)
        return bool(left >= right)

    def is_(self, left: Any, right: Any) -> bool:
        return left is right

    def is_not(self, left: Any, right: Any) -> bool:
        return left is not right

    def chain(self, left: Any, names: tuple[str, ...], *operands: Callable[[], Any]) -> bool:
        """A chained comparison: `left op1 b op2 c ...`, operands evaluated lazily."""
        for name, operand in zip(names, operands, strict=True):
            right = operand()
            if not getattr(self, name)(left, right):
                return False
            left = right
        return True

    def _ordered(self, left: Any, right: Any) -> None:
        if not (_is_number(left) and _is_number(right)) and type(left) is not type(right):
            raise ContractFault(
                "TypeError", f"cannot order {type_name(left)} and {type_name(right)}"
            )
        self._compare_gas(left, right)

    def contains(self, item: Any, container: Any) -> bool:
        # The item is hashed (dicts, keys and items views) or compared with every member (lists,
        # tuples, values views): its size, and the members' or the text's.
        gas = size_gas(item)
        kind = type(container)
        if kind is str or kind is bytes:
            gas += text_gas(len(container))
        elif kind is list or kind is tuple or kind is DICT_VALUES:
            # Each member is compared with the item, and a comparison never goes further than
            # the item's own size (lengths differ, or it stops at the item's end): no need to
            # walk the members.
            gas += len(container) * (GAS_PER_ITEM + gas)
        elif kind is range:
            if gas:
                self.charge(gas, _REASON)
            return _in_range(item, container)
        elif kind not in _HASHED_CONTAINERS:
            # Anything else would be searched by iteration: an iterator (`enumerate`, `zip`)
            # consumed at C speed, or an error whose wording is CPython's.
            raise ContractFault("TypeError", f"'in' cannot search a {type_name(container)}")
        if gas:
            self.charge(gas, _REASON)
        return item in container

    def not_contains(self, item: Any, container: Any) -> bool:
        return not self.contains(item, container)

    # --- slices -----------------------------------------------------------------------------
    def slice(self, value: Any, lower: Any, upper: Any, step: Any) -> Any:
        kind = type(value)
        if kind not in (str, bytes, list, tuple):
            raise ContractFault("TypeError", f"a {type_name(value)} cannot be sliced")
        for bound in (lower, upper, step):
            if bound is not None and not _is_int(bound):
                raise ContractFault("TypeError", "slice bounds must be int or None")
        part = slice(lower, upper, step)
        length = len(range(*part.indices(len(value))))
        self.produce(kind, length, wide=kind is str and not value.isascii())
        return value[part]


_HASHED_CONTAINERS = frozenset({dict, DICT_KEYS, DICT_ITEMS, Map})


def _in_range(item: Any, numbers: range) -> bool:
    """`item in numbers` in constant time: CPython tests an int arithmetically but compares
    anything else with every number of the range."""
    if type(item) is Decimal:
        whole = item.truncate()
        return whole == item and whole in numbers
    return isinstance(item, int) and item in numbers


def _number_result(value: Any) -> Any:
    if type(value) is int or type(value) is bool:
        return check_int(int(value))
    return value
