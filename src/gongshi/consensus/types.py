"""Data types of the consensus protocol: blocks as the engine sees them, validator sets,
certificates and the safety state.

Everything here is an immutable value; the engine's mutable state is declared in
`engine_state.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus.errors import InvalidValidatorSet

HASH_SIZE = 32


class Phase(IntEnum):
    """The kind of statement a quorum certificate's signatures cover (`QuorumCertificate.phase`)."""

    GENESIS = 0  # the configured genesis block; no signatures
    VOTE = 1  # "I voted for this block in this round"
    COMMIT = 2  # "I voted for a direct child of this block in the next round"


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """A block as consensus sees it; the application owns its contents.

    `block_hash` is the application's header hash and must commit to `height`, `parent_hash`
    and `payload`; replicas check that by re-executing (the validate step). A nil block is
    made by the engine itself (see `nil_block` in signing.py): it carries no payload, repeats
    its parent's height and is never committed; it only exists to finish an epoch.
    """

    height: int
    parent_hash: bytes
    payload: bytes
    block_hash: bytes
    nil: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatorSet:
    """The validators of one epoch: equally weighted, identified by index into `public_keys`.

    n = len(public_keys), f = (n - 1) // 3, quorum = n - f. For n = 3f + 1 that is 2f + 1;
    for other n it is the smallest size whose any two quorums share f + 1 validators
    (2 * (n - f) - n = n - 2f >= f + 1), so they always share an honest one.
    """

    epoch: int
    public_keys: tuple[bytes, ...]
    # Derived, for lookups; not part of equality.
    index_of: dict[bytes, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.public_keys:
            raise InvalidValidatorSet("a validator set needs at least one validator")
        if len(set(self.public_keys)) != len(self.public_keys):
            raise InvalidValidatorSet("validator public keys must be distinct")
        if self.epoch < 0:
            raise InvalidValidatorSet("epoch must be non-negative")
        self.index_of.update({key: index for index, key in enumerate(self.public_keys)})

    @property
    def size(self) -> int:
        return len(self.public_keys)

    @property
    def faults_max(self) -> int:
        return (len(self.public_keys) - 1) // 3

    @property
    def quorum(self) -> int:
        return len(self.public_keys) - self.faults_max

    def leader(self, round_number: int) -> int:
        """Round-robin leader rotation; the epoch shifts the start so epochs differ."""
        return (round_number + self.epoch) % len(self.public_keys)


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatorSetChange:
    """The application's decision that `public_keys` validate every block from
    `activation_height` on. Consensus makes the change at an epoch boundary: blocks up to
    `activation_height - 1` are certified by the current set, and the new epoch starts once
    that block is committed (see docs/consensus.md, "Reconfiguration")."""

    public_keys: tuple[bytes, ...]
    activation_height: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Justify:
    """A certified block: `qc` certifies the block, `commits` are the finality certificates
    (phase COMMIT) that the same votes produced for the blocks they committed.

    They always travel together, so whoever learns that a block is certified also learns the
    finality certificates the certificate implies. `epoch` is the epoch whose validators
    signed. The justify of an epoch's first block is the COMMIT certificate of the epoch's
    root, signed in the previous epoch.
    """

    epoch: int
    qc: QuorumCertificate
    commits: tuple[QuorumCertificate, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutCertificate:
    """A quorum of validators that timed out in `round`, each stating the round of the
    highest certificate it holds. A leader entering round+1 through it must extend a block
    certified at least as high as the highest of those rounds."""

    epoch: int
    round: int
    signers: tuple[int, ...]
    high_qc_rounds: tuple[int, ...]
    signatures: tuple[bytes, ...]

    @property
    def high_qc_round_max(self) -> int:
        return max(self.high_qc_rounds)


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyState:
    """What a validator must never forget: persisted before any vote or timeout it sends.

    Invariant: `last_voted_round` only grows within an epoch; a validator signs at most one
    vote per round and no vote in a round it has timed out in. `high_qc` is the highest
    certified block it has voted on top of or reported in a timeout (its lock): a restarted
    validator that forgot it could report a lower one and help a leader undo a commit.
    Invariant: (`epoch`, `last_voted_round`) of the persisted state never goes back; an
    engine whose committed root is in an earlier epoch than this state signs nothing until it
    is back in `epoch` and resumes from it there (the epoch fence, SPEC.md CONS-SAFETY-8).
    """

    epoch: int
    last_voted_round: int
    high_qc: Justify


@dataclass(frozen=True, slots=True, kw_only=True)
class CommittedRoot:
    """Where a (re)started engine resumes: the last committed block and the epoch in force.

    `round` is the block's round within `epoch`, or 0 if it is the epoch's root (the last
    block of the previous epoch). `justify` certifies it: the genesis certificate, the COMMIT
    certificate of the block, or, for an epoch root, the previous epoch's COMMIT certificate.
    `pending_change` is a committed change that has not taken effect yet.
    """

    block: Block
    epoch: int
    round: int
    validators: ValidatorSet
    justify: Justify
    # Hash of the epoch's root (its round-0 block); equal to `block.block_hash` if round == 0.
    epoch_root_hash: bytes
    pending_change: ValidatorSetChange | None = None
