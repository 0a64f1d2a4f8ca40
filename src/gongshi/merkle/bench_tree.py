"""Benchmark driver of the state tree: authenticated writes per second, root included.

`bench_state_tree` fills a tree with `tree_keys` keys, then times `apply` (key and value hashing,
reading and rebuilding nodes, the root) over `blocks` blocks of `writes_per_block` writes, half
updates of existing keys and half new keys. Persisting the nodes is the store's job and is timed
separately (into a `MemoryNodeStore`). The rate is per CPU second of this process (the machine
is shared), with the wall-clock time beside it. Not consensus code: it reads the clock.

    python -m gongshi.merkle.bench_tree [tree_keys] [suite ...]
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass

from gongshi.crypto import get_suite
from gongshi.merkle.state_tree import MemoryNodeStore, StateTree

_FILL_CHUNK = 100_000


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeBenchFigures:
    """What one benchmark run measured."""

    suite: str
    tree_keys: int
    writes_per_block: int
    blocks: int
    writes_per_second: int  # per CPU second of `apply`, over the timed blocks
    apply_seconds_per_block: float  # CPU seconds
    apply_wall_seconds_per_block: float
    store_seconds_per_block: float  # MemoryNodeStore.write of the block's nodes
    new_nodes_per_block: int
    stale_nodes_per_block: int
    fill_seconds: float


def state_key(index: int) -> bytes:
    return b"bench/account/" + index.to_bytes(8, "big")


def bench_state_tree(
    *,
    suite: str = "intl",
    tree_keys: int = 1_000_000,
    writes_per_block: int = 20_000,
    blocks: int = 5,
    seed: int = 1,
) -> TreeBenchFigures:
    """Fill a tree, then time `blocks` blocks of writes into it, hashing with `suite`'s hash."""
    rng = random.Random(seed)
    store = MemoryNodeStore()
    tree = StateTree(store, get_suite(suite).hash)
    fill_started = time.perf_counter()
    version: int | None = None
    for start in range(0, tree_keys, _FILL_CHUNK):
        chunk = {
            state_key(index): rng.randbytes(32)
            for index in range(start, min(start + _FILL_CHUNK, tree_keys))
        }
        next_version = 0 if version is None else version + 1
        store.write(tree.apply(version, next_version, chunk))
        version = next_version
    fill_seconds = time.perf_counter() - fill_started
    size = tree_keys
    apply_seconds = apply_wall_seconds = store_seconds = 0.0
    new_nodes = stale_nodes = 0
    for _ in range(blocks):
        updates: dict[bytes, bytes | None] = {}
        while len(updates) < writes_per_block // 2 and size:
            updates[state_key(rng.randrange(size))] = rng.randbytes(32)
        while len(updates) < writes_per_block:
            updates[state_key(size)] = rng.randbytes(32)
            size += 1
        next_version = 0 if version is None else version + 1
        started, started_wall = time.process_time(), time.perf_counter()
        update = tree.apply(version, next_version, updates)
        applied, applied_wall = time.process_time(), time.perf_counter()
        store.write(update)
        apply_seconds += applied - started
        apply_wall_seconds += applied_wall - started_wall
        store_seconds += time.process_time() - applied
        new_nodes += len(update.new_nodes)
        stale_nodes += len(update.stale_nodes)
        version = next_version
    return TreeBenchFigures(
        suite=suite,
        tree_keys=tree_keys,
        writes_per_block=writes_per_block,
        blocks=blocks,
        writes_per_second=int(blocks * writes_per_block / apply_seconds) if apply_seconds else 0,
        apply_seconds_per_block=apply_seconds / max(blocks, 1),
        apply_wall_seconds_per_block=apply_wall_seconds / max(blocks, 1),
        store_seconds_per_block=store_seconds / max(blocks, 1),
        new_nodes_per_block=new_nodes // max(blocks, 1),
        stale_nodes_per_block=stale_nodes // max(blocks, 1),
        fill_seconds=fill_seconds,
    )


def main(argv: list[str]) -> None:
    tree_keys = int(argv[0]) if argv else 1_000_000
    for suite in argv[1:] or ["intl", "gm"]:
        print(bench_state_tree(suite=suite, tree_keys=tree_keys))


if __name__ == "__main__":
    main(sys.argv[1:])
