"""Dict keys whose hashes an attacker can make collide, refused before a dict degrades.

CPython hashes ints, tuples of them and our Decimals with public, unsalted functions: ints
congruent modulo 2**61 - 1 share a hash, and a tuple's hash can be solved for. A dict whose
keys share one hash is a linked list: n insertions cost n**2/2 comparisons and every lookup
n, all in C and unmetered (20,000 colliding keys: 1.4 s of CPU for 0.8M gas). str and bytes
hashes are salted per process, and distinct ints below 2**61 - 1 hash to distinct values, so
only the other keys are checked: before one is inserted, a probe with the same hash counts
the keys already there that share it (CPython compares the probe with each of them, and
with nothing else), and more than COLLISIONS_MAX refuses the insertion. Honest keys never
share a full 64-bit hash, so the count is 0 on every node.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from gongshi.contracts.faults import ContractFault, LimitFault

COLLISIONS_MAX = 8  # keys of one dict that may share one hash
SAFE_INT = (1 << 61) - 1  # |k| < this: hash(k) == k (but hash(-1) == -2)


class _Probe:
    """Hashes like the key being inserted and equals nothing; counts the comparisons."""

    __slots__ = ("hash", "matches")

    def __init__(self, hash_value: int) -> None:
        self.hash = hash_value
        self.matches = 0

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        self.matches += 1
        return False


def _unsalted(key: Any) -> bool:
    """Whether `key`'s hash is public (ints past 61 bits, tuples, Decimals)."""
    kind = type(key)
    if kind is int:
        return not -SAFE_INT < key < SAFE_INT
    return kind is not str and kind is not bytes and kind is not bool and key is not None


def check_new_key(container: dict[Any, Any], key: Any) -> bool:
    """Before `container[key] = ...`: LimitFault if too many keys already share its hash.
    True if the key needed the probe (callers charge GAS_KEY_PROBE for it)."""
    if not _unsalted(key):
        return False
    try:
        probe = _Probe(hash(key))
    except TypeError:
        raise ContractFault("TypeError", f"unhashable dict key: {type(key).__name__}") from None
    _ = probe in container
    if probe.matches > COLLISIONS_MAX:
        raise LimitFault(f"more than {COLLISIONS_MAX} keys of one dict share a hash")
    return True


_FIRST = itemgetter(0)


def build_dict(pairs: list[Any] | tuple[Any, ...]) -> tuple[dict[Any, Any], int]:
    """`dict(pairs)` with every key checked before it is inserted; and the probes made."""
    result: dict[Any, Any] = {}
    return result, insert_pairs(result, pairs, "dict()")


def update_dict(
    receiver: dict[Any, Any], other: dict[Any, Any] | list[Any] | tuple[Any, ...]
) -> int:
    """`receiver.update(other)` (a dict or pairs), every key checked; the probes made."""
    if isinstance(other, dict):
        if not any(map(_unsalted, other)):  # nothing to check: at C speed
            receiver.update(other)
            return 0
        return insert_pairs(receiver, list(other.items()), "update()")
    return insert_pairs(receiver, other, "update()")


def insert_pairs(target: dict[Any, Any], pairs: list[Any] | tuple[Any, ...], what: str) -> int:
    """Insert (key, value) pairs into `target` in order, keys checked (`check_new_key`);
    the number of keys that needed a probe."""
    plain = all(type(pair) is tuple and len(pair) == 2 for pair in pairs)
    if plain and not any(map(_unsalted, map(_FIRST, pairs))):
        target.update(pairs)  # nothing to check: at C speed
        return 0
    probes = 0
    for pair in pairs:
        if type(pair) not in (tuple, list) or len(pair) != 2:
            raise ContractFault("ValueError", f"{what} takes pairs of a key and a value")
        key, value = pair
        probes += check_new_key(target, key)
        target[key] = value
    return probes
