"""`AdmissionChecker.check_batch_from_loop` without a verification pool (`ParallelMap()`, as
the API's `LocalChain` has): a large batch (a 1 MiB `tx_send` batch, say) is checked on a
worker thread, never on the event loop, which would stall every other connection meanwhile."""

from __future__ import annotations

import asyncio
import threading

from gongshi.execution import ParallelMap
from gongshi.execution.parallel import PARALLEL_BATCH_MIN
from gongshi.mempool import AdmissionChecker

from .conftest import PoolWorld  # type: ignore[import-not-found]


class ThreadNotingChecker(AdmissionChecker):
    """An AdmissionChecker that notes the threads its checks ran on."""

    threads: set[int]

    def check(self, data: bytes, **kwargs: object) -> object:  # type: ignore[override]
        self.threads.add(threading.get_ident())
        return super().check(data, **kwargs)  # type: ignore[arg-type]


def test_a_large_batch_is_not_checked_on_the_loop_without_a_pool(world: PoolWorld) -> None:
    checker = ThreadNotingChecker(config=world.config, suite=world.suite, parallel=ParallelMap())
    checker.threads = set()
    raws = [world.raw(f"sender{i % 5}", i // 5) for i in range(20 * PARALLEL_BATCH_MIN)]
    loop_thread: list[int] = []

    async def scenario() -> None:
        loop_thread.append(threading.get_ident())
        await checker.check_batch_from_loop(raws, next_height=1)

    asyncio.run(scenario())
    assert loop_thread[0] not in checker.threads
