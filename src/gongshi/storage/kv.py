"""The key-value interface the ledger is written against.

Two implementations: `rocks.RocksStore` (the embedded default, RocksDB through rocksdict) and
`memory.MemoryStore` (dicts, for pure tests). The ledger needs only: point reads, ordered
range scans in both directions, and an atomic write batch, synced, across all key spaces.

Keys and values are `bytes`; keys within a key space sort bytewise (memcmp), as in RocksDB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from gongshi.storage.schema import KeySpace


class Batch(Protocol):
    """A write batch under construction: nothing is visible until `KVStore.write(batch)`."""

    def put(self, space: KeySpace, key: bytes, value: bytes) -> None: ...

    def put_many(self, space: KeySpace, entries: Iterable[tuple[bytes, bytes]]) -> None:
        """`put` of each (key, value) in `entries`, in order (one call for a block's entries
        of one key space: a commit puts thousands)."""
        ...

    def delete(self, space: KeySpace, key: bytes) -> None: ...

    def __len__(self) -> int:
        """Number of operations recorded so far."""
        ...


class KVStore(Protocol):
    """An ordered key-value store with key spaces and atomic batches."""

    def get(self, space: KeySpace, key: bytes) -> bytes | None: ...

    def point_reader(self, space: KeySpace) -> Callable[[bytes], bytes | None]:
        """`get` in `space` as one function, without the per-call checks, for hot loops (the
        state tree reads a few nodes per write). Use it while the store is open only."""
        ...

    def scan(
        self,
        space: KeySpace,
        start: bytes,
        stop: bytes | None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Entries with `start <= key < stop` (no upper bound if `stop` is None), ascending or,
        with `reverse`, descending. Callers stop iterating early as they please."""
        ...

    def new_batch(self) -> Batch: ...

    def write(self, batch: Batch, *, sync: bool = True) -> None:
        """Apply every operation of `batch` atomically; with `sync`, durable on return."""
        ...

    def disk_usage_bytes(self) -> int:
        """Bytes the store occupies on disk (0 for a memory store)."""
        ...

    def close(self) -> None: ...


def floor_entry(
    store: KVStore, space: KeySpace, start: bytes, key: bytes
) -> tuple[bytes, bytes] | None:
    """The entry with the greatest key in `[start, key]`, or None: a reverse seek."""
    for entry in store.scan(space, start, key + b"\x00", reverse=True):
        return entry
    return None


def prefix_stop(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key that starts with `prefix` (None: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])
