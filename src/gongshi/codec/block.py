"""Block header and block."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from gongshi.codec.fields import HASH, PUBLIC_KEY, UINT64
from gongshi.codec.hashing import Hasher
from gongshi.codec.kinds import Array, Nested
from gongshi.codec.limits import BLOCK_BYTES_MAX, BLOCK_TRANSACTIONS_MAX, HEADER_BYTES_MAX
from gongshi.codec.record import Record, record
from gongshi.codec.transaction import Transaction


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class BlockHeader(Record):
    """What consensus agrees on and clients verify proofs against.

    The proposer executes the block before proposing it, so the three roots are those *after*
    applying this block's transactions. The header hash is the suite hash of its encoding; a
    header carries no signature (the quorum certificate signs its hash).
    """

    encoded_bytes_max: ClassVar[int] = HEADER_BYTES_MAX

    height: Annotated[int, UINT64]
    parent_hash: Annotated[bytes, HASH]
    # RFC 6962 root over the hashes of `Block.transactions`, in order.
    tx_root: Annotated[bytes, HASH]
    # RFC 6962 root over this block's receipts, in transaction order.
    receipts_root: Annotated[bytes, HASH]
    # Root of the authenticated state after this block.
    state_root: Annotated[bytes, HASH]
    # Milliseconds since the Unix epoch by the proposer's clock: the block time contracts see.
    timestamp_ms: Annotated[int, UINT64]
    # The proposing validator's raw public key.
    proposer: Annotated[bytes, PUBLIC_KEY]
    # Consensus round (view) in which the block was proposed.
    round: Annotated[int, UINT64]
    # Version of the chain configuration (validator set, parameters) in force for this block.
    config_version: Annotated[int, UINT64]

    def hash(self, hasher: Hasher) -> bytes:
        return self.memo_digest(hasher, self.encode)


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class Block(Record):
    """A header and its full signed transactions, in execution order."""

    encoded_bytes_max: ClassVar[int] = BLOCK_BYTES_MAX

    header: Annotated[BlockHeader, Nested(BlockHeader)]
    transactions: Annotated[
        tuple[Transaction, ...],
        Array(Nested(Transaction), length_max=BLOCK_TRANSACTIONS_MAX),
    ]

    def hash(self, hasher: Hasher) -> bytes:
        """The block hash is its header's hash."""
        return self.header.hash(hasher)

    @property
    def height(self) -> int:
        return self.header.height
