"""Conformance of both KVStore implementations to one model: a dict per key space."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.storage.errors import DatabaseClosed, DatabaseOpenError
from gongshi.storage.kv import KVStore, floor_entry, prefix_stop
from gongshi.storage.memory import MemoryStore
from gongshi.storage.rocks import RocksStore
from gongshi.storage.schema import KeySpace


@pytest.fixture(params=["memory", "rocks"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    opened: KVStore = MemoryStore() if request.param == "memory" else RocksStore(tmp_path / "db")
    yield opened
    opened.close()


def test_batch_is_invisible_until_written(store: KVStore) -> None:
    batch = store.new_batch()
    batch.put(KeySpace.META, b"k", b"v")
    assert len(batch) == 1
    assert store.get(KeySpace.META, b"k") is None
    store.write(batch)
    assert store.get(KeySpace.META, b"k") == b"v"


def test_key_spaces_are_separate(store: KVStore) -> None:
    batch = store.new_batch()
    batch.put(KeySpace.HEADERS, b"k", b"headers")
    batch.put(KeySpace.TXS, b"k", b"txs")
    store.write(batch)
    assert store.get(KeySpace.HEADERS, b"k") == b"headers"
    assert store.get(KeySpace.TXS, b"k") == b"txs"
    assert store.get(KeySpace.RECEIPTS, b"k") is None
    assert list(store.scan(KeySpace.TXS, b"", None)) == [(b"k", b"txs")]


def test_later_operation_in_a_batch_wins(store: KVStore) -> None:
    batch = store.new_batch()
    batch.put(KeySpace.META, b"a", b"1")
    batch.delete(KeySpace.META, b"a")
    batch.put(KeySpace.META, b"b", b"1")
    batch.put(KeySpace.META, b"b", b"2")
    store.write(batch)
    assert store.get(KeySpace.META, b"a") is None
    assert store.get(KeySpace.META, b"b") == b"2"


def test_empty_value_is_a_value(store: KVStore) -> None:
    batch = store.new_batch()
    batch.put(KeySpace.STATE_CHANGES, b"k", b"")
    store.write(batch)
    assert store.get(KeySpace.STATE_CHANGES, b"k") == b""
    assert list(store.scan(KeySpace.STATE_CHANGES, b"", None)) == [(b"k", b"")]


def test_closed_store_refuses_use(store: KVStore) -> None:
    store.close()
    with pytest.raises(DatabaseClosed):
        store.get(KeySpace.META, b"k")


def test_rocks_store_persists_and_is_locked(tmp_path: Path) -> None:
    first = RocksStore(tmp_path / "db")
    batch = first.new_batch()
    batch.put(KeySpace.NONCES, b"addr", b"\x07")
    first.write(batch)
    with pytest.raises(DatabaseOpenError):
        RocksStore(tmp_path / "db")
    first.close()
    second = RocksStore(tmp_path / "db")
    assert second.get(KeySpace.NONCES, b"addr") == b"\x07"
    assert second.disk_usage_bytes() > 0
    second.close()


def test_prefix_stop() -> None:
    assert prefix_stop(b"ab") == b"ac"
    assert prefix_stop(b"a\xff") == b"b"
    assert prefix_stop(b"\xff\xff") is None
    assert prefix_stop(b"") is None


keys = st.binary(min_size=0, max_size=4)
operations = st.lists(
    st.tuples(
        st.sampled_from([KeySpace.META, KeySpace.TXS]), keys, st.none() | st.binary(max_size=3)
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(operations, max_size=4), start=keys, stop=st.none() | keys, probe=keys)
def test_stores_agree_with_a_dict_model(
    batches: list[list[tuple[KeySpace, bytes, bytes | None]]],
    start: bytes,
    stop: bytes | None,
    probe: bytes,
) -> None:
    model: dict[KeySpace, dict[bytes, bytes]] = {space: {} for space in KeySpace}
    with tempfile.TemporaryDirectory() as directory:
        stores: list[KVStore] = [MemoryStore(), RocksStore(Path(directory) / "db")]
        for operations_of_batch in batches:
            for store in stores:
                batch = store.new_batch()
                for space, key, value in operations_of_batch:
                    if value is None:
                        batch.delete(space, key)
                    else:
                        batch.put(space, key, value)
                store.write(batch, sync=False)
            for space, key, value in operations_of_batch:
                if value is None:
                    model[space].pop(key, None)
                else:
                    model[space][key] = value
        for space in (KeySpace.META, KeySpace.TXS):
            expected = sorted(
                item
                for item in model[space].items()
                if item[0] >= start and (stop is None or item[0] < stop)
            )
            below = [item for item in sorted(model[space].items()) if item[0] <= probe]
            for store in stores:
                assert list(store.scan(space, start, stop)) == expected
                assert list(store.scan(space, start, stop, reverse=True)) == expected[::-1]
                assert floor_entry(store, space, b"", probe) == (below[-1] if below else None)
                for key, value in model[space].items():
                    assert store.get(space, key) == value
        for store in stores:
            store.close()


def test_close_ends_live_scans_so_the_database_reopens(tmp_path: Path) -> None:
    first = RocksStore(tmp_path / "db")
    batch = first.new_batch()
    batch.put(KeySpace.TXS, b"a", b"1")
    batch.put(KeySpace.TXS, b"b", b"2")
    first.write(batch)
    scan = first.scan(KeySpace.TXS, b"", None)
    assert next(scan) == (b"a", b"1")
    first.close()
    assert list(scan) == []
    second = RocksStore(tmp_path / "db")
    assert second.get(KeySpace.TXS, b"b") == b"2"
    second.close()
