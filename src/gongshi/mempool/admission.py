"""The stateless half of admission: size, decoding, chain id, expiry, gas and signature.

Nothing here reads or changes the mempool, so `AdmissionChecker` is safe from any thread; a
batch's signatures are verified in parallel on the injected thread pool (both suites release
the GIL). The stateful half (duplicates, nonces, sender, capacity) is `Mempool.add`.

`VerifiedSignatures` remembers which (transaction hash, signature) pairs already verified on
this node, so a transaction that reaches it twice (gossip, a proposal's fetch, block sync) has
its signature checked once.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from gongshi.codec import Transaction, decode
from gongshi.crypto import Suite
from gongshi.errors import DecodeError, SizeLimitExceeded
from gongshi.execution.parallel import ParallelMap
from gongshi.execution.prepared import PreparedTransaction
from gongshi.mempool.config import MempoolConfig
from gongshi.mempool.errors import (
    AdmissionRejected,
    AlreadyKnown,
    BadSignature,
    GasLimitTooHigh,
    MalformedTransaction,
    TransactionExpired,
    TransactionTooLarge,
    WrongChain,
)

CheckResult = PreparedTransaction | AdmissionRejected

VERIFIED_SIGNATURES_MAX = 100_000


class VerifiedSignatures:
    """A bounded, thread-safe record of transactions whose signature verified here.

    Keyed by the transaction hash (of the signing bytes) and holding the signature that
    verified: a copy of the same transaction with another signature is not covered. The
    oldest entries go first once `capacity` is reached (a forgotten one is verified again)."""

    __slots__ = ("_capacity", "_entries", "_lock")

    def __init__(self, capacity: int = VERIFIED_SIGNATURES_MAX) -> None:
        assert capacity >= 1
        self._capacity = capacity
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def contains(self, tx_hash: bytes, signature: bytes) -> bool:
        """True if this exact (hash, signature) pair verified (one atomic dict read)."""
        return self._entries.get(tx_hash) == signature

    def add(self, tx_hash: bytes, signature: bytes) -> None:
        self.add_all(((tx_hash, signature),))

    def add_all(self, pairs: Iterable[tuple[bytes, bytes]]) -> None:
        """Record verified (hash, signature) pairs, evicting the oldest beyond capacity."""
        with self._lock:
            entries = self._entries
            for tx_hash, signature in pairs:
                entries[tx_hash] = signature
                entries.move_to_end(tx_hash)  # a re-added entry counts as the newest
            while len(entries) > self._capacity:
                entries.popitem(last=False)

    def unverified(self, transactions: Sequence[PreparedTransaction]) -> list[PreparedTransaction]:
        """The transactions of `transactions` not known to be verified, in order."""
        return [p for p in transactions if not self.contains(p.tx_hash, p.tx.signature)]


class AdmissionChecker:
    """Checks raw transactions against the chain's static rules; thread-safe."""

    __slots__ = ("_config", "_parallel", "_suite", "verified")

    def __init__(
        self,
        *,
        config: MempoolConfig,
        suite: Suite,
        parallel: ParallelMap,
        verified: VerifiedSignatures | None = None,
    ) -> None:
        self._config = config
        self._suite = suite
        self._parallel = parallel
        # Shared with the node's other verification paths (fetch, block sync).
        self.verified = verified if verified is not None else VerifiedSignatures()

    @property
    def config(self) -> MempoolConfig:
        return self._config

    def set_config(self, config: MempoolConfig) -> None:
        """Governance changed the limits (one reference swap: readers see old or new)."""
        self._config = config

    @property
    def suite(self) -> Suite:
        return self._suite

    def check(
        self,
        data: bytes,
        *,
        next_height: int,
        known: Callable[[bytes], bool] | None = None,
    ) -> PreparedTransaction:
        """The decoded, hashed, verified transaction of `data`, or an AdmissionRejected.

        `next_height` is the height of the next block (expiry is checked against it); `known`
        says whether a hash is already pending, to skip verifying a duplicate."""
        config = self._config
        if not isinstance(data, bytes):
            raise MalformedTransaction("a transaction must be given as bytes")
        if len(data) > config.tx_bytes_max:
            raise TransactionTooLarge(
                f"transaction is {len(data)} bytes, the limit is {config.tx_bytes_max}"
            )
        try:
            tx = decode(Transaction, data, max_size=config.tx_bytes_max)
        except (DecodeError, SizeLimitExceeded) as error:
            raise MalformedTransaction(f"not a transaction: {error.message}") from error
        if tx.chain_id != config.chain_id:
            raise WrongChain(f"transaction is for chain {tx.chain_id!r}, not {config.chain_id!r}")
        if tx.expiry_height < next_height:
            raise TransactionExpired(
                f"transaction expired at height {tx.expiry_height}; the next block is {next_height}"
            )
        if tx.gas_limit > config.block_gas_max:
            raise GasLimitTooHigh(
                f"gas limit {tx.gas_limit} exceeds the block gas limit {config.block_gas_max}"
            )
        signing_bytes = tx.signing_bytes()
        # Through the record's memo: later `tx.hash(suite)` calls (commit notifications,
        # proofs) cost nothing.
        tx_hash = tx.memo_digest(self._suite, lambda: signing_bytes)
        if known is not None and known(tx_hash):
            raise AlreadyKnown(f"transaction {tx_hash.hex()} is already pending")
        if not tx.signature:
            raise BadSignature(f"transaction {tx_hash.hex()} is not signed by its sender")
        if not self.verified.contains(tx_hash, tx.signature):
            if not self._suite.verify(tx.sender, signing_bytes, tx.signature):
                raise BadSignature(f"transaction {tx_hash.hex()} is not signed by its sender")
            self.verified.add(tx_hash, tx.signature)
        return PreparedTransaction(
            tx=tx, tx_hash=tx_hash, size=len(data), sender_address=self._suite.address(tx.sender)
        )

    def admissible(self, prepared: PreparedTransaction) -> bool:
        """Whether a transaction checked elsewhere (a proposal's fetched ones: decoded and
        verified already) also meets the rules `check` applies before its signature: chain,
        size, gas limit. Those that do not could never be in a block of this chain."""
        config = self._config
        return (
            prepared.tx.chain_id == config.chain_id
            and prepared.size <= config.tx_bytes_max
            and prepared.tx.gas_limit <= config.block_gas_max
        )

    def check_batch(
        self,
        batch: Sequence[bytes],
        *,
        next_height: int,
        known: Callable[[bytes], bool] | None = None,
    ) -> list[CheckResult]:
        """`check` of each item, in parallel; each result is the prepared transaction or the
        rejection, in input order."""
        check = functools.partial(self._check_chunk, next_height=next_height, known=known)
        return self._parallel.map_chunked(check, batch)

    async def check_batch_from_loop(
        self,
        batch: Sequence[bytes],
        *,
        next_height: int,
        known: Callable[[bytes], bool] | None = None,
    ) -> list[CheckResult]:
        """`check_batch`, awaited from the event loop (the API's and gossip's admission):
        under load the node admits many batches of a few transactions, for which a thread
        hand-off costs about as much as the checks, so a small batch is checked on the loop
        and a larger one in chunks on the verification pool
        (`ParallelMap.map_chunked_from_loop`)."""
        check = functools.partial(self._check_chunk, next_height=next_height, known=known)
        return await self._parallel.map_chunked_from_loop(check, batch)

    def _check_chunk(
        self,
        chunk: Sequence[bytes],
        *,
        next_height: int,
        known: Callable[[bytes], bool] | None = None,
    ) -> list[CheckResult]:
        """`check` of each item on the calling thread, each result prepared or rejected."""
        results: list[CheckResult] = []
        for data in chunk:
            try:
                results.append(self.check(data, next_height=next_height, known=known))
            except AdmissionRejected as error:
                results.append(error)
        return results
