"""`tx_send` checks coalesced: one check for many transactions.

Each `tx_send` used to check its transaction (decode, hash, signature) in its own
`to_thread` call: a hand-off costs about as much as an Ed25519 verification, and a batch of
100 calls paid it 100 times. `AdmissionBatcher.check` queues the transaction instead; the
first call of a loop iteration schedules one flush, which checks everything queued by then
with one awaited batch check (the node's: `AdmissionChecker.check_batch_from_loop`, a small
batch on the loop, a larger one in a few chunks on the verification pool), and answers each
caller in queue order, so the mempool adds that follow happen in call order (a sender's
nonces stay in order).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from gongshi.execution import PreparedTransaction
from gongshi.mempool.admission import CheckResult
from gongshi.mempool.errors import AdmissionRejected

# Checks a batch of raw transactions; one result (prepared or rejection) per item, in order.
BatchCheck = Callable[[Sequence[bytes]], Awaitable[list[CheckResult]]]


class AdmissionBatcher:
    """Queues raw transactions of concurrent `tx_send` calls; owned by the event loop."""

    def __init__(self, check_batch: BatchCheck) -> None:
        self._check_batch = check_batch
        self._queued: list[tuple[bytes, asyncio.Future[CheckResult]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.flushes = 0

    async def check(self, raw: bytes) -> PreparedTransaction:
        """The checked transaction of `raw`; raises its AdmissionRejected."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[CheckResult] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append((raw, answer))
        result = await answer
        if isinstance(result, AdmissionRejected):
            raise result
        return result

    def _flush(self) -> None:
        queued, self._queued = self._queued, []
        if queued:
            task = asyncio.ensure_future(self._answer(queued))
            self._tasks.add(task)  # keep a reference until it is done
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, queued: list[tuple[bytes, asyncio.Future[CheckResult]]]) -> None:
        self.flushes += 1
        raws = [raw for raw, _ in queued]
        try:
            results = await self._check_batch(raws)
        except BaseException as error:  # a bug or cancellation: every caller hears of it
            for _, answer in queued:
                if not answer.done():
                    answer.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (_, answer), result in zip(queued, results, strict=True):
            if not answer.done():  # its caller may have gone (client disconnected)
                answer.set_result(result)
