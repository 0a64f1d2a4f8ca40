"""Signature verification across cores.

Both suites' `verify` release the GIL, so a thread pool (sized to the cores, owned by the node
and injected here) verifies a batch in parallel. Work goes out in a few chunks per worker, not
one task per signature: a task costs about as much as an Ed25519 verification (35-75 µs of
CPU for the submit and the wake-ups), so no chunk is smaller than `PARALLEL_BATCH_MIN`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

from gongshi.crypto import Suite
from gongshi.execution.errors import BadTransactionSignature
from gongshi.execution.prepared import PreparedTransaction

T = TypeVar("T")
R = TypeVar("R")

CHUNKS_PER_WORKER = 4
# Batches smaller than this run on the calling thread: a hand-off would cost more.
PARALLEL_BATCH_MIN = 8


def chunk_bounds(count: int, workers: int) -> list[tuple[int, int]]:
    """(start, end) of the chunks a batch of `count` goes out in: at most
    `workers * CHUNKS_PER_WORKER`, sizes within one of each other, each of at least
    PARALLEL_BATCH_MIN items when there are several."""
    chunks = max(1, min(workers * CHUNKS_PER_WORKER, count // PARALLEL_BATCH_MIN))
    size, larger = divmod(count, chunks)
    bounds: list[tuple[int, int]] = []
    start = 0
    for index in range(chunks):
        end = start + size + (1 if index < larger else 0)
        bounds.append((start, end))
        start = end
    return bounds


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelMap:
    """Runs a per-chunk function over a batch on `executor` (None: on the calling thread).

    Thread-safe; results come back in input order."""

    executor: Executor | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        assert self.workers >= 1

    def map_chunked(
        self, function: Callable[[Sequence[T]], list[R]], items: Sequence[T]
    ) -> list[R]:
        if self.executor is None or self.workers == 1 or len(items) < PARALLEL_BATCH_MIN:
            return function(items)
        futures = [
            self.executor.submit(function, items[start:end])
            for start, end in chunk_bounds(len(items), self.workers)
        ]
        results: list[R] = []
        for future in futures:
            results.extend(future.result())
        return results

    async def map_chunked_from_loop(
        self, function: Callable[[Sequence[T]], list[R]], items: Sequence[T]
    ) -> list[R]:
        """`map_chunked`, awaited from an event loop: a batch smaller than PARALLEL_BATCH_MIN
        runs on the loop itself (a hand-off would cost more than the work), a larger one goes
        straight to `executor` in chunks, one hand-off each (or, without an executor, to one
        worker thread: never on the loop)."""
        if len(items) < PARALLEL_BATCH_MIN:
            return function(items)
        executor = self.executor
        if executor is None:
            return await asyncio.to_thread(function, items)
        loop = asyncio.get_running_loop()
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(executor, function, items[start:end])
                for start, end in chunk_bounds(len(items), self.workers)
            )
        )
        return [result for part in parts for result in part]


def verify_signatures(
    transactions: Sequence[PreparedTransaction], suite: Suite, parallel: ParallelMap
) -> list[bool]:
    """Whether each transaction carries its sender's valid signature, in input order."""

    def verify_chunk(chunk: Sequence[PreparedTransaction]) -> list[bool]:
        return [prepared.verify_signature(suite) for prepared in chunk]

    return parallel.map_chunked(verify_chunk, transactions)


def first_invalid_signature(
    transactions: Sequence[PreparedTransaction], suite: Suite, parallel: ParallelMap
) -> int | None:
    """Index of the first transaction whose signature does not verify, or None."""
    for index, valid in enumerate(verify_signatures(transactions, suite, parallel)):
        if not valid:
            return index
    return None


def require_valid_signatures(
    transactions: Sequence[PreparedTransaction], suite: Suite, parallel: ParallelMap
) -> None:
    """Raise BadTransactionSignature for the first invalid signature of a block's
    transactions: for blocks whose transactions this replica did not admit itself."""
    index = first_invalid_signature(transactions, suite, parallel)
    if index is not None:
        raise BadTransactionSignature("signature does not verify", index=index)
