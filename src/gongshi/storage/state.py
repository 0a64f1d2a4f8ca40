"""Versioned state values and state-tree nodes on a `KVStore`.

The state tree (`gongshi.merkle.state_tree`) holds only hashes; values live here, twice:
- STATE_VALUES, one entry per (key, version at which it was written): "the value at height h"
  is one reverse seek to the newest version <= h;
- STATE_HEAD, one entry per key: the version it was last written at and the value then.

A read at height h is one point read of the head entry; only when that entry is newer than h
(the key changed after h) does it fall back to the reverse seek. Execution and admission read
the committed head, so they almost never seek. The head entry of a block's writes goes in the
same batch as the versioned entry, so the two never disagree after a crash.

STATE_NAMESPACES keeps, per namespace, the last version that wrote one of its keys: a cache of
values read from a few namespaces (`execution.identities.CachedIdentityReader`) stays exact
while it does not move.

Writing is pure: `fill_state_batch` records what a block's state delta puts in the batch, the
caller writes the batch. `RecentNodes` keeps the tree nodes of the last committed versions in
memory for the state-tree reader of the next blocks (`Ledger.recent_nodes`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from typing import Protocol

from gongshi.storage.kv import Batch, KVStore, floor_entry
from gongshi.storage.schema import (
    HEIGHT_SIZE,
    KeySpace,
    decode_state_value,
    decode_u64,
    encode_state_values,
    encode_u64,
    namespace_of_state_key,
    split_state_head,
    stale_node_key,
    state_change_key,
    state_value_keys,
    state_value_prefix,
)

logger = logging.getLogger(__name__)


class TreeDelta(Protocol):
    """What the ledger needs of `gongshi.merkle.state_tree.TreeUpdate`."""

    @property
    def new_nodes(self) -> dict[bytes, bytes]: ...

    @property
    def stale_nodes(self) -> list[tuple[int, bytes]]: ...


class StoreNodeReader:
    """The state tree's `NodeReader` over the STATE_NODES key space, while `store` is open."""

    __slots__ = ("get_node",)

    def __init__(self, store: KVStore) -> None:
        # `get_node` is the store's point read itself: no wrapper call per node read.
        self.get_node = store.point_reader(KeySpace.STATE_NODES)


RECENT_NODES_MAX = 65_536  # ~20 MB typical, ≤ ~45 MB: some 40 blocks of 300 transactions


class RecentNodes:
    """The state-tree nodes of the last few committed versions, in memory, for the next
    versions' updates: each block rewrites the upper levels, and the nodes it reads there were
    mostly written a few blocks before. Nodes are immutable under their key, so a cached node
    is the stored one. Whole versions are dropped, oldest first, to keep at most `max_nodes`;
    a version with more nodes than that is not kept at all.

    One writer (`add`, after the version is durable) and any readers: each dict operation is
    atomic, and a node dropped while read is still in the store."""

    __slots__ = ("_count", "_max_nodes", "_nodes", "_versions")

    def __init__(self, max_nodes: int = RECENT_NODES_MAX) -> None:
        self._max_nodes = max_nodes
        self._nodes: dict[bytes, bytes] = {}
        self._versions: deque[list[bytes]] = deque()  # node keys of each version, oldest first
        self._count = 0

    def add(self, new_nodes: Mapping[bytes, bytes]) -> None:
        """Keep a committed version's new nodes (`TreeUpdate.new_nodes`)."""
        if len(new_nodes) > self._max_nodes:
            return
        keys = list(new_nodes)
        self._nodes.update(new_nodes)
        self._versions.append(keys)
        self._count += len(keys)
        while self._count > self._max_nodes:  # never drops the version just added
            dropped = self._versions.popleft()
            self._count -= len(dropped)
            pop = self._nodes.pop
            for key in dropped:
                pop(key, None)

    @property
    def nodes(self) -> Mapping[bytes, bytes]:
        """The cached nodes by node key (read-only; consult before the store)."""
        return self._nodes

    def __len__(self) -> int:
        return len(self._nodes)


