"""Actions: everything that leaves the engine. The shell carries them out **in list order**.

Ordering rule (as raft's `Ready`): a `PersistSafetyState` must be durable (fsynced) before any
`Send` or `Broadcast` that comes after it in the same list is handed to the network. The
engine always places its vote's or timeout's persist first, so a validator that crashes and
restarts can never sign a second, different vote for a round it already voted in.

Every other action may be carried out asynchronously, as long as answers come back as events
(`BlockValidated`, `ProposalBuilt`, `TimerFired`). `Commit`s come in height order and must be
applied in that order; they may become durable after later actions (even after a later
`PersistSafetyState`): the engine's epoch fence keeps votes safe whatever that order
(SPEC.md, CONS-SAFETY-8). For liveness across a crash at an epoch's end, make a `Commit` with
`next_validators` durable before carrying out anything after it (the node driver does).
"""

from __future__ import annotations

from dataclasses import dataclass

from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus.evidence import Evidence
from gongshi.consensus.messages import Message
from gongshi.consensus.types import Block, SafetyState, ValidatorSet


@dataclass(frozen=True, slots=True, kw_only=True)
class PersistSafetyState:
    """Write `state` durably, replacing the previous one, before any later Send/Broadcast."""

    state: SafetyState


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """Send `message` to the peer whose node key is `to` (and nobody else)."""

    to: bytes
    message: Message


@dataclass(frozen=True, slots=True, kw_only=True)
class Broadcast:
    """Send `message` to every peer (validators and observers), not to oneself."""

    message: Message


@dataclass(frozen=True, slots=True, kw_only=True)
class SetTimer:
    """Fire `TimerFired(epoch, round)` after `delay_ms`. Earlier timers need not be cancelled:
    the engine ignores timers of rounds it has left."""

    epoch: int
    round: int
    delay_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidateBlock:
    """Re-execute `block` on the state after `block.parent_hash` and answer with
    `BlockValidated`. Parents are always validated before their children."""

    block: Block


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildProposal:
    """Build and execute a block at `height` on `parent_hash`, and answer with
    `ProposalBuilt(epoch, round, ...)`. The block hash must be unique to this request: put
    `proposer` and `round` (or a timestamp) in the header."""

    epoch: int
    round: int
    height: int
    parent_hash: bytes
    proposer: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """`block` is final: apply it and store it with `certificate`, its finality certificate
    (check it with `verify_commit` against the validators of `epoch`). If `next_validators`
    is set, this block ends its epoch and those validators certify the blocks after it."""

    block: Block
    certificate: QuorumCertificate
    epoch: int
    next_validators: ValidatorSet | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordEvidence:
    """Two conflicting statements signed by one validator; keep them for the chain."""

    evidence: Evidence


Action = (
    PersistSafetyState
    | Send
    | Broadcast
    | SetTimer
    | ValidateBlock
    | BuildProposal
    | Commit
    | RecordEvidence
)
