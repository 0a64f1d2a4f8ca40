"""The stateless half of admission: size, decoding, chain id, expiry, gas and signature.

Nothing here reads or changes the mempool, so `AdmissionChecker` is safe from any thread; a
batch's signatures are verified in parallel on the injected thread pool (both suites release
the GIL). The stateful half (duplicates, nonces, sender, capacity) is `Mempool.add`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gongshi.codec import Transaction, decode, digest
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


class AdmissionChecker:
    """Checks raw transactions against the chain's static rules; thread-safe."""

    __slots__ = ("_config", "_parallel", "_suite")

    def __init__(self, *, config: MempoolConfig, suite: Suite, parallel: ParallelMap) -> None:
        self._config = config
        self._suite = suite
        self._parallel = parallel

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
        tx_hash = digest(self._suite, signing_bytes)
        if known is not None and known(tx_hash):
            raise AlreadyKnown(f"transaction {tx_hash.hex()} is already pending")
        if not tx.signature or not self._suite.verify(tx.sender, signing_bytes, tx.signature):
            raise BadSignature(f"transaction {tx_hash.hex()} is not signed by its sender")
        return PreparedTransaction(
            tx=tx, tx_hash=tx_hash, size=len(data), sender_address=self._suite.address(tx.sender)
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

        def check_chunk(chunk: Sequence[bytes]) -> list[CheckResult]:
            results: list[CheckResult] = []
            for data in chunk:
                try:
                    results.append(self.check(data, next_height=next_height, known=known))
                except AdmissionRejected as error:
                    results.append(error)
            return results

        return self._parallel.map_chunked(check_chunk, batch)
