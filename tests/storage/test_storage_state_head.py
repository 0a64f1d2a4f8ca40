"""STATE_HEAD: reads of the committed head are one point read, exact at every height, kept
exact by pruning, checked by the deep check, and rebuilt when a schema 1 database opens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.crypto import get_suite
from gongshi.storage.errors import LedgerIntegrityError
from gongshi.storage.ledger import Ledger, LedgerConfig
from gongshi.storage.memory import MemoryStore
from gongshi.storage.rocks import RocksStore
from gongshi.storage.schema import (
    SCHEMA_VERSION,
    KeySpace,
    MetaKey,
    decode_u64,
    encode_state_head,
    encode_u64,
    state_key,
)
from gongshi.storage.state import read_state_value, read_versioned_state_value
from gongshi.storage.synthetic import CONTRACT, ChainShape, build_block, make_block

SUITE = get_suite("intl")
KEY_A = state_key("bank", b"a")
KEY_B = state_key("bank", b"b")
KEY_NEVER = state_key("bank", b"never")

raw_keys = st.builds(state_key, st.sampled_from(["bank", "0x" + "cd" * 20]), st.binary(max_size=2))
values = st.binary(max_size=6)


class CountingStore(MemoryStore):
    """A MemoryStore that counts range scans per key space."""

    def __init__(self) -> None:
        super().__init__()
        self.scans: dict[KeySpace, int] = {}

    def scan(
        self, space: KeySpace, start: bytes, stop: bytes | None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        self.scans[space] = self.scans.get(space, 0) + 1
        return super().scan(space, start, stop, reverse=reverse)


def commit(ledger: Ledger, writes: dict[bytes, bytes | None]) -> None:
    made = make_block(ledger, SUITE, (), (), writes)
    ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)


def test_reads_of_the_head_do_not_scan_and_older_heights_fall_back() -> None:
    store = CountingStore()
    ledger = Ledger(store, SUITE)
    commit(ledger, {KEY_A: b"a0", KEY_B: b"b0"})
    commit(ledger, {KEY_A: b"a1"})
    pinned = ledger.state_reader(1)
    store.scans.clear()
    assert pinned.get(KEY_A) == b"a1"
    assert pinned.get(KEY_B) == b"b0"  # written at 0, unchanged since: still a point read
    assert ledger.get_state_value(KEY_NEVER) is None
    assert store.scans.get(KeySpace.STATE_VALUES, 0) == 0
    commit(ledger, {KEY_A: None, KEY_B: b"b2"})  # the pinned view stays at height 1
    assert pinned.get(KEY_A) == b"a1"
    assert pinned.get(KEY_B) == b"b0"
    assert store.scans[KeySpace.STATE_VALUES] == 2
    assert ledger.get_state_value(KEY_A) is None
    assert ledger.get_state_value(KEY_A, 0) == b"a0"


@settings(max_examples=60, deadline=None)
@given(
    blocks=st.lists(st.dictionaries(raw_keys, st.none() | values, max_size=5), max_size=10),
    retention=st.none() | st.integers(min_value=1, max_value=3),
)
def test_head_reads_equal_versioned_reads_at_every_readable_height(
    blocks: list[dict[bytes, bytes | None]], retention: int | None
) -> None:
    ledger = Ledger(MemoryStore(), SUITE, LedgerConfig(state_retention_blocks=retention))
    snapshots: list[dict[bytes, bytes]] = []
    every_key = {KEY_NEVER}
    for writes in blocks:
        current = dict(snapshots[-1]) if snapshots else {}
        for key, value in writes.items():
            every_key.add(key)
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        commit(ledger, writes)
        snapshots.append(current)
        for height in range(ledger.state_pruned_below, len(snapshots)):
            for key in sorted(every_key):
                expected = snapshots[height].get(key)
                assert read_state_value(ledger.store, key, height) == expected
                assert read_versioned_state_value(ledger.store, key, height) == expected
        ledger.check_integrity()


def test_the_last_written_height_of_a_namespace_moves_only_when_it_is_written() -> None:
    ledger = Ledger(MemoryStore(), SUITE)
    other = state_key("identity", b"m")
    assert ledger.namespace_written_height("bank") is None
    commit(ledger, {KEY_A: b"a0"})
    commit(ledger, {other: b"m1"})
    commit(ledger, {})
    commit(ledger, {KEY_B: None, other: b"m3"})
    commit(ledger, {other: None})
    assert ledger.namespace_written_height("bank") == 3
    assert ledger.namespace_written_height("identity") == 4
    assert ledger.namespace_written_height("governance") is None
    ledger.check_integrity()


def test_pruning_drops_the_head_entry_of_a_pruned_tombstone_only() -> None:
    ledger = Ledger(MemoryStore(), SUITE, LedgerConfig(state_retention_blocks=1))
    commit(ledger, {KEY_A: b"a0", KEY_B: b"b0"})
    commit(ledger, {KEY_A: None, KEY_B: None})
    commit(ledger, {KEY_B: b"b2"})
    commit(ledger, {})
    assert ledger.state_pruned_below == 3
    assert ledger.store.get(KeySpace.STATE_HEAD, KEY_A) is None
    assert ledger.store.get(KeySpace.STATE_HEAD, KEY_B) == encode_state_head(2, b"b2")
    assert ledger.get_state_value(KEY_A) is None
    assert ledger.get_state_value(KEY_B) == b"b2"
    ledger.check_integrity()


def build(path: Path, blocks: int = 4) -> None:
    shape = ChainShape(txs_per_block=6, key_space=3, delete_every=3)
    with Ledger.open(path, SUITE) as ledger:
        for _ in range(blocks):
            made = build_block(ledger, 9, shape, suite=SUITE)
            ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)


def rewrite(path: Path, change: Callable[[RocksStore], None]) -> None:
    store = RocksStore(path)
    try:
        change(store)
    finally:
        store.close()


def head_entries(store: RocksStore) -> dict[bytes, bytes]:
    return dict(store.scan(KeySpace.STATE_HEAD, b"", None))


def test_a_schema_1_database_gets_its_head_space_on_open(tmp_path: Path) -> None:
    path = tmp_path / "db"
    build(path)
    expected: dict[bytes, bytes] = {}

    def downgrade(store: RocksStore) -> None:
        expected.update(head_entries(store))
        batch = store.new_batch()
        for raw_key in expected:
            batch.delete(KeySpace.STATE_HEAD, raw_key)
        for namespace, _ in store.scan(KeySpace.STATE_NAMESPACES, b"", None):
            batch.delete(KeySpace.STATE_NAMESPACES, namespace)
        batch.put(KeySpace.META, MetaKey.SCHEMA_VERSION, encode_u64(1))
        store.write(batch)

    rewrite(path, downgrade)
    assert expected
    with Ledger.open(path, SUITE) as ledger:
        ledger.check_integrity()
        stored = ledger.store.get(KeySpace.META, MetaKey.SCHEMA_VERSION)
        assert stored is not None and decode_u64(stored) == SCHEMA_VERSION
        # Namespaces written before the upgrade count as written at the head (safe for caches).
        assert ledger.namespace_written_height(CONTRACT) == ledger.committed_height
    rewrite(path, lambda store: assert_equal(head_entries(store), expected))


def assert_equal(found: dict[bytes, bytes], expected: dict[bytes, bytes]) -> None:
    assert found == expected


def first_head(store: RocksStore) -> tuple[bytes, bytes]:
    return next(iter(store.scan(KeySpace.STATE_HEAD, b"", None)))


def damage_value(store: RocksStore) -> None:
    raw_key, head = first_head(store)
    batch = store.new_batch()
    batch.put(KeySpace.STATE_HEAD, raw_key, head[:8] + b"\x01forged")
    store.write(batch)


def damage_version(store: RocksStore) -> None:
    raw_key, head = first_head(store)
    batch = store.new_batch()
    batch.put(KeySpace.STATE_HEAD, raw_key, encode_u64(decode_u64(head[:8]) + 7) + head[8:])
    store.write(batch)


def drop_entry(store: RocksStore) -> None:
    raw_key, _ = first_head(store)
    batch = store.new_batch()
    batch.delete(KeySpace.STATE_HEAD, raw_key)
    store.write(batch)


def add_entry(store: RocksStore) -> None:
    batch = store.new_batch()
    batch.put(KeySpace.STATE_HEAD, KEY_NEVER, encode_state_head(1, b"ghost"))
    store.write(batch)


def namespace_written(version: int | None) -> Callable[[RocksStore], None]:
    def change(store: RocksStore) -> None:
        batch = store.new_batch()
        if version is None:
            batch.delete(KeySpace.STATE_NAMESPACES, CONTRACT.encode())
        else:
            batch.put(KeySpace.STATE_NAMESPACES, CONTRACT.encode(), encode_u64(version))
        store.write(batch)

    return change


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (damage_value, "is not its newest value"),
        (damage_version, "above the head"),
        (drop_entry, "has no head entry"),
        (add_entry, "is not its newest value"),
        (namespace_written(None), "has no last written version"),
        (namespace_written(0), "wrong last written version"),
        (namespace_written(9), "wrong last written version"),
    ],
    ids=["value", "version", "missing", "extra", "no-namespace", "namespace-old", "namespace-new"],
)
def test_the_deep_check_finds_a_damaged_head_space(
    tmp_path: Path, change: Callable[[RocksStore], None], reason: str
) -> None:
    path = tmp_path / "db"
    build(path)
    rewrite(path, change)
    with Ledger.open(path, SUITE) as ledger:  # the head block is intact: it opens
        with pytest.raises(LedgerIntegrityError, match=reason) as raised:
            ledger.check_integrity()
        assert raised.value.height == ledger.committed_height


def test_an_empty_ledger_holding_head_entries_refuses_open() -> None:
    store = MemoryStore()
    batch = store.new_batch()
    batch.put(KeySpace.STATE_HEAD, KEY_A, encode_state_head(0, b"x"))
    store.write(batch)
    with pytest.raises(LedgerIntegrityError, match="STATE_HEAD"):
        Ledger(store, SUITE)
