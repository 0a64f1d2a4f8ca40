"""Admission checks for a caller on the event loop, with as few thread hand-offs as it needs.

A hand-off to a thread (submit, wake the thread, wake the loop with the answer) costs about
35-75 µs of CPU on the node's machine, one to two Ed25519 verifications. Under load the node
admits many small batches (an API request every 10 ms per client connection, a gossip frame
every 20 ms per peer, a few transactions each), so the hand-offs cost about as much as the
checks. `check_batch_from_loop` therefore:

- checks a batch of fewer than `PARALLEL_BATCH_MIN` transactions on the loop itself (at most
  a few hundred µs; the same threshold below which `ParallelMap` does not fan out either);
- sends a larger batch straight to the verification pool, in chunks of at least
  `PARALLEL_BATCH_MIN`, one hand-off per chunk (not first to a default-executor thread that
  would only wait for the pool); without a pool (an embedding that has none), a larger batch
  is checked on one worker thread, never on the loop.

The results are `AdmissionChecker.check_batch`'s: the same checks, in input order.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence

from gongshi.execution.parallel import CHUNKS_PER_WORKER, PARALLEL_BATCH_MIN
from gongshi.mempool.admission import AdmissionChecker, CheckResult


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


async def check_batch_from_loop(
    checker: AdmissionChecker,
    batch: Sequence[bytes],
    *,
    next_height: int,
    known: Callable[[bytes], bool] | None = None,
) -> list[CheckResult]:
    """`checker.check_batch(batch, ...)`, awaited from the event loop; see the module
    docstring for where it runs."""
    parallel = checker.parallel
    executor = parallel.executor
    if len(batch) < PARALLEL_BATCH_MIN:
        return checker.check_batch(batch, next_height=next_height, known=known)
    if executor is None:
        return await asyncio.to_thread(
            checker.check_batch, batch, next_height=next_height, known=known
        )
    loop = asyncio.get_running_loop()
    check = functools.partial(checker.check_chunk, next_height=next_height, known=known)
    parts = await asyncio.gather(
        *(
            loop.run_in_executor(executor, check, batch[start:end])
            for start, end in chunk_bounds(len(batch), parallel.workers)
        )
    )
    return [result for part in parts for result in part]
