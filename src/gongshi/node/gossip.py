"""Transactions between nodes: gossip in batches, and fetching a proposal's missing ones.

- Every transaction admitted locally (API) is queued for gossip; a flush task sends the queue
  as one `TxBatch` frame every `flush_ms` (many transactions per frame). Validators form a full
  mesh, so gossip received from a peer is not relayed again; instead the node that admitted a
  transaction gossips it again while it stays pending (a peer may have been disconnected).
- Received batches wait in a bounded queue (a full queue drops the batch: gossip is best
  effort) and are admitted together with whatever else queued meanwhile (up to
  INBOUND_BATCHES_PER_ADMISSION batches at a time): checked on the loop if few, else in chunks
  on the verification pool (`AdmissionChecker.check_batch_from_loop`), then added to the
  mempool on the loop (verify once: the mempool keeps them decoded and verified).
  A transaction that came first by a proposal's fetch is in the pool already (`known`):
  neither verified nor added again.
- `fetch` asks the proposer (then each other peer) for transactions by hash, one request at a
  time per call, each bounded by a timeout; `serve_fetch` answers from the mempool or ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from gongshi.codec import encode
from gongshi.errors import GongshiError
from gongshi.execution import PreparedTransaction
from gongshi.mempool import Admitted, Mempool
from gongshi.network import MessageKind
from gongshi.node.errors import MalformedPeerMessage
from gongshi.node.wire import (
    GOSSIP_BATCH_MAX,
    TxBatch,
    TxFetchRequest,
    TxFetchResponse,
    decode_body,
)
from gongshi.storage import Ledger

logger = logging.getLogger(__name__)

GOSSIP_BYTES_MAX = 4 << 20  # one gossip frame
INBOUND_BATCHES_MAX = 256
INBOUND_BATCHES_PER_ADMISSION = 16  # queued batches admitted together (one pool hand-off)
OUTBOUND_TXS_MAX = 100_000  # queued for gossip; beyond it the oldest are not gossiped
FETCH_TIMEOUT_S = 2.0
FETCH_RESPONSE_BYTES_MAX = 12 << 20
FETCH_HASHES_MAX = 20_000  # hashes in one request (a larger block takes several)
REGOSSIP_INTERVAL_S = 2.0  # how often pending local transactions are looked at again
REGOSSIP_AGE_S = 3.0  # gossiped again when still pending this long after the last time

Send = Callable[[bytes, MessageKind, bytes], bool]
Broadcast = Callable[[MessageKind, bytes], int]


class GossipingMempool(Mempool):
    """A mempool that remembers what it admitted locally, for gossip and re-gossip."""

    def __init__(self, *, clock: Callable[[], float], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.outbound: list[bytes] = []
        self._quiet = False
        self._clock = clock
        # Locally admitted and still pending (as far as we know): hash -> last gossiped at.
        self._local: dict[bytes, float] = {}

    def add(self, prepared: PreparedTransaction) -> Admitted:
        admitted = super().add(prepared)
        if not self._quiet and len(self._local) < OUTBOUND_TXS_MAX:
            self.outbound.append(encode(prepared.tx))
            self._local[prepared.tx_hash] = self._clock()
        return admitted

    def stale_local(self, age_s: float, count_max: int) -> list[bytes]:
        """Encodings of locally admitted transactions still pending `age_s` after they were
        last gossiped (a peer may have missed them: it was disconnected, or its queue was
        full); they count as gossiped again now. Forgets the ones no longer pending."""
        now = self._clock()
        found: list[bytes] = []
        for tx_hash, sent_at in list(self._local.items()):
            prepared = self.get(tx_hash)
            if prepared is None:
                del self._local[tx_hash]
            elif now - sent_at >= age_s and len(found) < count_max:
                found.append(encode(prepared.tx))
                self._local[tx_hash] = now
        return found

    @contextlib.contextmanager
    def quietly(self) -> Iterator[None]:
        """Admit without queueing for gossip (for transactions that came by gossip)."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False


@dataclass(slots=True)
class GossipCounters:
    batches_sent: int = 0
    batches_received: int = 0
    batches_dropped: int = 0
    transactions_admitted: int = 0
    transactions_refused: int = 0
    regossiped: int = 0


