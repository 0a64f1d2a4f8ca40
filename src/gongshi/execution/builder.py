"""Building a block body for the proposer: the block validity rules applied as a filter.

The proposer offers candidates (the mempool's `reap`, already in a deterministic order and in
nonce order per sender); `build_block_body` keeps each candidate that the block's checks
accept, in order, until the block is full, so `execute_block` on the result never raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gongshi.execution.context import BlockContext
from gongshi.execution.errors import BlockTooLarge, InvalidBlock, NonceOutOfOrder
from gongshi.execution.identities import IdentityReader
from gongshi.execution.prepared import PreparedTransaction
from gongshi.execution.rules import BlockChecker, BlockLimits
from gongshi.execution.state import NonceReader


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockBody:
    """The chosen transactions, and the candidates that can never be included (expired, stale
    nonce, sender no longer allowed...) with the reason: the mempool should drop those."""

    transactions: tuple[PreparedTransaction, ...]
    invalid: tuple[tuple[bytes, InvalidBlock], ...]

    @property
    def tx_hashes(self) -> tuple[bytes, ...]:
        return tuple(prepared.tx_hash for prepared in self.transactions)


def _may_fit_later(error: InvalidBlock) -> bool:
    """True for reasons that may clear up by the next block: it is full, or the sender's
    earlier transaction is missing (a nonce gap)."""
    if isinstance(error, BlockTooLarge):
        return True
    return isinstance(error, NonceOutOfOrder) and error.actual > error.expected


def build_block_body(
    candidates: Iterable[PreparedTransaction],
    *,
    context: BlockContext,
    limits: BlockLimits,
    nonces: NonceReader,
    identities: IdentityReader,
    candidates_max: int = 1_000_000,
) -> BlockBody:
    """Pick transactions from `candidates` in their order, within `limits`.

    A candidate that breaks a rule is left out, and so are its sender's later candidates
    (they would follow a gap). Looks at no more than `candidates_max` candidates."""
    checker = BlockChecker(context=context, limits=limits, nonces=nonces, identities=identities)
    chosen: list[PreparedTransaction] = []
    invalid: list[tuple[bytes, InvalidBlock]] = []
    blocked: set[bytes] = set()  # senders with a left-out transaction: membership only
    for seen, prepared in enumerate(candidates):
        if seen >= candidates_max or checker.count >= limits.txs_max:
            break
        if prepared.sender_address in blocked:
            continue
        try:
            checker.check(len(chosen), prepared)
        except InvalidBlock as error:
            blocked.add(prepared.sender_address)
            if not _may_fit_later(error):
                invalid.append((prepared.tx_hash, error))
            continue
        checker.accept(prepared)
        chosen.append(prepared)
    return BlockBody(transactions=tuple(chosen), invalid=tuple(invalid))