def read_state_value(store: KVStore, raw_key: bytes, height: int) -> bytes | None:
    """The value of `raw_key` as of `height` (None: absent or deleted), `height` committed.

    Exact at any committed height, without a lock against a concurrent commit: a head entry
    written at version v <= height is the last write up to the newest committed height, so
    no write falls in (v, height]; a missing head entry means the key was never written (or
    its tombstone was pruned, which makes it absent at every readable height)."""
    head = store.get(KeySpace.STATE_HEAD, raw_key)
    if head is None:
        return None
    version, stored = split_state_head(head)
    if version <= height:
        return decode_state_value(stored)
    return read_versioned_state_value(store, raw_key, height)


def read_versioned_state_value(store: KVStore, raw_key: bytes, height: int) -> bytes | None:
    """The value of `raw_key` as of `height` from STATE_VALUES alone: one reverse seek."""
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
    version_bytes = encode_u64(version)  # = encode_state_head(version, value) minus the value
    stored = encode_state_values(writes.values())
    batch.put_many(
        KeySpace.STATE_VALUES, zip(state_value_keys(writes, version), stored, strict=True)
    )
    batch.put_many(
        KeySpace.STATE_HEAD, zip(writes, [version_bytes + value for value in stored], strict=True)
    )
    # namespace_of_state_key, inlined; a dict keeps the first-seen order
    namespaces = dict.fromkeys([raw_key[1 : 1 + raw_key[0]] for raw_key in writes])
    batch.put_many(
        KeySpace.STATE_NAMESPACES, [(namespace, version_bytes) for namespace in namespaces]
    )
    batch.put_many(KeySpace.STATE_NODES, delta.new_nodes.items())
    if record_history:
        batch.put_many(
            KeySpace.STATE_CHANGES,
            [(state_change_key(version, raw_key), b"") for raw_key in writes],
        )
        batch.put_many(
            KeySpace.STALE_NODES,
            [(stale_node_key(since, node_key), b"") for since, node_key in delta.stale_nodes],
        )


def newest_state_entries(store: KVStore) -> dict[bytes, tuple[int, bytes]]:
    """Every state key's newest STATE_VALUES entry: raw key -> (version, stored value)."""
    newest: dict[bytes, tuple[int, bytes]] = {}
    for key, data in store.scan(KeySpace.STATE_VALUES, b"", None):
        # Keys sort by (key, version): the last entry of a key is its newest.
        newest[key[2:-HEIGHT_SIZE]] = (decode_u64(key[-HEIGHT_SIZE:]), data)
    return newest


def read_namespace_written(store: KVStore, namespace: str) -> int | None:
    """The last committed version that wrote a key of `namespace` (None: never)."""
    data = store.get(KeySpace.STATE_NAMESPACES, namespace.encode("utf-8"))
    return None if data is None else decode_u64(data)


def fill_state_head_upgrade(store: KVStore, batch: Batch, committed_height: int | None) -> int:
    """Put in `batch` what a schema 1 database lacks: the STATE_HEAD entry of every state key,
    and a STATE_NAMESPACES entry for every namespace (at the committed height: a version
    written before cannot be told apart once pruned, and a later one is always safe for a
    cache to assume). Returns the number of keys. The caller writes it with the new schema
    version, in one batch."""
    newest = newest_state_entries(store)
    namespaces: dict[bytes, None] = {}
    for raw_key, (version, stored) in newest.items():
        batch.put(KeySpace.STATE_HEAD, raw_key, encode_u64(version) + stored)
        namespaces[namespace_of_state_key(raw_key)] = None
    if committed_height is not None:
        for namespace in namespaces:
            batch.put(KeySpace.STATE_NAMESPACES, namespace, encode_u64(committed_height))
    logger.info("state head upgrade keys=%d namespaces=%d", len(newest), len(namespaces))
    return len(newest)
