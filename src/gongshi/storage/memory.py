"""A dict-backed `KVStore`: same semantics as RocksDB (ordered keys, atomic batches), no disk.

For pure tests of the ledger and of other packages. Each key space is a dict plus a sorted key
list kept with `bisect`, so scans are ordered like RocksDB's memcmp order.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator

from gongshi.storage.errors import DatabaseClosed
from gongshi.storage.kv import Batch
from gongshi.storage.schema import KeySpace

_Operation = tuple[KeySpace, bytes, bytes | None]


class MemoryBatch:
    """Operations recorded in order; a later operation on the same key wins, as in RocksDB."""

    __slots__ = ("operations",)

    def __init__(self) -> None:
        self.operations: list[_Operation] = []

    def put(self, space: KeySpace, key: bytes, value: bytes) -> None:
        self.operations.append((space, bytes(key), bytes(value)))

    def put_many(self, space: KeySpace, entries: Iterable[tuple[bytes, bytes]]) -> None:
        for key, value in entries:
            self.put(space, key, value)

    def delete(self, space: KeySpace, key: bytes) -> None:
        self.operations.append((space, bytes(key), None))

    def __len__(self) -> int:
        return len(self.operations)


class _Space:
    __slots__ = ("sorted_keys", "values")

    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}
        self.sorted_keys: list[bytes] = []

    def put(self, key: bytes, value: bytes) -> None:
        if key not in self.values:
            bisect.insort(self.sorted_keys, key)
        self.values[key] = value

    def delete(self, key: bytes) -> None:
        if self.values.pop(key, None) is not None:
            del self.sorted_keys[bisect.bisect_left(self.sorted_keys, key)]


class MemoryStore:
    """An in-memory `KVStore`. `writes` counts batches written (tests use it)."""

    def __init__(self) -> None:
        self._spaces = {space: _Space() for space in KeySpace}
        self._closed = False
        self.writes = 0

    def _space(self, space: KeySpace) -> _Space:
        if self._closed:
            raise DatabaseClosed("memory store is closed")
        return self._spaces[space]

    def get(self, space: KeySpace, key: bytes) -> bytes | None:
        return self._space(space).values.get(key)

    def point_reader(self, space: KeySpace) -> Callable[[bytes], bytes | None]:
        return self._space(space).values.get

    def scan(
        self,
        space: KeySpace,
        start: bytes,
        stop: bytes | None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        target = self._space(space)
        keys = target.sorted_keys
        low = bisect.bisect_left(keys, start)
        high = len(keys) if stop is None else bisect.bisect_left(keys, stop)
        # Snapshot the slice so a write during iteration cannot shift positions.
        selected = keys[low:high]
        if reverse:
            selected.reverse()
        for key in selected:
            value = target.values.get(key)
            if value is not None:
                yield key, value

    def new_batch(self) -> MemoryBatch:
        return MemoryBatch()

    def write(self, batch: Batch, *, sync: bool = True) -> None:
        assert isinstance(batch, MemoryBatch), "a MemoryStore writes only its own batches"
        for space, key, value in batch.operations:
            if value is None:
                self._space(space).delete(key)
            else:
                self._space(space).put(key, value)
        self.writes += 1

    def disk_usage_bytes(self) -> int:
        return 0

    def close(self) -> None:
        self._closed = True

    def key_count(self, space: KeySpace) -> int:
        return len(self._space(space).values)
