"""The mempool: admitted transactions waiting for a block, per sender in nonce order.

Threads: `checker` (decoding, signature verification) and `contains` are safe from any
thread; every other method changes or reads the pool's structures and must be called from one
thread, the node's event loop. `admit` and `admit_batch` run both halves on the calling
thread (the owner); the node instead awaits `checker.check_batch_from_loop` (small batches
on the loop, larger ones on its verification pool) and hands the results to `add_checked`
on the loop.

Invariants:
- MEM-1 every pending transaction is decoded, hashed and signature-verified exactly once.
- MEM-2 count <= txs_max and bytes <= bytes_max: a full pool refuses (`MempoolFull`), never
  grows.
- MEM-3 a sender's pending nonces are distinct and within
  [committed next nonce, committed next nonce + nonce_window) when admitted, where the
  committed next nonce is the larger of the pool's (advanced by `on_commit`) and the
  `nonces` reader's (the ledger's, which a commit reaches before `on_commit` does).
- MEM-4 `reap` returns each sender's transactions in nonce order, starting at its committed
  next nonce, without gaps; across senders in admission order.
- MEM-5 with a `contract_calls` reader, no call of a deployed contract is admitted that the
  committed state at admission refuses (frozen, no such export, export roles); a change
  committed later reaches pending transactions only through their receipts.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gongshi.crypto import Suite
from gongshi.errors import InvariantViolation
from gongshi.execution.identities import IdentityReader
from gongshi.execution.parallel import ParallelMap
from gongshi.execution.permissions import RefusalKind, admission_refusal
from gongshi.execution.prepared import PreparedTransaction
from gongshi.execution.state import NonceReader
from gongshi.mempool.admission import AdmissionChecker, CheckResult, VerifiedSignatures
from gongshi.mempool.config import MempoolConfig
from gongshi.mempool.contract_calls import ContractCallReader, ContractRefusalKind
from gongshi.mempool.errors import (
    AdmissionRejected,
    AlreadyCommitted,
    AlreadyKnown,
    BatchTooLarge,
    ContractFrozenRefused,
    ExportNotFoundRefused,
    MempoolFull,
    NonceAlreadyPending,
    NonceTooHigh,
    NonceTooLow,
    SenderNotPermitted,
    SenderNotRegistered,
    TransactionExpired,
    TransactionsMissing,
)

logger = logging.getLogger(__name__)

# Rebuild the expiry heap once stale entries outnumber live ones by this much.
_EXPIRY_HEAP_SLACK = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainHead:
    """The last committed block, as far as admission cares."""

    height: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Admitted:
    tx_hash: bytes
    # True if the sender's earlier nonces are all committed or pending: it can go in a block.
    ready: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitReport:
    """What `on_commit` removed."""

    committed: int  # pending transactions the block included
    stale: int  # pending transactions whose nonce the block used up
    expired: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MempoolStats:
    count: int
    size_bytes: int
    ready: int
    senders: int


class _Entry:
    __slots__ = ("prepared", "sequence")

    def __init__(self, prepared: PreparedTransaction, sequence: int) -> None:
        self.prepared = prepared
        self.sequence = sequence  # admission order, unique


class _SenderQueue:
    __slots__ = ("by_nonce", "next_nonce")

    def __init__(self, next_nonce: int) -> None:
        # The committed next nonce (not counting pending transactions).
        self.next_nonce = next_nonce
        self.by_nonce: dict[int, _Entry] = {}

    def ready_length(self) -> int:
        """How many pending nonces follow the committed next nonce without a gap."""
        length = 0
        while self.next_nonce + length in self.by_nonce:
            length += 1
        return length


class Mempool:
    """Pending transactions by hash and by sender; see the module docstring for threads."""

    def __init__(
        self,
        *,
        config: MempoolConfig,
        suite: Suite,
        nonces: NonceReader,
        identities: IdentityReader,
        head: ChainHead,
        parallel: ParallelMap | None = None,
        verified: VerifiedSignatures | None = None,
        contract_calls: ContractCallReader | None = None,
    ) -> None:
        self._config = config
        self._nonces = nonces
        self._identities = identities
        # Deployed contracts' own refusals (frozen, no such export, export roles); None:
        # admission leaves them to the receipt.
        self._contract_calls = contract_calls
        self._head = head
        self.checker = AdmissionChecker(
            config=config, suite=suite, parallel=parallel or ParallelMap(), verified=verified
        )
        self._by_hash: dict[bytes, _Entry] = {}
        self._senders: dict[bytes, _SenderQueue] = {}
        # (expiry height, sequence, hash); may hold removed entries, skipped when popped.
        self._expiry_heap: list[tuple[int, int, bytes]] = []
        # Recently committed hashes, oldest first (a dict keeps insertion order).
        self._recent: dict[bytes, None] = {}
        self._sequence = 0
        self._bytes = 0

    # --- any thread ------------------------------------------------------------------------

    def contains(self, tx_hash: bytes) -> bool:
        """True if `tx_hash` is pending. One dict lookup: safe from any thread (a stale answer
        costs at most a redundant verification; `add` checks again)."""
        return tx_hash in self._by_hash

    # --- owner thread ----------------------------------------------------------------------

    @property
    def config(self) -> MempoolConfig:
        return self._config

    def set_config(self, config: MempoolConfig) -> None:
        """The limits governance put in force (capacity, transaction size, gas). Pending
        transactions stay; a smaller capacity only refuses new ones until it has room."""
        self._config = config
        self.checker.set_config(config)

    @property
    def head(self) -> ChainHead:
        return self._head

    @property
    def next_height(self) -> int:
        return self._head.height + 1

    def __len__(self) -> int:
        return len(self._by_hash)

    @property
    def size_bytes(self) -> int:
        """Sum of the pending transactions' encoded sizes."""
        return self._bytes

    def admit(self, data: bytes) -> Admitted:
        """Check and add one raw transaction; raises AdmissionRejected or MempoolFull."""
        return self.add(self.checker.check(data, next_height=self.next_height, known=self.contains))

    def admit_batch(
        self, batch: Sequence[bytes]
    ) -> list[Admitted | AdmissionRejected | MempoolFull]:
        """Check a batch (signatures in parallel) and add what passes; one result per item."""
        if len(batch) > self._config.batch_max:
            raise BatchTooLarge(f"{len(batch)} transactions, the limit is {self._config.batch_max}")
        checked = self.checker.check_batch(batch, next_height=self.next_height, known=self.contains)
        return self.add_checked(checked)

    def add_checked(
        self, checked: Iterable[CheckResult]
    ) -> list[Admitted | AdmissionRejected | MempoolFull]:
        """Add the results of `checker.check_batch`; rejections pass through unchanged."""
        results: list[Admitted | AdmissionRejected | MempoolFull] = []
        for item in checked:
            if isinstance(item, AdmissionRejected):
                results.append(item)
                continue
            try:
                results.append(self.add(item))
            except (AdmissionRejected, MempoolFull) as error:
                results.append(error)
        return results

    def add(self, prepared: PreparedTransaction) -> Admitted:
        """Add a checked transaction (see `checker`): duplicates, expiry against the current
        head, sender, nonce window, capacity. Raises AdmissionRejected or MempoolFull."""
        tx = prepared.tx
        tx_hash = prepared.tx_hash
        if tx_hash in self._by_hash:
            raise AlreadyKnown(f"transaction {tx_hash.hex()} is already pending")
        if tx_hash in self._recent:
            raise AlreadyCommitted(f"transaction {tx_hash.hex()} is already committed")
        if tx.expiry_height < self.next_height:
            raise TransactionExpired(
                f"transaction expired at height {tx.expiry_height}; the next block is "
                f"{self.next_height}"
            )
        self._check_sender(prepared)
        queue = self._senders.get(prepared.sender_address)
        next_nonce = self._committed_next_nonce(prepared.sender_address, queue)
        self._check_nonce(prepared, next_nonce, queue)
        self._check_capacity(prepared)
        if queue is None:
            queue = self._senders[prepared.sender_address] = _SenderQueue(next_nonce)
        entry = _Entry(prepared, self._sequence)
        self._sequence += 1
        queue.by_nonce[tx.nonce] = entry
        self._by_hash[tx_hash] = entry
        self._bytes += prepared.size
        heapq.heappush(self._expiry_heap, (tx.expiry_height, entry.sequence, tx_hash))
        ready = all(nonce in queue.by_nonce for nonce in range(next_nonce, tx.nonce))
        return Admitted(tx_hash=tx_hash, ready=ready)

    def _committed_next_nonce(self, address: bytes, queue: _SenderQueue | None) -> int:
        """The sender's next nonce by the committed chain: the larger of the pool's view and
        the `nonces` reader's. The ledger commits a block before `on_commit` tells the pool, so
        in between a client that read the ledger's nonce (`account_nonce`) is ahead of the
        pool; the window must start from what the ledger says, or it refuses that client."""
        committed = self._nonces.next_nonce(address)
        return committed if queue is None else max(queue.next_nonce, committed)

    def _check_sender(self, prepared: PreparedTransaction) -> None:
        tx = prepared.tx
        identity = self._identities.resolve(tx.sender)
        refusal = admission_refusal(identity, tx.target, tx.method, self._head.timestamp_ms)
        if refusal is not None:
            if refusal.kind is RefusalKind.UNREGISTERED:
                raise SenderNotRegistered(refusal.message)
            raise SenderNotPermitted(refusal.message)
        if self._contract_calls is None:
            return
        role = None if identity is None else identity.role
        contract = self._contract_calls.refusal(tx.target, tx.method, role)
        if contract is None:
            return
        if contract.kind is ContractRefusalKind.FROZEN:
            raise ContractFrozenRefused(contract.message)
        if contract.kind is ContractRefusalKind.NO_EXPORT:
            raise ExportNotFoundRefused(contract.message)
        raise SenderNotPermitted(contract.message)

    def _check_nonce(
        self, prepared: PreparedTransaction, next_nonce: int, queue: _SenderQueue | None
    ) -> None:
        nonce = prepared.tx.nonce
        window = self._config.nonce_window
        if nonce < next_nonce:
            raise NonceTooLow(f"nonce {nonce} is used; the sender's next nonce is {next_nonce}")
        if nonce >= next_nonce + window:
            raise NonceTooHigh(
                f"nonce {nonce} is beyond the window {next_nonce}..{next_nonce + window - 1}"
            )
        if queue is not None and nonce in queue.by_nonce:
            raise NonceAlreadyPending(f"another transaction with nonce {nonce} is pending")

    def _check_capacity(self, prepared: PreparedTransaction) -> None:
        config = self._config
        if len(self._by_hash) >= config.txs_max:
            raise MempoolFull(f"mempool holds {config.txs_max} transactions, its capacity")
        if self._bytes + prepared.size > config.bytes_max:
            raise MempoolFull(f"mempool would exceed its capacity of {config.bytes_max} bytes")

    def get(self, tx_hash: bytes) -> PreparedTransaction | None:
        entry = self._by_hash.get(tx_hash)
        return None if entry is None else entry.prepared

    def missing(self, tx_hashes: Iterable[bytes]) -> list[bytes]:
        """The hashes (of a proposal, say) that are not pending here, in their order."""
        return [tx_hash for tx_hash in tx_hashes if tx_hash not in self._by_hash]

    def resolve(self, tx_hashes: Sequence[bytes]) -> list[PreparedTransaction]:
        """The pending transactions of `tx_hashes`, in order; TransactionsMissing names the
        ones to fetch."""
        absent = self.missing(tx_hashes)
        if absent:
            raise TransactionsMissing(absent)
        return [self._by_hash[tx_hash].prepared for tx_hash in tx_hashes]

    def reap(self, *, max_txs: int, max_bytes: int, max_gas: int) -> list[PreparedTransaction]:
        """Ready transactions for a block, within the three limits.

        Each sender's transactions come in nonce order from its committed next nonce; senders
        interleave by admission order (the earliest admitted ready transaction first). A
        transaction that does not fit ends its sender's run. Changes nothing."""
        heads: list[tuple[int, bytes]] = []
        for address, queue in self._senders.items():
            entry = queue.by_nonce.get(queue.next_nonce)
            if entry is not None:
                heads.append((entry.sequence, address))
        heapq.heapify(heads)
        offsets: dict[bytes, int] = {}
        chosen: list[PreparedTransaction] = []
        size_total = gas_total = 0
        while heads and len(chosen) < max_txs:
            _, address = heapq.heappop(heads)
            queue = self._senders[address]
            offset = offsets.get(address, 0)
            prepared = queue.by_nonce[queue.next_nonce + offset].prepared
            if (
                size_total + prepared.size > max_bytes
                or gas_total + prepared.tx.gas_limit > max_gas
            ):
                continue
            chosen.append(prepared)
            size_total += prepared.size
            gas_total += prepared.tx.gas_limit
            offsets[address] = offset + 1
            following = queue.by_nonce.get(queue.next_nonce + offset + 1)
            if following is not None:
                heapq.heappush(heads, (following.sequence, address))
        return chosen

    def remove(self, tx_hashes: Iterable[bytes]) -> int:
        """Drop pending transactions (e.g. the ones `build_block_body` found invalid); returns
        how many were pending."""
        removed = 0
        for tx_hash in tx_hashes:
            if self._discard(tx_hash):
                removed += 1
        return removed

    def _discard(self, tx_hash: bytes) -> bool:
        entry = self._by_hash.pop(tx_hash, None)
        if entry is None:
            return False
        prepared = entry.prepared
        self._bytes -= prepared.size
        queue = self._senders[prepared.sender_address]
        del queue.by_nonce[prepared.tx.nonce]
        if not queue.by_nonce:
            del self._senders[prepared.sender_address]
        return True

    def on_commit(
        self, *, height: int, timestamp_ms: int, transactions: Sequence[PreparedTransaction]
    ) -> CommitReport:
        """A block was committed: drop its transactions, the pending ones whose nonce it used
        up, and the ones that expire before the next block."""
        if height <= self._head.height:
            raise InvariantViolation(f"on_commit of height {height} after {self._head.height}")
        self._head = ChainHead(height=height, timestamp_ms=timestamp_ms)
        committed = stale = 0
        next_nonces: dict[bytes, int] = {}
        for prepared in transactions:
            if self._discard(prepared.tx_hash):
                committed += 1
            self._remember_committed(prepared.tx_hash)
            address = prepared.sender_address
            next_nonces[address] = max(next_nonces.get(address, 0), prepared.tx.nonce + 1)
        for address, next_nonce in next_nonces.items():
            queue = self._senders.get(address)
            if queue is None or next_nonce <= queue.next_nonce:
                continue
            queue.next_nonce = next_nonce
            used = [nonce for nonce in queue.by_nonce if nonce < next_nonce]
            stale += self.remove(queue.by_nonce[nonce].prepared.tx_hash for nonce in used)
        report = CommitReport(committed=committed, stale=stale, expired=self._evict_expired())
        logger.debug(
            "mempool commit height=%d committed=%d stale=%d expired=%d pending=%d",
            height,
            report.committed,
            report.stale,
            report.expired,
            len(self._by_hash),
        )
        return report

    def _remember_committed(self, tx_hash: bytes) -> None:
        limit = self._config.recent_committed_max
        if limit == 0:
            return
        self._recent[tx_hash] = None
        if len(self._recent) > limit:
            del self._recent[next(iter(self._recent))]

    def _evict_expired(self) -> int:
        """Drop transactions whose expiry height is below the next block's height."""
        evicted = 0
        heap = self._expiry_heap
        while heap and heap[0][0] < self.next_height:
            _, sequence, tx_hash = heapq.heappop(heap)
            entry = self._by_hash.get(tx_hash)
            if entry is not None and entry.sequence == sequence:
                self._discard(tx_hash)
                evicted += 1
        if len(heap) > 2 * len(self._by_hash) + _EXPIRY_HEAP_SLACK:
            self._expiry_heap = [
                (entry.prepared.tx.expiry_height, entry.sequence, tx_hash)
                for tx_hash, entry in self._by_hash.items()
            ]
            heapq.heapify(self._expiry_heap)
        return evicted

    def stats(self) -> MempoolStats:
        """Counts for metrics; walks every sender (call it once per scrape, not per tx)."""
        return MempoolStats(
            count=len(self._by_hash),
            size_bytes=self._bytes,
            ready=sum(queue.ready_length() for queue in self._senders.values()),
            senders=len(self._senders),
        )
