"""Size checks and size-proportional gas shared by the runtime's helpers."""

from __future__ import annotations

from collections.abc import Callable

from gongshi.contracts.faults import LimitFault
from gongshi.contracts.limits import (
    ALLOCATION_BYTES_MAX,
    CONTAINER_ITEMS_MAX,
    GAS_BUILTIN,
    GAS_BYTES_UNIT,
    GAS_PER_BYTES,
    GAS_PER_ITEM,
    INT_BITS_MAX,
    INT_LIMIT,
    ITEM_BYTES,
    STR_LENGTH_MAX,
)

TEXT_TYPES = (str, bytes)
SEQUENCE_TYPES = (list, tuple)


def size_gas(value: object) -> int:
    """Gas for one pass over `value`: per byte of text, per item of a container, else 0."""
    kind = type(value)
    if kind is str or kind is bytes:
        return (len(value) // GAS_BYTES_UNIT) * GAS_PER_BYTES  # type: ignore[arg-type]
    if kind is list or kind is tuple or kind is dict:
        return len(value) * GAS_PER_ITEM  # type: ignore[arg-type]
    return 0


def check_int(value: int) -> int:
    if -INT_LIMIT < value < INT_LIMIT:
        return value
    raise LimitFault(f"integer has more than {INT_BITS_MAX} bits")


def check_length(kind: type, length: int) -> int:
    """`length` if a value of type `kind` may have it; LimitFault otherwise."""
    if kind is str or kind is bytes:
        if length > STR_LENGTH_MAX:
            raise LimitFault(f"{kind.__name__} of {length} items, more than {STR_LENGTH_MAX}")
    elif length > CONTAINER_ITEMS_MAX:
        raise LimitFault(f"{kind.__name__} of {length} items, more than {CONTAINER_ITEMS_MAX}")
    return length


class Allocator:
    """Charges for values a helper creates and counts them against the invocation's
    allocation budget; mixed into `Machine`, which holds `charge` and `allocated`."""

    __slots__ = ("allocated",)
    allocated: int
    charge: Callable[[int, str], None]

    def produce(self, kind: type, length: int) -> None:
        """Before creating a `kind` of `length` items (characters for text)."""
        text = kind is str or kind is bytes
        size = length if text else length * ITEM_BYTES
        self.allocated += size
        if self.allocated > ALLOCATION_BYTES_MAX:
            raise LimitFault(f"a call may create at most {ALLOCATION_BYTES_MAX} bytes of values")
        gas = text_gas(length) if text else items_gas(length)
        self.charge(GAS_BUILTIN + gas, "contract values")


def items_gas(count: int) -> int:
    return count * GAS_PER_ITEM


def text_gas(count: int) -> int:
    return (count // GAS_BYTES_UNIT) * GAS_PER_BYTES
