"""Mempool limits: from the chain parameters in force, plus the mempool's own bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gongshi.codec.limits import TRANSACTION_BYTES_MAX

if TYPE_CHECKING:
    from gongshi.node.genesis import ChainParams


@dataclass(frozen=True, slots=True, kw_only=True)
class MempoolConfig:
    chain_id: str
    tx_bytes_max: int = 64 << 10
    block_gas_max: int = 100_000_000
    # Capacity: pending transactions and the sum of their encoded sizes.
    txs_max: int = 100_000
    bytes_max: int = 256 << 20
    # A sender may have pending nonces next_nonce .. next_nonce + nonce_window - 1.
    nonce_window: int = 64
    # Most transactions in one `admit_batch` call.
    batch_max: int = 4096
    # Hashes of committed transactions remembered to refuse them again (oldest forgotten first).
    recent_committed_max: int = 100_000

    def __post_init__(self) -> None:
        assert self.tx_bytes_max >= 1 and self.block_gas_max >= 1
        assert self.txs_max >= 1 and self.bytes_max >= self.tx_bytes_max
        assert self.nonce_window >= 1 and self.batch_max >= 1
        assert self.recent_committed_max >= 0

    @classmethod
    def from_params(
        cls,
        params: ChainParams,
        *,
        nonce_window: int = 64,
        batch_max: int = 4096,
        recent_committed_max: int = 100_000,
    ) -> MempoolConfig:
        """The chain's parameters (those in force for the next block: `chain_params_at`),
        and the mempool's own bounds.

        The transaction size limit is also capped by the codec's `TRANSACTION_BYTES_MAX`,
        the most a gossip batch or a fetch response carries per transaction (`node.wire`):
        governance may set `tx_bytes_max` above it (the genesis option allows 16 MiB), and a
        larger transaction, once admitted, could be neither gossiped (encoding the batch
        fails) nor fetched by a replica that lacks it."""
        return cls(
            chain_id=params.chain_id,
            tx_bytes_max=min(params.tx_bytes_max, TRANSACTION_BYTES_MAX),
            block_gas_max=params.block_gas_max,
            txs_max=params.mempool_txs_max,
            bytes_max=params.mempool_bytes_max,
            nonce_window=nonce_window,
            batch_max=batch_max,
            recent_committed_max=recent_committed_max,
        )
