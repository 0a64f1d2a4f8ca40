"""Messages validators exchange. Each is signed by its sender except sync messages, whose
contents (signed proposals) authenticate themselves.

The transport authenticates the peer (mutual TLS with node certificates) and hands the engine
the peer's public key with each message; the engine still checks every signature, because a
message may be relayed.
"""

from __future__ import annotations

from dataclasses import dataclass

from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus.types import Block, Justify, TimeoutCertificate


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    """The leader of (`epoch`, `round`) proposes `block` on top of the block `justify`
    certifies. If `justify` is not from the previous round, `timeout_certificate` shows that
    the previous round timed out."""

    epoch: int
    round: int
    proposer: int
    block: Block
    justify: Justify
    timeout_certificate: TimeoutCertificate | None
    signature: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitSignature:
    """A COMMIT signature for one block of the segment a vote finalises."""

    height: int
    round: int
    block_hash: bytes
    signature: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Vote:
    """A validator's vote for a block, sent to the next round's leader.

    `commits` holds one COMMIT signature per block that this vote, once part of a quorum,
    finalises (the block's parent if it is from the previous round, and the parent's
    uncommitted ancestors down to the previous such point; see `BlockTree.commit_segment`).
    """

    epoch: int
    round: int
    height: int
    block_hash: bytes
    voter: int
    signature: bytes
    commits: tuple[CommitSignature, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeout:
    """A validator gives up on `round`; it reports its highest certified block so the next
    leader extends at least that, and its latest timeout certificate to help others catch up."""

    epoch: int
    round: int
    voter: int
    high_qc: Justify
    high_tc: TimeoutCertificate | None
    signature: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncRequest:
    """Ask a peer for the proposals after `committed_height` up to `block_hash` (or up to
    its highest certified block if `block_hash` is None)."""

    epoch: int
    committed_height: int
    block_hash: bytes | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncedBlock:
    """A signed proposal, with its block's finality certificate if the block is committed."""

    proposal: Proposal
    certificate: QuorumCertificate | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncResponse:
    """Blocks in chain order (parents first), at most `sync_batch_max` of them."""

    blocks: tuple[SyncedBlock, ...]


Message = Proposal | Vote | Timeout | SyncRequest | SyncResponse
