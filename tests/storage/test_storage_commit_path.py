"""The commit and tree-read fast paths give exactly what the plain paths give.

Bulk batch puts, point readers, the batch key builders, receipts roots from leaf hashes, the
single check of prepared state writes, and the ledger's cache of recently committed tree
nodes (`RecentNodes`, read through `node.overlay.OverlayNodes`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.crypto import get_suite
from gongshi.merkle.rfc6962 import hash_leaf, merkle_root, merkle_root_of_leaf_hashes
from gongshi.merkle.state_nodes import root_node_key
from gongshi.merkle.state_tree import StateTree
from gongshi.node.overlay import OverlayNodes
from gongshi.storage import ledger as ledger_module
from gongshi.storage.errors import InvalidStateKey
from gongshi.storage.kv import KVStore
from gongshi.storage.ledger import Ledger
from gongshi.storage.memory import MemoryStore
from gongshi.storage.rocks import RocksStore
from gongshi.storage.roots import receipt_leaf_hashes, receipts_root, receipts_root_of_leaves
from gongshi.storage.schema import (
    KeySpace,
    block_positions,
    encode_state_value,
    encode_state_values,
    event_key,
    event_position_suffix,
    event_prefix,
    position_key,
    state_key,
    state_value_key,
    state_value_keys,
)
from gongshi.storage.state import RecentNodes, StoreNodeReader
from gongshi.storage.synthetic import ChainShape, build_block

SUITE = get_suite("intl")
HASH = SUITE.hash

_raw_keys = st.builds(
    lambda namespace, key: state_key(namespace, key),
    st.text(alphabet="abcxyz/", min_size=1, max_size=8),
    st.binary(max_size=40),
)


@pytest.fixture(params=["memory", "rocks"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    opened: KVStore = MemoryStore() if request.param == "memory" else RocksStore(tmp_path / "db")
    yield opened
    opened.close()


@pytest.fixture(params=["memory", "rocks"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    opened = (
        Ledger(MemoryStore(), SUITE)
        if request.param == "memory"
        else Ledger.open(tmp_path / "ledger", SUITE)
    )
    yield opened
    opened.close()


# --- batches and point reads ----------------------------------------------------------------


def test_put_many_is_put_in_order(store: KVStore) -> None:
    entries = [(b"b", b"1"), (b"a", b"2"), (b"b", b"3"), (b"c", b"")]
    batch = store.new_batch()
    batch.put(KeySpace.META, b"first", b"x")
    batch.put_many(KeySpace.TXS, iter(entries))  # any iterable, consumed once
    batch.put_many(KeySpace.RECEIPTS, [])
    assert len(batch) == 1 + len(entries)
    store.write(batch)
    assert len(batch) == 1 + len(entries)  # still known once written
    assert list(store.scan(KeySpace.TXS, b"", None)) == [(b"a", b"2"), (b"b", b"3"), (b"c", b"")]
    assert store.get(KeySpace.META, b"first") == b"x"
    assert store.get(KeySpace.RECEIPTS, b"a") is None


def test_point_reader_reads_what_get_reads(store: KVStore) -> None:
    batch = store.new_batch()
    batch.put_many(KeySpace.STATE_NODES, [(b"k1", b"node"), (b"k2", b"")])
    batch.put(KeySpace.STATE_HEAD, b"k3", b"head")
    store.write(batch)
    read = store.point_reader(KeySpace.STATE_NODES)
    for key in (b"k1", b"k2", b"k3", b"absent"):
        assert read(key) == store.get(KeySpace.STATE_NODES, key)
    assert read(b"k2") == b""
    assert read(b"k3") is None  # another key space
    assert StoreNodeReader(store).get_node(b"k1") == b"node"


# --- key builders -----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    raws=st.lists(_raw_keys, max_size=12),
    values=st.lists(st.none() | st.binary(max_size=20), max_size=12),
    version=st.integers(0, 2**64 - 1),
)
def test_batch_key_builders_match_the_single_ones(
    raws: list[bytes], values: list[bytes | None], version: int
) -> None:
    assert state_value_keys(raws, version) == [state_value_key(raw, version) for raw in raws]
    assert encode_state_values(values) == [encode_state_value(value) for value in values]


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(0, 2**64 - 1),
    count=st.integers(0, 40),
    tx_index=st.integers(0, 2**32 - 1),
    event_index=st.integers(0, 2**32 - 1),
    names=st.tuples(st.text(max_size=10), st.text(max_size=10)),
)
def test_block_positions_and_event_keys_match_the_single_ones(
    height: int, count: int, tx_index: int, event_index: int, names: tuple[str, str]
) -> None:
    assert block_positions(height, count) == [position_key(height, i) for i in range(count)]
    assert event_prefix(*names) + event_position_suffix(height, tx_index, event_index) == event_key(
        *names, height, tx_index, event_index
    )


@settings(max_examples=40, deadline=None)
@given(leaves=st.lists(st.binary(max_size=50), max_size=40))
def test_roots_from_leaf_hashes_match_the_roots_from_leaves(leaves: list[bytes]) -> None:
    leaf_hashes = [hash_leaf(HASH, leaf) for leaf in leaves]
    assert merkle_root_of_leaf_hashes(HASH, leaf_hashes) == merkle_root(HASH, leaves)
    assert receipt_leaf_hashes(HASH, leaves) == leaf_hashes
    assert receipts_root_of_leaves(HASH, leaf_hashes) == receipts_root(HASH, leaves)


# --- state writes are checked once ------------------------------------------------------------


class _NoApply:
    def apply(self, *args: object) -> None:
        raise AssertionError("the commit recomputed the state tree")


@pytest.mark.parametrize("same_object", [True, False])
def test_offered_writes_are_checked_once_and_reused(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, same_object: bool
) -> None:
    made = build_block(ledger, 1, ChainShape(), suite=SUITE)
    height = made.block.header.height
    update = StateTree(StoreNodeReader(ledger.store), HASH).apply(None, height, made.state_writes)
    with pytest.raises(InvalidStateKey):
        ledger.offer_state_update(height, {b"\x09abc": b"v"}, update)
    with pytest.raises(InvalidStateKey):
        ledger.offer_state_update(height, {state_key("bench", b"k"): 1}, update)  # type: ignore[dict-item]
    checks: list[int] = []
    checked_writes = ledger_module._checked_writes

    def counting(writes: Mapping[bytes, bytes | None]) -> dict[bytes, bytes | None]:
        checks.append(len(writes))
        return checked_writes(writes)

    monkeypatch.setattr(ledger_module, "_checked_writes", counting)
    ledger.offer_state_update(height, made.state_writes, update)
    assert len(checks) == 1
    ledger._tree = _NoApply()  # type: ignore[assignment]
    # The same dict is not checked again; an equal mapping of another type is, and both reuse
    # the offered update and store the checked copy.
    writes = made.state_writes if same_object else MappingProxyType(made.state_writes)
    ledger.commit_block(made.block, made.receipts, writes, made.certificate)
    assert len(checks) == (1 if same_object else 2)
    for raw_key, value in made.state_writes.items():
        assert ledger.get_state_value(raw_key) == value


def test_writes_changed_after_they_were_prepared_are_checked_again(ledger: Ledger) -> None:
    made = build_block(ledger, 1, ChainShape(), suite=SUITE)
    height = made.block.header.height
    writes = dict(made.state_writes)
    ledger.compute_state_root(height, writes)
    writes[b""] = b"v"  # the same dict, changed after it was prepared
    with pytest.raises(InvalidStateKey):
        ledger.commit_block(made.block, made.receipts, writes, made.certificate)
    del writes[b""]
    ledger.commit_block(made.block, made.receipts, writes, made.certificate)
    assert ledger.committed_height == height


def test_unprepared_writes_are_still_checked(ledger: Ledger) -> None:
    made = build_block(ledger, 1, ChainShape(), suite=SUITE)
    bad = {**made.state_writes, b"": b"v"}
    with pytest.raises(InvalidStateKey):
        ledger.commit_block(made.block, made.receipts, bad, made.certificate)
    assert ledger.committed_height is None


# --- recently committed tree nodes --------------------------------------------------------------


def test_recent_nodes_keep_whole_versions_newest_first_within_the_bound() -> None:
    recent = RecentNodes(max_nodes=5)
    versions = [
        {bytes([v, n]): bytes([n]) for n in range(size)} for v, size in enumerate([2, 3, 2])
    ]
    recent.add(versions[0])
    recent.add(versions[1])
    assert len(recent) == 5 and dict(recent.nodes) == {**versions[0], **versions[1]}
    recent.add(versions[2])  # 7 nodes: the oldest version goes
    assert dict(recent.nodes) == {**versions[1], **versions[2]}
    recent.add({bytes([9, n]): b"x" for n in range(6)})  # larger than the bound: not kept
    assert dict(recent.nodes) == {**versions[1], **versions[2]}
    largest = {bytes([8, n]): b"y" for n in range(5)}
    recent.add(largest)  # as large as the bound: kept alone
    assert dict(recent.nodes) == largest and len(recent) == 5
    versions[2][b"late"] = b"y"  # the cache holds its own copy of a version's entries
    assert b"late" not in recent.nodes


def test_ledger_caches_the_nodes_it_committed(ledger: Ledger) -> None:
    stored = ledger.store.point_reader(KeySpace.STATE_NODES)
    for seed in range(4):
        made = build_block(ledger, seed, ChainShape(txs_per_block=6), suite=SUITE)
        ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
    recent = dict(ledger.recent_nodes)
    versions = {key[:8] for key in recent}
    assert len(versions) == 4  # every committed version so far
    for key, node in recent.items():
        assert stored(key) == node


def test_overlay_reads_recent_nodes_from_memory_and_the_rest_from_the_store(
    ledger: Ledger,
) -> None:
    for seed in range(3):
        made = build_block(ledger, seed, ChainShape(txs_per_block=6), suite=SUITE)
        ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
    recent_key = root_node_key(0)  # version 0's root: no later version reaches it
    recent_node = ledger.recent_nodes[recent_key]
    gone = ledger.store.new_batch()
    gone.delete(KeySpace.STATE_NODES, recent_key)
    ledger.store.write(gone)
    assert ledger.store.get(KeySpace.STATE_NODES, recent_key) is None
    overlay = OverlayNodes(ledger, [{b"layer-key": b"layer-node"}])
    assert overlay.get_node(recent_key) == recent_node  # from memory
    assert overlay.get_node(b"layer-key") == b"layer-node"
    assert overlay.get_node(b"absent") is None
    # The next version computed over the overlay equals the one over the store alone.
    made = build_block(ledger, 9, ChainShape(txs_per_block=6), suite=SUITE)
    height = made.block.header.height
    over_overlay = StateTree(OverlayNodes(ledger, ()), HASH).apply(
        height - 1, height, made.state_writes
    )
    assert over_overlay.root_hash == made.block.header.state_root
