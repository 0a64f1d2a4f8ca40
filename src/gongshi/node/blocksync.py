"""Block sync: catching up on committed blocks from peers' ledgers.

Every node announces `Status(committed height, head hash)` to its peers twice a second. A node
that learns it is behind (a peer is more than `lag_blocks` ahead, or ahead at all while our
own height has not moved for `stall_s`) asks that peer for a batch of committed blocks. Each
block is checked against our head (height and parent hash), its finality certificate is
verified with `verify_commit` against the validator set, its transactions' signatures are
verified, and it is re-executed and committed (`Chain.apply_synced`). When the ledger passed
the consensus engine's root, the engine is rerooted at the new head. Short gaps inside the
engine's own block tree are left to consensus sync (`SyncRequest` between engines).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from gongshi.consensus import CommittedRoot, decode_certificate
from gongshi.errors import GongshiError
from gongshi.network import MessageKind
from gongshi.node.app import NodeApplication
from gongshi.node.wire import (
    BLOCKS_PER_RESPONSE_MAX,
    BlockRequest,
    BlockResponse,
    CommittedBlock,
    Status,
    decode_body,
)

logger = logging.getLogger(__name__)

RESPONSE_BYTES_MAX = 8 << 20

Send = Callable[[bytes, MessageKind, bytes], bool]
Broadcast = Callable[[MessageKind, bytes], int]


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncOptions:
    status_interval_s: float = 0.5
    lag_blocks: int = 4
    stall_s: float = 1.5
    batch_blocks: int = 64
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        assert 1 <= self.batch_blocks <= BLOCKS_PER_RESPONSE_MAX
        assert self.status_interval_s > 0 and self.timeout_s > 0 and self.lag_blocks >= 0


@dataclass(slots=True)
class SyncCounters:
    requests: int = 0
    blocks_applied: int = 0
    blocks_refused: int = 0
    blocks_served: int = 0


class BlockSync:
    """Status announcements, lag detection, block requests, and serving peers' requests."""

    def __init__(
        self,
        *,
        app: NodeApplication,
        send: Send,
        broadcast: Broadcast,
        engine_height: Callable[[], int],
        reroot: Callable[[CommittedRoot], None],
        options: SyncOptions | None = None,
    ) -> None:
        self._app = app
        self._chain = app.chain
        self._send = send
        self._broadcast = broadcast
        self._engine_height = engine_height
        self._reroot = reroot
        self._options = options or SyncOptions()
        self._peer_heights: dict[bytes, int] = {}
        self._wake = asyncio.Event()
        self._response: tuple[bytes, asyncio.Future[BlockResponse]] | None = None
        self._height_seen = -1
        self._height_since = 0.0
        self.counters = SyncCounters()

    @property
    def peer_heights(self) -> dict[bytes, int]:
        return dict(self._peer_heights)

    def forget_peer(self, peer: bytes) -> None:
        self._peer_heights.pop(peer, None)

    # --- status -----------------------------------------------------------------------------

    async def run_status(self) -> None:
        while True:
            ledger = self._chain.ledger
            height = ledger.committed_height or 0
            status = Status(committed_height=height, head_hash=ledger.head_hash)
            self._broadcast(MessageKind.STATUS, status.encode())
            self._wake.set()  # re-check the stall rule
            await asyncio.sleep(self._options.status_interval_s)

    def status_received(self, peer: bytes, body: bytes) -> None:
        status = decode_body(Status, body)
        self._peer_heights[peer] = status.committed_height
        if status.committed_height > self._chain.committed_height:
            self._wake.set()

    def _target(self) -> tuple[bytes, int] | None:
        """The peer to sync from, if we are behind by the rules above."""
        if not self._peer_heights:
            return None
        peer, height = max(self._peer_heights.items(), key=lambda item: (item[1], item[0]))
        mine = self._chain.committed_height
        now = asyncio.get_running_loop().time()
        if mine != self._height_seen:
            self._height_seen, self._height_since = mine, now
        gap = height - mine
        stalled = now - self._height_since >= self._options.stall_s
        if gap > self._options.lag_blocks or (gap > 0 and stalled):
            return peer, height
        return None

    # --- requesting -------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            target = self._target()
            while target is not None:
                if not await self._sync_batch(target[0], target[1]):
                    self._peer_heights.pop(target[0], None)  # ask another peer next time
                    break
                target = self._target()

    async def _sync_batch(self, peer: bytes, peer_height: int) -> bool:
        """Fetch and apply one batch from `peer`; False if it gave nothing usable."""
        start = self._chain.committed_height + 1
        count = min(self._options.batch_blocks, peer_height - start + 1)
        future: asyncio.Future[BlockResponse] = asyncio.get_running_loop().create_future()
        self._response = (peer, future)
        self.counters.requests += 1
        try:
            request = BlockRequest(from_height=start, count=count)
            if not self._send(peer, MessageKind.SYNC_REQUEST, request.encode()):
                return False
            async with asyncio.timeout(self._options.timeout_s):
                response = await future
        except TimeoutError:
            logger.info("block sync request timed out peer=%s from=%d", peer.hex()[:12], start)
            return False
        finally:
            self._response = None
        applied = await self._apply(response)
        logger.info(
            "block sync peer=%s from=%d applied=%d height=%d",
            peer.hex()[:12],
            start,
            applied,
            self._chain.committed_height,
        )
        if self._chain.committed_height > self._engine_height():
            root = await self._app.on_worker(self._chain.committed_root)
            self._reroot(root)
        return applied > 0

    async def _apply(self, response: BlockResponse) -> int:
        applied = 0
        for item in response.blocks:
            block, certificate = item.block, item.certificate
            executed = await self._app.on_worker(
                lambda b=block, c=certificate: self._chain.apply_synced(b, c)  # type: ignore[misc]
            )
            if executed is None:
                if block.header.height > self._chain.committed_height:
                    self.counters.blocks_refused += 1
                    break
                continue  # consensus committed it meanwhile
            self._app.after_commit(executed)
            applied += 1
            self.counters.blocks_applied += 1
        return applied

    def response_received(self, peer: bytes, body: bytes) -> None:
        waiting = self._response
        if waiting is None or waiting[0] != peer or waiting[1].done():
            return
        waiting[1].set_result(decode_body(BlockResponse, body))

    # --- serving ----------------------------------------------------------------------------

    async def serve(self, peer: bytes, body: bytes) -> None:
        request = decode_body(BlockRequest, body)
        blocks = await asyncio.to_thread(self._read_blocks, request)
        self.counters.blocks_served += len(blocks)
        response = BlockResponse(blocks=tuple(blocks))
        self._send(peer, MessageKind.SYNC_RESPONSE, response.encode())

    def _read_blocks(self, request: BlockRequest) -> list[CommittedBlock]:
        ledger = self._chain.ledger
        top = ledger.committed_height or 0
        blocks: list[CommittedBlock] = []
        size = 0
        height = max(request.from_height, 1)
        while height <= top and len(blocks) < request.count:
            try:
                block = ledger.get_block(height)
                certificate = decode_certificate(ledger.get_certificate(height))
            except GongshiError as error:
                logger.warning("cannot serve block height=%d reason=%r", height, error.message)
                break
            size += len(block.encode())
            if blocks and size > RESPONSE_BYTES_MAX:
                break
            blocks.append(CommittedBlock(block=block, certificate=certificate))
            height += 1
        return blocks
