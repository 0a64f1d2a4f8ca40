"""The state tree does no avoidable work per block: each node it writes is hashed exactly once,
nothing unchanged is hashed again, and every node it reads is one it replaces."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.merkle.state_tree import MemoryNodeStore, StateTree


class Counted:
    """SHA-256 and a node reader over a `MemoryNodeStore`, both counting their calls."""

    def __init__(self, store: MemoryNodeStore) -> None:
        self.store = store
        self.hashes = 0
        self.reads = 0

    def hash(self, data: bytes) -> bytes:
        self.hashes += 1
        return hashlib.sha256(data).digest()

    def get_node(self, node_key: bytes) -> bytes | None:
        self.reads += 1
        return self.store.get_node(node_key)


def base_tree(size: int) -> tuple[MemoryNodeStore, list[bytes]]:
    store = MemoryNodeStore()
    keys = [b"key/%d" % index for index in range(size)]
    update = StateTree(store, lambda data: hashlib.sha256(data).digest()).apply(
        None, 0, {key: b"old" for key in keys}
    )
    store.write(update)
    return store, keys


@settings(max_examples=50, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=400),
    updated=st.sets(st.integers(min_value=0, max_value=399), max_size=60),
    inserted=st.integers(min_value=0, max_value=60),
    deleted=st.sets(st.integers(min_value=0, max_value=399), max_size=30),
)
def test_hashes_and_reads_per_block_are_the_minimum(
    size: int, updated: set[int], inserted: int, deleted: set[int]
) -> None:
    store, keys = base_tree(size)
    writes: dict[bytes, bytes | None] = {keys[index]: b"new" for index in updated if index < size}
    writes.update({b"fresh/%d" % index: b"new" for index in range(inserted)})
    removals = {keys[index]: None for index in deleted if index < size and index not in updated}
    writes.update(removals)
    counted = Counted(store)
    tree = StateTree(counted, counted.hash)
    counted.hashes = 0  # the constructor checks the hash size with one call
    update = tree.apply(0, 1, writes)
    upserts = sum(value is not None for value in writes.values())
    # Every write changes the state here, so every node read is replaced (goes stale).
    assert counted.reads == len(update.stale_nodes)
    if not writes:
        return
    if removals:
        # A leaf that rises after a delete is written again but keeps its hash.
        assert counted.hashes <= len(writes) + upserts + len(update.new_nodes)
    else:
        # One hash per key, per value and per node written: none for anything unchanged.
        assert counted.hashes == len(writes) + upserts + len(update.new_nodes)


def test_a_block_reads_and_rewrites_only_the_paths_of_its_writes() -> None:
    store, keys = base_tree(4096)
    counted = Counted(store)
    tree = StateTree(counted, counted.hash)
    update = tree.apply(0, 1, {keys[7]: b"new"})
    # A 4,096-key tree is about 3 levels deep: one path of nodes, not the tree.
    assert 2 <= len(update.new_nodes) <= 5
    assert counted.reads == len(update.stale_nodes) == len(update.new_nodes)
