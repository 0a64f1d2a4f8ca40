"""Pruning of old state versions (optional; blocks, receipts and indexes are never pruned).

With a retention of K blocks at committed height h, state stays readable at heights
>= horizon = h - K + 1. Pruning up to a horizon H deletes:
- every value version (key, v') shadowed by a newer version (key, v) with v <= H: a read at
  a height >= H finds v or something newer, never v'. A tombstone at such a v goes too (with
  nothing older left, "no entry" reads as absent, like the tombstone did);
- every tree node that became stale at a version <= H: only versions < H referenced it;
- the STATE_HEAD entry of a key whose pruned tombstone is its newest write (no head entry
  reads as absent, like the tombstone did).
Both come from the indexes written at commit time when pruning is enabled (STATE_CHANGES and
STALE_NODES), so pruning never scans the whole state. Versions committed while pruning was off
have no such index, and their shadowed values stay (harmless: just space).

Pruning is idempotent and runs in its own batch after a commit: a crash before it is written
only means it runs again.
"""

from __future__ import annotations

from dataclasses import dataclass

from gongshi.storage.kv import Batch, KVStore
from gongshi.storage.schema import (
    HEIGHT_SIZE,
    TOMBSTONE,
    KeySpace,
    decode_u64,
    encode_state_head,
    encode_u64,
    state_value_prefix,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneResult:
    """What one pruning pass did: the new horizon and how many entries it deleted."""

    pruned_below: int
    values_deleted: int
    nodes_deleted: int


def prune_target(committed_height: int, retention_blocks: int) -> int:
    """The oldest height whose state must stay readable (0: nothing to prune yet)."""
    assert retention_blocks >= 1
    return max(0, committed_height - retention_blocks + 1)


def fill_prune_batch(
    store: KVStore, batch: Batch, *, previous_horizon: int, horizon: int
) -> PruneResult:
    """Record in `batch` the deletions that move the pruning horizon from `previous_horizon`
    (already done) to `horizon`; reads the store, writes nothing itself."""
    assert 0 <= previous_horizon <= horizon
    stop = encode_u64(horizon + 1)
    values_deleted = 0
    changes = store.scan(KeySpace.STATE_CHANGES, encode_u64(previous_horizon), stop)
    for change_key, _ in changes:
        version = decode_u64(change_key[:HEIGHT_SIZE])
        prefix = state_value_prefix(change_key[HEIGHT_SIZE:])
        start = prefix + encode_u64(0)
        for value_key, _value in store.scan(
            KeySpace.STATE_VALUES, start, prefix + encode_u64(version)
        ):
            batch.delete(KeySpace.STATE_VALUES, value_key)
            values_deleted += 1
        newest_key = prefix + encode_u64(version)
        if store.get(KeySpace.STATE_VALUES, newest_key) == TOMBSTONE:
            batch.delete(KeySpace.STATE_VALUES, newest_key)
            values_deleted += 1
            raw_key = change_key[HEIGHT_SIZE:]
            # The head entry goes with it unless the key was written again since.
            if store.get(KeySpace.STATE_HEAD, raw_key) == encode_state_head(version, None):
                batch.delete(KeySpace.STATE_HEAD, raw_key)
        batch.delete(KeySpace.STATE_CHANGES, change_key)
    nodes_deleted = 0
    for stale_key, _ in store.scan(KeySpace.STALE_NODES, encode_u64(previous_horizon), stop):
        batch.delete(KeySpace.STATE_NODES, stale_key[HEIGHT_SIZE:])
        batch.delete(KeySpace.STALE_NODES, stale_key)
        nodes_deleted += 1
    return PruneResult(
        pruned_below=horizon, values_deleted=values_deleted, nodes_deleted=nodes_deleted
    )