class TxGossip:
    """Outbound batching and inbound admission of gossiped transactions."""

    def __init__(
        self,
        *,
        mempool: GossipingMempool,
        broadcast: Broadcast,
        flush_ms: int = 20,
    ) -> None:
        self._mempool = mempool
        self._broadcast = broadcast
        self._flush_s = flush_ms / 1000
        self._inbound: asyncio.Queue[bytes] = asyncio.Queue(INBOUND_BATCHES_MAX)
        self.counters = GossipCounters()

    def received(self, body: bytes) -> None:
        """A peer's TX_GOSSIP body (decoded later, off the network's dispatcher)."""
        try:
            self._inbound.put_nowait(body)
        except asyncio.QueueFull:
            self.counters.batches_dropped += 1

    async def run_outbound(self) -> None:
        ticks_per_regossip = max(1, round(REGOSSIP_INTERVAL_S / self._flush_s))
        for tick in itertools.count(1):
            await asyncio.sleep(self._flush_s)
            if tick % ticks_per_regossip == 0:
                stale = self._mempool.stale_local(REGOSSIP_AGE_S, GOSSIP_BATCH_MAX)
                self._mempool.outbound.extend(stale)
                self.counters.regossiped += len(stale)
            self.flush()

    def flush(self) -> None:
        queued, self._mempool.outbound = self._mempool.outbound, []
        batch: list[bytes] = []
        size = 0
        for data in queued:
            if batch and (len(batch) >= GOSSIP_BATCH_MAX or size + len(data) > GOSSIP_BYTES_MAX):
                self._send_batch(batch)
                batch, size = [], 0
            batch.append(data)
            size += len(data)
        if batch:
            self._send_batch(batch)

    def _send_batch(self, batch: list[bytes]) -> None:
        self._broadcast(MessageKind.TX_GOSSIP, TxBatch(transactions=tuple(batch)).encode())
        self.counters.batches_sent += 1

    async def run_inbound(self) -> None:
        while True:
            bodies = [await self._inbound.get()]
            # Whatever else queued up meanwhile goes in the same admission: one hand-off
            # to the verification pool, in bigger parallel chunks.
            while not self._inbound.empty() and len(bodies) < INBOUND_BATCHES_PER_ADMISSION:
                bodies.append(self._inbound.get_nowait())
            await self._admit(*bodies)

    async def _admit(self, *bodies: bytes) -> None:
        fresh: list[bytes] = []
        for body in bodies:
            try:
                batch = decode_body(TxBatch, body)
            except GongshiError as error:
                logger.debug("gossip batch dropped reason=%r", error.message)
                self.counters.batches_dropped += 1
                continue
            self.counters.batches_received += 1
            fresh.extend(data for data in batch.transactions if len(data) > 0)
        if not fresh:
            return
        mempool = self._mempool
        checked = await mempool.checker.check_batch_from_loop(
            fresh, next_height=mempool.next_height, known=mempool.contains
        )
        with mempool.quietly():
            results = mempool.add_checked(checked)
        admitted = sum(isinstance(result, Admitted) for result in results)
        self.counters.transactions_admitted += admitted
        self.counters.transactions_refused += len(results) - admitted


class TxFetcher:
    """Fetch transactions by hash from peers; answer peers' fetch requests."""

    def __init__(
        self,
        *,
        send: Send,
        peers: Callable[[], Sequence[bytes]],
        mempool: Mempool,
        ledger: Ledger,
        timeout_s: float = FETCH_TIMEOUT_S,
    ) -> None:
        self._send = send
        self._peers = peers
        self._mempool = mempool
        self._ledger = ledger
        self._timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[list[bytes]]] = {}

    def fetch(
        self, proposer: bytes, tx_hashes: Sequence[bytes]
    ) -> asyncio.Future[list[PreparedTransaction]]:
        return asyncio.ensure_future(self._fetch(proposer, list(tx_hashes)))

    async def _fetch(self, proposer: bytes, tx_hashes: list[bytes]) -> list[PreparedTransaction]:
        """Ask the proposer first, then the others, until every hash is found or all tried.
        The answers come decoded (signatures not verified: the caller does that)."""
        peers = [proposer, *(p for p in self._peers() if p != proposer)]
        found: dict[bytes, PreparedTransaction] = {}
        wanted_set = set(tx_hashes)
        wanted = list(tx_hashes)
        suite = self._mempool.checker.suite
        for peer in peers:
            if not wanted:
                break
            answers: list[bytes] = []
            for start in range(0, len(wanted), FETCH_HASHES_MAX):
                answers.extend(await self._ask(peer, wanted[start : start + FETCH_HASHES_MAX]))
            for data in answers:
                try:
                    prepared = PreparedTransaction.from_bytes(data, suite)
                except GongshiError:
                    continue
                if prepared.tx_hash in wanted_set:
                    found[prepared.tx_hash] = prepared
            wanted = [h for h in wanted if h not in found]
        return list(found.values())

    async def _ask(self, peer: bytes, tx_hashes: list[bytes]) -> list[bytes]:
        request_id = next(self._ids)
        future: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            request = TxFetchRequest(request_id=request_id, tx_hashes=tuple(tx_hashes))
            if not self._send(peer, MessageKind.TX_FETCH_REQUEST, request.encode()):
                return []
            async with asyncio.timeout(self._timeout_s):
                return await future
        except TimeoutError:
            logger.debug("tx fetch timed out peer=%s", peer.hex()[:12])
            return []
        finally:
            self._waiting.pop(request_id, None)

    def response(self, body: bytes) -> None:
        response = decode_body(TxFetchResponse, body)
        future = self._waiting.get(response.request_id)
        if future is not None and not future.done():
            future.set_result(list(response.transactions))

    def serve(self, peer: bytes, body: bytes) -> None:
        request = decode_body(TxFetchRequest, body)
        if len(request.tx_hashes) > FETCH_HASHES_MAX:
            raise MalformedPeerMessage(f"fetch of {len(request.tx_hashes)} transactions")
        found: list[bytes] = []
        size = 0
        for tx_hash in request.tx_hashes:
            data = self._lookup(tx_hash)
            if data is None:
                continue
            if size + len(data) > FETCH_RESPONSE_BYTES_MAX:
                break
            found.append(data)
            size += len(data)
        response = TxFetchResponse(request_id=request.request_id, transactions=tuple(found))
        self._send(peer, MessageKind.TX_FETCH_RESPONSE, response.encode())

    def _lookup(self, tx_hash: bytes) -> bytes | None:
        prepared = self._mempool.get(tx_hash)
        if prepared is not None:
            return encode(prepared.tx)
        try:
            return encode(self._ledger.get_transaction(tx_hash).transaction)
        except GongshiError:
            return None
