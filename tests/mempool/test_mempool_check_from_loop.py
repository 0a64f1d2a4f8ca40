"""Admission checks awaited from the event loop (`AdmissionChecker.check_batch_from_loop`
over `ParallelMap.map_chunked_from_loop`): the same results as `check_batch`, small batches on
the loop thread, larger ones in few chunks on the pool."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from gongshi.codec import encode
from gongshi.execution import ParallelMap
from gongshi.execution.parallel import PARALLEL_BATCH_MIN, chunk_bounds
from gongshi.mempool import AdmissionChecker, CheckResult
from gongshi.mempool.errors import AdmissionRejected

from .conftest import PoolWorld, transaction  # type: ignore[import-not-found]


class RecordingExecutor(ThreadPoolExecutor):
    """A pool that counts its submissions."""

    def __init__(self, workers: int) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="test-verify")
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def _batch(world: PoolWorld, count: int) -> list[bytes]:
    raws = [world.raw(f"sender{i % 5}", i // 5) for i in range(count)]
    raws.append(b"\x00not a transaction")
    raws.append(encode(transaction(world.key("sender1"), 98, sign=False)))
    # Signed by another key: decodes, does not verify.
    other = transaction(world.key("sender2"), 99)
    forged = dataclasses.replace(transaction(world.key("sender0"), 99), signature=other.signature)
    raws.insert(len(raws) // 2, encode(forged))
    return raws


def _shape(results: Sequence[CheckResult]) -> list[tuple[str, bytes | str]]:
    return [
        (type(item).__name__, item.message if isinstance(item, AdmissionRejected) else item.tx_hash)
        for item in results
    ]


@pytest.mark.parametrize("count", [1, PARALLEL_BATCH_MIN - 4, PARALLEL_BATCH_MIN + 3, 57])
def test_results_are_check_batch_results_and_threads_as_documented(
    world: PoolWorld, count: int
) -> None:
    executor = RecordingExecutor(2)
    checker = AdmissionChecker(
        config=world.config, suite=world.suite, parallel=ParallelMap(executor=executor, workers=2)
    )
    raws = _batch(world, count)
    expected = checker.check_batch(raws, next_height=1)
    executor.submitted = 0
    loop_threads: set[int] = set()

    async def scenario() -> list[CheckResult]:
        loop_threads.add(threading.get_ident())
        return await checker.check_batch_from_loop(raws, next_height=1)

    try:
        found = asyncio.run(scenario())
    finally:
        executor.shutdown()
    assert _shape(found) == _shape(expected)
    refused = [type(item).__name__ for item in found if isinstance(item, AdmissionRejected)]
    assert refused == ["BadSignature", "MalformedTransaction", "BadSignature"]
    if len(raws) < PARALLEL_BATCH_MIN:
        assert executor.submitted == 0  # checked on the loop: no hand-off at all
    else:
        assert executor.submitted == len(chunk_bounds(len(raws), 2))


def test_known_transactions_are_refused_before_verifying(world: PoolWorld) -> None:
    checker = AdmissionChecker(config=world.config, suite=world.suite, parallel=ParallelMap())
    raws = [world.raw("alice", nonce) for nonce in range(3)]
    first = checker.check_batch(raws[:1], next_height=1)[0]
    assert not isinstance(first, AdmissionRejected)

    async def scenario() -> list[CheckResult]:
        return await checker.check_batch_from_loop(
            raws, next_height=1, known=lambda tx_hash: tx_hash == first.tx_hash
        )

    results = asyncio.run(scenario())
    assert type(results[0]).__name__ == "AlreadyKnown"
    assert not any(isinstance(item, AdmissionRejected) for item in results[1:])
