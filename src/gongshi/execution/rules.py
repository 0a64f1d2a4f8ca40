"""Block validity: the rules every transaction of a block must meet, checked in one place.

Execution applies them to a proposed block (any breach rejects the block: `InvalidBlock`);
the proposer applies the very same checks to skip what would break them, so an honest
proposer never makes a block an honest replica rejects. Identities come from the state before
the block, so both sides see the same senders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gongshi.execution.context import BlockContext, Sender
from gongshi.execution.errors import (
    BlockTooLarge,
    ExcessiveGasLimit,
    ExpiredTransaction,
    ForeignTransaction,
    NonceOutOfOrder,
    OversizedTransaction,
    UnauthorisedSender,
    UnregisteredSender,
)
from gongshi.execution.governance_errors import RevokedSender
from gongshi.execution.identities import IdentityReader
from gongshi.execution.identity_records import MemberIdentity
from gongshi.execution.permissions import RefusalKind, sender_refusal
from gongshi.execution.prepared import PreparedTransaction
from gongshi.execution.state import NonceReader

if TYPE_CHECKING:
    from gongshi.node.genesis import ChainParams


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockLimits:
    """How much one block may hold (chain parameters; see `ChainParams`)."""

    txs_max: int = 2000
    bytes_max: int = 4 << 20  # sum of the transactions' encoded sizes
    tx_bytes_max: int = 64 << 10
    gas_max: int = 100_000_000  # sum of the transactions' gas limits

    def __post_init__(self) -> None:
        assert self.txs_max >= 1 and self.gas_max >= 1
        assert 1 <= self.tx_bytes_max <= self.bytes_max

    @classmethod
    def from_params(cls, params: ChainParams) -> BlockLimits:
        return cls(
            txs_max=params.block_txs_max,
            bytes_max=params.block_bytes_max,
            tx_bytes_max=params.tx_bytes_max,
            gas_max=params.block_gas_max,
        )


class BlockChecker:
    """Checks a block's transactions in order, tracking nonces and the block's budget.

    `check` raises `InvalidBlock` and changes nothing; `accept` then counts the transaction.
    """

    __slots__ = (
        "_accepted",
        "_bytes",
        "_context",
        "_count",
        "_gas",
        "_identities",
        "_identity_reader",
        "_limits",
        "_nonces",
    )

    def __init__(
        self,
        *,
        context: BlockContext,
        limits: BlockLimits,
        nonces: NonceReader,
        identities: IdentityReader,
    ) -> None:
        self._context = context
        self._limits = limits
        self._nonces = nonces
        self._identity_reader = identities
        # Sender key -> its identity in the state before the block (resolved once per block).
        self._identities: dict[bytes, MemberIdentity | None] = {}
        # Invariant: the next nonce of each sender with an accepted transaction.
        self._accepted: dict[bytes, int] = {}
        self._count = 0
        self._bytes = 0
        self._gas = 0

    @property
    def count(self) -> int:
        return self._count

    def check(self, index: int, prepared: PreparedTransaction) -> Sender:
        """The sender of `prepared` if it may be the block's transaction `index`."""
        tx = prepared.tx
        limits = self._limits
        if prepared.size > limits.tx_bytes_max:
            raise OversizedTransaction(
                f"{prepared.size} bytes, limit {limits.tx_bytes_max}", index=index
            )
        if tx.chain_id != self._context.chain_id:
            raise ForeignTransaction(f"chain id {tx.chain_id!r}", index=index)
        if tx.expiry_height < self._context.height:
            raise ExpiredTransaction(
                f"expired at height {tx.expiry_height}, block is {self._context.height}",
                index=index,
            )
        if tx.gas_limit > limits.gas_max:
            raise ExcessiveGasLimit(f"gas limit {tx.gas_limit} > {limits.gas_max}", index=index)
        self._check_budget(index, prepared)
        sender = self._sender(index, prepared)
        expected = self.expected_nonce(prepared.sender_address)
        if tx.nonce != expected:
            raise NonceOutOfOrder(index=index, expected=expected, actual=tx.nonce)
        return sender

    def _check_budget(self, index: int, prepared: PreparedTransaction) -> None:
        limits = self._limits
        if self._count >= limits.txs_max:
            raise BlockTooLarge(f"more than {limits.txs_max} transactions", index=index)
        if self._bytes + prepared.size > limits.bytes_max:
            raise BlockTooLarge(f"more than {limits.bytes_max} bytes", index=index)
        if self._gas + prepared.tx.gas_limit > limits.gas_max:
            raise BlockTooLarge(f"gas limits add up to more than {limits.gas_max}", index=index)

    def _sender(self, index: int, prepared: PreparedTransaction) -> Sender:
        tx = prepared.tx
        if tx.sender in self._identities:
            identity = self._identities[tx.sender]
        else:
            identity = self._identity_reader.resolve(tx.sender)
            self._identities[tx.sender] = identity
        refusal = sender_refusal(identity, tx.target, tx.method, self._context.timestamp_ms)
        if refusal is not None:
            if refusal.kind is RefusalKind.UNREGISTERED:
                raise UnregisteredSender(refusal.message, index=index)
            if refusal.kind is RefusalKind.REVOKED:
                raise RevokedSender(refusal.message, index=index)
            raise UnauthorisedSender(refusal.message, index=index)
        return Sender(public_key=tx.sender, address=prepared.sender_address, identity=identity)

    def expected_nonce(self, address: bytes) -> int:
        """The nonce the sender's next transaction in this block must carry."""
        accepted = self._accepted.get(address)
        return self._nonces.next_nonce(address) if accepted is None else accepted

    def accept(self, prepared: PreparedTransaction) -> None:
        """Count a transaction `check` passed."""
        self._accepted[prepared.sender_address] = prepared.tx.nonce + 1
        self._count += 1
        self._bytes += prepared.size
        self._gas += prepared.tx.gas_limit

    def next_nonces(self) -> dict[bytes, int]:
        """The next nonce of every sender with a transaction in the block, by address."""
        return dict(sorted(self._accepted.items()))
