"""RocksDB `KVStore` through rocksdict: one column family per key space, raw bytes.

Atomicity: a RocksDB `WriteBatch` is applied atomically across column families, and with the
write-ahead log on (the default) and `WriteOptions.sync`, `write` returns only once the batch is
durable. After a crash RocksDB replays the WAL up to the last complete batch, so a batch is
either wholly present or wholly absent: the ledger's crash safety rests on exactly this.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path

import rocksdict

from gongshi.storage.errors import DatabaseClosed, DatabaseOpenError, DatabaseWriteError
from gongshi.storage.kv import Batch
from gongshi.storage.schema import KeySpace

logger = logging.getLogger(__name__)

_BACKGROUND_JOBS = 2


CACHE_BYTES_DEFAULT = 256 << 20
BLOOM_BITS_PER_KEY = 10


def _options(cache: rocksdict.Cache) -> rocksdict.Options:
    options = rocksdict.Options(raw_mode=True)
    options.create_if_missing(True)
    options.create_missing_column_families(True)
    options.set_max_background_jobs(_BACKGROUND_JOBS)
    # Refuse to open on a checksum error instead of dropping data silently.
    options.set_paranoid_checks(True)
    table = rocksdict.BlockBasedOptions()
    # Most reads are point reads of keys that exist (tree nodes, tx index): a bloom filter per
    # file lets a read skip every file but the one holding the key.
    table.set_bloom_filter(BLOOM_BITS_PER_KEY, False)
    table.set_block_cache(cache)
    table.set_pin_l0_filter_and_index_blocks_in_cache(True)
    options.set_block_based_table_factory(table)
    return options


class RocksBatch:
    """A rocksdict WriteBatch that knows the store's column-family handles."""

    __slots__ = ("_batch", "_handles", "_taken")

    def __init__(self, handles: dict[KeySpace, rocksdict.ColumnFamily]) -> None:
        self._batch = rocksdict.WriteBatch(raw_mode=True)
        self._handles = handles
        self._taken: int | None = None  # the operation count once written (rocksdict forgets)

    def put(self, space: KeySpace, key: bytes, value: bytes) -> None:
        self._batch.put(key, value, self._handles[space])

    def put_many(self, space: KeySpace, entries: Iterable[tuple[bytes, bytes]]) -> None:
        # The loop calls rocksdict directly: a commit puts ~15 entries per transaction, and a
        # Python frame per entry (`put`) costs more than the WriteBatch insertion itself.
        put, handle = self._batch.put, self._handles[space]
        for key, value in entries:
            put(key, value, handle)

    def delete(self, space: KeySpace, key: bytes) -> None:
        self._batch.delete(key, self._handles[space])

    def __len__(self) -> int:
        return len(self._batch) if self._taken is None else self._taken

    def take(self) -> rocksdict.WriteBatch:
        self._taken = len(self._batch)
        return self._batch


class RocksStore:
    """A RocksDB database at `path`, holding every `KeySpace` as a column family, with one
    LRU block cache of `cache_bytes` for all of them."""

    def __init__(
        self, path: str | os.PathLike[str], *, cache_bytes: int = CACHE_BYTES_DEFAULT
    ) -> None:
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            cache = rocksdict.Cache(cache_bytes)  # one block cache shared by every key space
            self._db = rocksdict.Rdict(
                str(self.path),
                options=_options(cache),
                column_families={space.column_family: _options(cache) for space in KeySpace},
            )
        except Exception as error:  # rocksdict raises plain Exception for RocksDB statuses
            raise DatabaseOpenError(f"cannot open database at {self.path}: {error}") from error
        self._families = {
            space: self._db.get_column_family(space.column_family) for space in KeySpace
        }
        self._handles = {
            space: self._db.get_column_family_handle(space.column_family) for space in KeySpace
        }
        self._sync = rocksdict.WriteOptions()
        self._sync.sync = True
        self._closed = False
        # Scans not yet exhausted: a live RocksDB iterator keeps the database (and its lock)
        # open, so `close` ends them first.
        self._scans: weakref.WeakSet[Generator[tuple[bytes, bytes], None, None]] = weakref.WeakSet()

    def _family(self, space: KeySpace) -> rocksdict.Rdict:
        if self._closed:
            raise DatabaseClosed(f"database at {self.path} is closed")
        return self._families[space]

    def get(self, space: KeySpace, key: bytes) -> bytes | None:
        value = self._family(space).get(key)
        assert value is None or isinstance(value, bytes)
        return value

    def point_reader(self, space: KeySpace) -> Callable[[bytes], bytes | None]:
        # rocksdict's own method: a Python wrapper costs about half as much as the read.
        # Used after `close`, it raises rocksdict.DbClosedError.
        reader: Callable[[bytes], bytes | None] = self._family(space).get
        return reader

    def scan(
        self,
        space: KeySpace,
        start: bytes,
        stop: bytes | None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        scan = self._scan(self._family(space), start, stop, reverse)
        self._scans.add(scan)
        return scan

    @staticmethod
    def _scan(
        family: rocksdict.Rdict, start: bytes, stop: bytes | None, reverse: bool
    ) -> Generator[tuple[bytes, bytes], None, None]:
        iterator = family.iter()
        try:
            if reverse:
                yield from _scan_backward(iterator, start, stop)
            else:
                yield from _scan_forward(iterator, start, stop)
        finally:
            del iterator  # release the RocksDB iterator promptly: it pins the database

    def new_batch(self) -> RocksBatch:
        self._family(KeySpace.META)  # raises if closed
        return RocksBatch(self._handles)

    def write(self, batch: Batch, *, sync: bool = True) -> None:
        assert isinstance(batch, RocksBatch), "a RocksStore writes only its own batches"
        family = self._family(KeySpace.META)
        try:
            if sync:
                family.write(batch.take(), self._sync)
            else:
                family.write(batch.take())
        except Exception as error:
            raise DatabaseWriteError(f"write to {self.path} failed: {error}") from error

    def flush(self) -> None:
        """Flush every memtable to SST files (for measuring size on disk)."""
        for family in self._families.values():
            family.flush(True)

    def disk_usage_bytes(self) -> int:
        return sum(entry.stat().st_size for entry in self.path.rglob("*") if entry.is_file())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for scan in list(self._scans):
            scan.close()
        for family in self._families.values():
            family.close()
        self._families.clear()
        self._handles.clear()
        self._db.close()
        logger.debug("closed database path=%s", self.path)


def _scan_forward(
    iterator: rocksdict.RdictIter, start: bytes, stop: bytes | None
) -> Iterator[tuple[bytes, bytes]]:
    iterator.seek(start)
    while iterator.valid():
        key = iterator.key()
        if stop is not None and key >= stop:
            return
        yield key, iterator.value()
        iterator.next()


def _scan_backward(
    iterator: rocksdict.RdictIter, start: bytes, stop: bytes | None
) -> Iterator[tuple[bytes, bytes]]:
    if stop is None:
        iterator.seek_to_last()
    else:
        iterator.seek_for_prev(stop)
        if iterator.valid() and iterator.key() >= stop:
            iterator.prev()
    while iterator.valid():
        key = iterator.key()
        if key < start:
            return
        yield key, iterator.value()
        iterator.prev()
