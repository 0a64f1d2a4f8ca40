"""Versioned state values and state-tree nodes on a `KVStore`.

The state tree (`gongshi.merkle.state_tree`) holds only hashes; values live here, one entry per
(key, version at which it was written), so "the value at height h" is one reverse seek to the
newest version <= h. Writing is pure: `fill_state_batch` records what a block's state delta
puts in the batch, the caller writes the batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gongshi.storage.kv import Batch, KVStore, floor_entry
from gongshi.storage.schema import (
    KeySpace,
    decode_state_value,
    encode_state_value,
    encode_u64,
    stale_node_key,
    state_change_key,
    state_value_key,
    state_value_prefix,
)


class TreeDelta(Protocol):
    """What the ledger needs of `gongshi.merkle.state_tree.TreeUpdate`."""

    @property
    def new_nodes(self) -> dict[bytes, bytes]: ...

    @property
    def stale_nodes(self) -> list[tuple[int, bytes]]: ...


class StoreNodeReader:
    """The state tree's `NodeReader` over the STATE_NODES key space."""

    __slots__ = ("_store",)

    def __init__(self, store: KVStore) -> None:
        self._store = store

    def get_node(self, node_key: bytes) -> bytes | None:
        return self._store.get(KeySpace.STATE_NODES, node_key)


def read_state_value(store: KVStore, raw_key: bytes, height: int) -> bytes | None:
    """The value of `raw_key` as of `height` (None: absent or deleted)."""
    prefix = state_value_prefix(raw_key)
    entry = floor_entry(
        store, KeySpace.STATE_VALUES, prefix + encode_u64(0), prefix + encode_u64(height)
    )
    return None if entry is None else decode_state_value(entry[1])


def fill_state_batch(
    batch: Batch,
    *,
    version: int,
    writes: Mapping[bytes, bytes | None],
    delta: TreeDelta,
    record_history: bool,
) -> None:
    """Put a block's state delta and the tree's new nodes in `batch`.

    `record_history` adds the pruning indexes (the keys written at `version`, and the nodes the
    update made stale); a ledger that never prunes skips them and saves their space."""
    put = batch.put
    for raw_key, value in writes.items():
        put(KeySpace.STATE_VALUES, state_value_key(raw_key, version), encode_state_value(value))
    for node_key, node in delta.new_nodes.items():
        put(KeySpace.STATE_NODES, node_key, node)
    if record_history:
        for raw_key in writes:
            put(KeySpace.STATE_CHANGES, state_change_key(version, raw_key), b"")
        for stale_since, node_key in delta.stale_nodes:
            put(KeySpace.STALE_NODES, stale_node_key(stale_since, node_key), b"")
