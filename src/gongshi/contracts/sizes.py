"""Size checks and size-proportional gas shared by the runtime's helpers."""

from __future__ import annotations

from collections.abc import Callable

from gongshi.contracts.faults import LimitFault
from gongshi.contracts.limits import (
    ALLOCATION_BYTES_MAX,
    CONTAINER_ITEMS_MAX,
    GAS_BUILTIN,
    GAS_BYTES_UNIT,
    GAS_NESTED,
    GAS_PER_BYTES,
    GAS_PER_ITEM,
    INT_BITS_MAX,
    INT_LIMIT,
    ITEM_BYTES,
    NESTING_MAX,
    STR_LENGTH_MAX,
    WIDE_CHAR_BYTES,
)

TEXT_TYPES = (str, bytes)
SEQUENCE_TYPES = (list, tuple)


# Dict views compare (keys, items) and search (values) at C speed like the containers they show.
DICT_KEYS: type = type({}.keys())
DICT_VALUES: type = type({}.values())
DICT_ITEMS: type = type({}.items())
VIEW_TYPES = frozenset({DICT_KEYS, DICT_VALUES, DICT_ITEMS})
_CONTAINERS = frozenset({list, tuple, dict}) | VIEW_TYPES
_SIZED = _CONTAINERS | {str, bytes}
# Past this much gas the exact figure does not matter: no meter holds it.
SIZE_GAS_CAP = 10**15


def size_gas(value: object) -> int:
    """Gas for one pass over `value`, as CPython's comparing or hashing of it would make:
    per byte of text and per item of a container, nested containers included and counted as
    often as they are referenced (`[big] * 1000` weighs 1000 bigs). Flat containers are
    measured at C speed; each distinct nested object is measured once (memoised by identity,
    which never reaches the result); a cycle weighs SIZE_GAS_CAP. Each reference to a nested
    container adds GAS_NESTED: measuring it is Python work, far slower than CPython's. Dict
    views weigh what they show (`d.items() == e.items()` compares the values too).

    LimitFault if containers nest deeper than NESTING_MAX: CPython compares them by C
    recursion (whose limit depends on the caller's stack) and hashes tuples with no limit at
    all (a deep enough tuple crashes the interpreter), so such values are refused first."""
    kind = type(value)
    if kind is str or kind is bytes:
        return (len(value) // GAS_BYTES_UNIT) * GAS_PER_BYTES  # type: ignore[arg-type]
    if kind not in _CONTAINERS:
        return 0
    return min(_container_gas(value), SIZE_GAS_CAP)


_IN_PROGRESS = (-1, -1)


def _container_gas(root: object) -> int:
    # Iterative post-order walk (values may nest deeper than Python's stack); memo holds
    # (gas, height) of each finished node.
    memo: dict[int, tuple[int, int]] = {}
    stack: list[tuple[object, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, children_done = stack.pop()
        key = id(node)
        if children_done:
            memo[key] = _node_gas(node, memo)
            continue
        found = memo.get(key)
        if found is not None:
            if found == _IN_PROGRESS:
                return SIZE_GAS_CAP
            if depth - 1 + found[1] > NESTING_MAX:
                raise _too_deep()
            continue
        if depth > NESTING_MAX:
            raise _too_deep()
        memo[key] = _IN_PROGRESS
        stack.append((node, depth, True))
        # Last in, first out: a child's subtree is done before its next sibling is popped,
        # so meeting a node still in progress means it is an ancestor: a cycle.
        stack.extend((child, depth + 1, False) for child in _nested(node))
    return memo[id(root)][0]


def _too_deep() -> LimitFault:
    return LimitFault(f"values nested deeper than {NESTING_MAX} cannot be compared or hashed")


def _members(node: object) -> list[object]:
    kind = type(node)
    if kind is dict:
        return [*node.keys(), *node.values()]  # type: ignore[attr-defined]
    if kind is DICT_ITEMS:
        # The dict's own keys and values, never the fresh (key, value) tuples the view makes:
        # those would die between two calls and their ids could be reused within one walk.
        return [member for pair in node for member in pair]  # type: ignore[attr-defined]
    if kind is DICT_KEYS or kind is DICT_VALUES:
        return [*node]  # type: ignore[misc]
    return node  # type: ignore[return-value]


def _nested(node: object) -> list[object]:
    """The containers directly inside `node` (found at C speed when there are none)."""
    members = _members(node)
    if not _CONTAINERS.intersection(map(type, members)):
        return []
    return [member for member in members if type(member) in _CONTAINERS]


def _node_gas(node: object, memo: dict[int, tuple[int, int]]) -> tuple[int, int]:
    members = _members(node)
    gas = len(members) * GAS_PER_ITEM
    kinds = set(map(type, members))
    if not kinds & _SIZED:
        return gas, 1
    height = 1
    for member in members:
        kind = type(member)
        if kind is str or kind is bytes:
            gas += (len(member) // GAS_BYTES_UNIT) * GAS_PER_BYTES  # type: ignore[arg-type]
        elif kind in _CONTAINERS:
            child_gas, child_height = memo[id(member)]
            gas = min(gas + GAS_NESTED + child_gas, SIZE_GAS_CAP)
            height = max(height, child_height + 1)
    return gas, height


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

    def produce(self, kind: type, length: int, *, wide: bool = False) -> None:
        """Before creating a `kind` of `length` items (characters for text; `wide`: a str
        that may hold non-ASCII characters, up to 4 bytes each in CPython)."""
        text = kind is str or kind is bytes
        self.account(length * (WIDE_CHAR_BYTES if wide else 1) if text else length * ITEM_BYTES)
        gas = text_gas(length) if text else items_gas(length)
        self.charge(GAS_BUILTIN + gas, "contract values")

    def account(self, size: int) -> None:
        """Count `size` bytes of new values against the invocation's allocation budget."""
        self.allocated += size
        if self.allocated > ALLOCATION_BYTES_MAX:
            raise LimitFault(f"a call may create at most {ALLOCATION_BYTES_MAX} bytes of values")


def footprint(value: object) -> int:
    """Bytes a new str or bytes takes, as the allocation budget counts them."""
    if type(value) is str:
        return len(value) if value.isascii() else WIDE_CHAR_BYTES * len(value)
    if type(value) is bytes:
        return len(value)
    return 0


def items_gas(count: int) -> int:
    return count * GAS_PER_ITEM


def text_gas(count: int) -> int:
    return (count // GAS_BYTES_UNIT) * GAS_PER_BYTES
