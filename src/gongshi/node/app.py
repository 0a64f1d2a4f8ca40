"""The application the consensus driver talks to: proposals, validation and commits.

Runs on the event loop and hands the chain work (execution, commits) to the node's single
execution thread, in order, so consensus timers and the network keep running meanwhile.
Transactions of a proposal are resolved from the mempool (verified at admission: verify
once), else from a small cache of fetched ones, else fetched from the proposer and then any
peer, and verified in the thread pool before execution.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

from gongshi.consensus import (
    Block,
    BlockValidated,
    BuildProposal,
    Commit,
    ProposalBuilt,
    RecordEvidence,
    ValidateBlock,
)
from gongshi.errors import GongshiError
from gongshi.execution import BlockLimits, PreparedTransaction, first_invalid_signature
from gongshi.mempool import Mempool
from gongshi.node.chain import Chain, ExecutedBlock
from gongshi.node.errors import TransactionsUnavailable
from gongshi.node.wire import ProposalPayload, decode_body

logger = logging.getLogger(__name__)

T = TypeVar("T")

FETCHED_CACHE_MAX = 50_000
REAP_FACTOR = 3  # candidates reaped per block slot: some may sit in uncommitted ancestors
# While transactions wait, blocks follow each other this fast (at most the block interval):
# short for sub-second latency, long enough that a block batches the load of a while.
BUSY_INTERVAL_MS = 50
COMMIT_FOLLOWERS = 2  # blocks after a block that commit it (two-chain rule)
ANCESTORS_LOOKED_AT = 4  # uncommitted ancestors whose transactions are not candidates
# How far ahead of this validator's clock a proposal's timestamp may be for it to vote. Block
# time only grows, and execution checks certificates against it: without a bound, one faulty
# leader's far-future timestamp would expire every member's certificate for good. Certified
# blocks (block sync) are not checked: a quorum already accepted them.
PROPOSAL_CLOCK_DRIFT_MS = 15_000

# (the committed block, loop time it was executed here or None), after each commit, on the loop.
CommitListener = Callable[[ExecutedBlock, float | None], None]


@dataclass(slots=True)
class AppCounters:
    blocks_built: int = 0
    blocks_validated: int = 0
    blocks_rejected: int = 0
    transactions_fetched: int = 0


class NodeApplication:
    """Implements the driver's `Application` over a `Chain`, a `Mempool` and the peers."""

    def __init__(
        self,
        *,
        chain: Chain,
        mempool: Mempool,
        worker: Executor,
        fetch: Callable[[bytes, Sequence[bytes]], asyncio.Future[list[PreparedTransaction]]],
        proposer_key: bytes,
        block_interval_ms: int,
        admit_fetched: Callable[[Sequence[PreparedTransaction]], None] | None = None,
        busy_interval_ms: int = BUSY_INTERVAL_MS,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.chain = chain
        self.mempool = mempool
        self._worker = worker
        self._fetch = fetch
        # Where fetched, verified transactions go besides the fetched cache (the node: its
        # pool, without gossip), so gossip of them later finds them known.
        self._admit_fetched = admit_fetched or self._add_to_pool
        self._proposer_key = proposer_key
        self._interval_s = block_interval_ms / 1000
        self._busy_interval_s = busy_interval_ms / 1000
        self.limits = chain.environment.limits  # for reaping; the block's own are applied
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._last_block_at = 0.0
        self._fetched: OrderedDict[bytes, PreparedTransaction] = OrderedDict()
        self._executed_at: dict[bytes, float] = {}
        self._listeners: list[CommitListener] = []
        self._commits: asyncio.Future[None] | None = None
        self.counters = AppCounters()
        self.failure: BaseException | None = None

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    @property
    def block_interval_s(self) -> float:
        return self._interval_s

    def set_pace(self, *, block_interval_ms: int, limits: BlockLimits) -> None:
        """Parameters governance changed: the block interval and the reaping limits."""
        self._interval_s = block_interval_ms / 1000
        self.limits = limits

    async def on_worker(self, function: Callable[[], T]) -> T:
        """Run `function` on the execution thread (after what was handed to it before)."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, function)

    # --- proposals --------------------------------------------------------------------------

    async def build_proposal(self, action: BuildProposal) -> ProposalBuilt:
        loop = asyncio.get_running_loop()
        candidates = await self._paced_candidates(action.parent_hash)
        timestamp_ms = self._clock_ms()
        try:
            built = await self.on_worker(
                lambda: self.chain.build(
                    height=action.height,
                    parent_hash=action.parent_hash,
                    round_number=action.round,
                    proposer=self._proposer_key,
                    timestamp_ms=timestamp_ms,
                    candidates=candidates,
                    epoch=action.epoch,
                )
            )
        except GongshiError as error:
            logger.warning("cannot build height=%d reason=%r", action.height, error.message)
            return ProposalBuilt(epoch=action.epoch, round=action.round, block=None)
        if built.invalid:
            self.mempool.remove(built.invalid)
        self.counters.blocks_built += 1
        self._last_block_at = loop.time()
        self._executed_at[built.executed.block_hash] = loop.time()
        logger.debug(
            "built height=%d round=%d txs=%d",
            action.height,
            action.round,
            len(built.executed.prepared),
        )
        return ProposalBuilt(
            epoch=action.epoch,
            round=action.round,
            block=built.consensus_block,
            change=built.executed.change,
        )

    def _reap(self) -> list[PreparedTransaction]:
        limits = self.limits
        return self.mempool.reap(
            max_txs=limits.txs_max * REAP_FACTOR,
            max_bytes=limits.bytes_max * REAP_FACTOR,
            max_gas=limits.gas_max * REAP_FACTOR,
        )

    async def _paced_candidates(self, parent_hash: bytes) -> list[PreparedTransaction]:
        """The mempool's candidates for the next block, once it is time to propose it.

        Blocks are paced from when this node last executed one: by the busy interval while
        there is work (ready transactions not in an uncommitted ancestor, or one of the last
        two ancestors carries transactions: the two-chain rule commits a block only once two
        more follow it), by the block interval otherwise (empty blocks only keep the chain
        live, they need not be frequent)."""
        loop = asyncio.get_running_loop()
        since_last = loop.time() - self._last_block_at
        busy_s = min(self._busy_interval_s, self._interval_s)
        if since_last >= self._interval_s:
            return self._reap()
        recent = self._recent_ancestors(parent_hash)
        candidates: list[PreparedTransaction] = []
        busy = any(block.prepared for block in recent[:COMMIT_FOLLOWERS])
        if not busy:
            candidates = self._reap()
            in_ancestors = {p.tx_hash for block in recent for p in block.prepared}
            busy = any(c.tx_hash not in in_ancestors for c in candidates)
        wait = (busy_s if busy else self._interval_s) - since_last
        if wait <= 0 and candidates:
            return candidates
        if wait > 0:
            await asyncio.sleep(wait)
        return self._reap()

    def _recent_ancestors(self, parent_hash: bytes) -> list[ExecutedBlock]:
        """The uncommitted blocks from `parent_hash` down, newest first, at most
        ANCESTORS_LOOKED_AT (read from the loop: the execution thread only adds and drops
        whole entries, each one atomic)."""
        found: list[ExecutedBlock] = []
        executed = self.chain.executed
        cursor = parent_hash
        while len(found) < ANCESTORS_LOOKED_AT:
            block = executed.get(cursor)
            if block is None:
                break
            found.append(block)
            cursor = block.header.parent_hash
        return found

    # --- validation -------------------------------------------------------------------------

    async def validate_block(self, action: ValidateBlock) -> BlockValidated:
        block = action.block
        executed: ExecutedBlock | None = None
        try:
            payload = decode_body(ProposalPayload, block.payload)
            ahead_ms = payload.header.timestamp_ms - self._clock_ms()
            if ahead_ms > PROPOSAL_CLOCK_DRIFT_MS:
                logger.warning(
                    "block not validated height=%d reason='timestamp %d ms ahead of this clock'",
                    block.height,
                    ahead_ms,
                )
                return self._rejected(block)
            transactions = await self._resolve(payload)
            executed = await self.on_worker(
                lambda: self.chain.validate_block(block, payload, transactions)
            )
        except GongshiError as error:
            logger.warning("block not validated height=%d reason=%r", block.height, error.message)
        if executed is None:
            return self._rejected(block)
        self.counters.blocks_validated += 1
        self._last_block_at = asyncio.get_running_loop().time()
        self._executed_at.setdefault(block.block_hash, self._last_block_at)
        change = executed.change
        if change is not None:
            logger.info(
                "validator-set change announced height=%d activation=%d validators=%d",
                block.height,
                change.activation_height,
                len(change.public_keys),
            )
        return BlockValidated(block_hash=block.block_hash, valid=True, change=change)

    def _rejected(self, block: Block) -> BlockValidated:
        self.counters.blocks_rejected += 1
        return BlockValidated(block_hash=block.block_hash, valid=False, change=None)

    def _known(self, tx_hash: bytes) -> PreparedTransaction | None:
        prepared = self.mempool.get(tx_hash)
        if prepared is None:
            prepared = self._fetched.get(tx_hash)
        return prepared

    async def _resolve(self, payload: ProposalPayload) -> list[PreparedTransaction]:
        """The payload's transactions, in order; TransactionsUnavailable if some cannot be
        had, InvalidBlock-like failure (GongshiError) if a fetched one is forged."""
        missing = [h for h in payload.tx_hashes if self._known(h) is None]
        if missing:
            await self._fetch_missing(payload.header.proposer, missing)
        resolved: list[PreparedTransaction] = []
        for tx_hash in payload.tx_hashes:
            prepared = self._known(tx_hash)
            if prepared is None:
                raise TransactionsUnavailable(f"transaction {tx_hash.hex()[:16]} unavailable")
            resolved.append(prepared)
        return resolved

    async def _fetch_missing(self, proposer: bytes, missing: list[bytes]) -> None:
        wanted = set(missing)
        prepared: list[PreparedTransaction] = []
        for item in await self._fetch(proposer, missing):
            if item.tx_hash in wanted:
                prepared.append(item)
                wanted.discard(item.tx_hash)
        suite = self.chain.suite
        parallel = self.chain.parallel
        verified = self.mempool.checker.verified
        # Gossip admission may have verified some already (verify once per node).
        unverified = verified.unverified(prepared)
        bad = await asyncio.get_running_loop().run_in_executor(
            None, lambda: first_invalid_signature(unverified, suite, parallel)
        )
        if bad is not None:
            raise TransactionsUnavailable("a fetched transaction is not signed by its sender")
        verified.add_all((item.tx_hash, item.tx.signature) for item in unverified)
        try:
            self._admit_fetched(prepared)
        except GongshiError as error:  # the pool is best effort here, the block is not
            logger.debug("fetched transactions not pooled reason=%r", error.message)
        for item in prepared:
            self._fetched[item.tx_hash] = item
        while len(self._fetched) > FETCHED_CACHE_MAX:
            self._fetched.popitem(last=False)
        self.counters.transactions_fetched += len(prepared)

    def _add_to_pool(self, prepared: Sequence[PreparedTransaction]) -> None:
        self.mempool.add_checked(prepared)  # refusals (known, nonce, full) are fine here

    # --- commits ----------------------------------------------------------------------------

    def commit(self, action: Commit) -> asyncio.Future[ExecutedBlock | None]:
        """Commit on the execution thread, after what was handed to it before; the answer
        completes once the block is durable."""
        block = action.block
        certificate = action.certificate
        future = asyncio.get_running_loop().run_in_executor(
            self._worker, lambda: self.chain.commit(block.block_hash, certificate)
        )
        future.add_done_callback(self._committed)
        return future

    def _committed(self, future: asyncio.Future[ExecutedBlock | None]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            logger.critical("commit failed", exc_info=error)
            if self.failure is None:
                self.failure = error
            return
        executed = future.result()
        if executed is not None:
            self.after_commit(executed)

    def after_commit(self, executed: ExecutedBlock) -> None:
        """On the loop, once `executed` is durable: mempool, listeners (API hub, metrics)."""
        header = executed.header
        self.mempool.on_commit(
            height=header.height, timestamp_ms=header.timestamp_ms, transactions=executed.prepared
        )
        for prepared in executed.prepared:
            self._fetched.pop(prepared.tx_hash, None)
        started = self._executed_at.pop(executed.block_hash, None)
        if len(self._executed_at) > 4096:  # forks never committed
            self._executed_at.clear()
        for listener in self._listeners:
            try:
                listener(executed, started)
            except Exception:
                logger.exception("commit listener failed height=%d", header.height)

    def record_evidence(self, action: RecordEvidence) -> None:
        evidence = action.evidence
        logger.warning(
            "equivocation evidence kind=%s round=%d validator=%d",
            evidence.kind.name,
            evidence.round,
            evidence.validator,
        )
