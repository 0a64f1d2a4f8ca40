"""The state the parts of the engine share, and the calls they make into one another.

`Engine` (engine.py) is one object composed of one mixin per part of the protocol:

| module | mixin | part |
| --- | --- | --- |
| `rounds.py` | `ViewChange` | round timer and back-off, timeouts, f+1 rule, TCs |
| `proposals.py` | `ProposalHandling` | proposals received: check, tree, validation |
| `proposing.py` | `Proposing` | the leader: build, sign, broadcast |
| `voting.py` | `Voting` | votes out and in, QCs, accepting a certified block |
| `finality.py` | `Finality` | finality certificates, `Commit` in height order |
| `epochs.py` | `EpochChanges` | epoch change, safety state, the epoch fence |
| `catchup.py` | `CatchUp` | sync requests and answers, other epochs' messages |

Every mixin derives from `EngineState`. Its annotations below are the whole mutable state
(set by `Engine.__init__`, the per-epoch part by `EpochChanges._install_epoch`); its abstract
methods are the only calls a part makes into another part, each named with its owner, so the
coupling between parts is this list and nothing else. `Engine` fails to instantiate if a part
is missing. A part's other methods are its own.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import deque

from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus import actions as act
from gongshi.consensus.collectors import EquivocationDetector, TimeoutCollector, VoteCollector
from gongshi.consensus.config import EngineConfig
from gongshi.consensus.evidence import SignedStatement, StatementKind
from gongshi.consensus.messages import Message, Proposal, SyncedBlock, Vote
from gongshi.consensus.signing import Signer, Verifier
from gongshi.consensus.tree import BlockNode, BlockTree
from gongshi.consensus.types import (
    Justify,
    Phase,
    SafetyState,
    TimeoutCertificate,
    ValidatorSet,
    ValidatorSetChange,
)

logger = logging.getLogger(__name__)

VERIFIED_CACHE_MAX = 4096


class EngineState(ABC):
    """Fields and shared helpers of the engine; see the module docstring."""

    config: EngineConfig
    signer: Signer
    verifier: Verifier
    public_key: bytes
    # Dropped peer input, counted by reason (never raised on).
    drops: dict[str, int]
    # Actions of the current step, returned by `Engine.step`.
    _actions: list[act.Action]
    # Messages to handle within the current step (buffered ones whose block arrived).
    _replay: deque[tuple[bytes, Message]]
    # Committed blocks with their finality certificates, to serve lagging peers.
    committed_blocks: deque[SyncedBlock]
    # Justifies and TCs already verified (bounded by VERIFIED_CACHE_MAX).
    _verified: set[Justify | TimeoutCertificate]
    # Invariant: only grows within an epoch, only in `ViewChange._enter_round`.
    round: int
    # The epoch fence (CONS-SAFETY-8): the persisted safety state of a later epoch than the
    # root, or None. While set the engine signs nothing (`my_index` is None).
    fence: SafetyState | None
    # Invariant: (epoch, last voted round) of every persisted state is at least this one's.
    _persisted_floor: tuple[int, int]
    tree: BlockTree
    high_qc: Justify
    # Invariant: only grows within an epoch; no vote in a round at or below it.
    last_voted_round: int

    # Per epoch (`EpochChanges._install_epoch`).
    epoch: int
    validators: ValidatorSet
    epoch_root_hash: bytes
    my_index: int | None
    votes: VoteCollector
    timeouts: TimeoutCollector
    detector: EquivocationDetector
    high_tc: TimeoutCertificate | None
    timed_out_round: int
    proposed_round: int
    building_round: int
    consecutive_timeouts: int
    retransmissions: int
    commit_certificates: dict[bytes, QuorumCertificate]
    commit_sources: dict[bytes, Justify]
    commit_target: QuorumCertificate | None
    pending_proposals: dict[bytes, list[tuple[bytes, Proposal]]]
    pending_votes: dict[bytes, list[tuple[bytes, Vote]]]
    sync_requested: set[tuple[bytes, bytes | None, int]]
    sync_served: set[tuple[bytes, int]]
    later_epoch_seen: bool

    # ----------------------------------------------------------------------------- shared

    @property
    def committed_height(self) -> int:
        return self.tree.root.block.height

    @property
    def high_qc_round(self) -> int:
        return self._justify_round(self.high_qc)

    def _drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def _justify_round(self, justify: Justify) -> int:
        """The round a justify certifies in this epoch: 0 for the epoch's root."""
        if justify.qc.phase == Phase.GENESIS or justify.epoch < self.epoch:
            return 0
        return justify.qc.round

    def _key_of(self, index: int) -> bytes:
        return self.validators.public_keys[index]

    def _in_window(self, round_number: int, current: int) -> bool:
        return current - 1 <= round_number <= current + self.config.round_window_max

    def _remember_verified(self, item: Justify | TimeoutCertificate) -> None:
        if len(self._verified) >= VERIFIED_CACHE_MAX:
            self._verified.clear()
        self._verified.add(item)

    def _observe(
        self, kind: StatementKind, round_number: int, validator: int, statement: SignedStatement
    ) -> None:
        """Record a signed proposal or vote; a conflicting second one becomes evidence."""
        evidence = self.detector.observe(kind, round_number, validator, statement)
        if evidence is not None:
            logger.warning(
                "equivocation kind=%s epoch=%d round=%d validator=%d",
                kind.name,
                evidence.epoch,
                round_number,
                validator,
            )
            self._actions.append(act.RecordEvidence(evidence=evidence))

    # ----------------------------------------------------------------------------- rules
    # Bound by `Engine` to the functions of checks.py, so the rules are applied in one place.

    @abstractmethod
    def _proposal_problem(self, proposal: Proposal) -> str | None:
        """Engine: why a proposal of this epoch is invalid (a drop reason), or None."""

    @abstractmethod
    def _voting_rule_allows(
        self, round_number: int, justify_round: int, tc: TimeoutCertificate | None
    ) -> bool:
        """Engine: the voting rule's lock and justification (SPEC.md, "Voting rule")."""

    # ----------------------------------------------------------------------------- parts

    @abstractmethod
    def _enter_round(self, round_number: int, *, via_tc: bool) -> None:
        """ViewChange: move to a later round, arm its timer, propose if leading."""

    @abstractmethod
    def _accept_timeout_certificate(self, tc: TimeoutCertificate) -> bool:
        """ViewChange: verify a TC of this epoch; raise the high TC, enter the next round."""

    @abstractmethod
    def _handle_proposal(self, sender: bytes, proposal: Proposal) -> None:
        """ProposalHandling: a proposal from a peer (or from a sync response)."""

    @abstractmethod
    def _mark_valid(self, node: BlockNode, change: ValidatorSetChange | None) -> None:
        """ProposalHandling: record a block as validated, with its usable set change."""

    @abstractmethod
    def _try_propose(self) -> None:
        """Proposing: start a proposal if this node leads the round and may propose."""

    @abstractmethod
    def _vote_if_safe(self, node: BlockNode) -> Vote | None:
        """Voting: sign a vote if the voting rule allows, its safety state persisted first."""

    @abstractmethod
    def _deliver_vote(self, vote: Vote) -> None:
        """Voting: send a vote to the next leader (or count it, being that leader)."""

    @abstractmethod
    def _accept_justify(self, justify: Justify) -> bool:
        """Voting: check a certified block; raise the high QC, advance, commit."""

    @abstractmethod
    def _record_commit(self, commit: QuorumCertificate, source: Justify | None) -> None:
        """Finality: remember a verified finality certificate."""

    @abstractmethod
    def _accept_commit_certificate(self, certificate: QuorumCertificate) -> None:
        """Finality: a finality certificate on its own (from sync)."""

    @abstractmethod
    def _try_commit(self) -> None:
        """Finality: commit up to the highest finalised block held and validated."""

    @abstractmethod
    def _persist_safety(self) -> None:
        """EpochChanges: emit the persist that must be durable before a vote or timeout."""

    @abstractmethod
    def _start_epoch(self, root: BlockNode, validators: ValidatorSet) -> None:
        """EpochChanges: the committed `root` ended the epoch; continue with `validators`."""

    @abstractmethod
    def _handle_other_epoch(
        self, sender: bytes, epoch: int, justify: Justify, wanted: bytes | None
    ) -> None:
        """CatchUp: a proposal or timeout of another epoch than this one."""

    @abstractmethod
    def _catch_up(self) -> None:
        """CatchUp: ask a validator, in turn, for the committed chain."""

    @abstractmethod
    def _request_missing_certificates(self) -> None:
        """CatchUp: ask a validator, a different one each round, for finality certificates."""

    @abstractmethod
    def _request_sync(self, peer: bytes, wanted: bytes | None) -> None:
        """CatchUp: ask `peer` for the chain up to `wanted`, once per round per request."""

    @abstractmethod
    def _serve(self, peer: bytes, committed_height: int) -> None:
        """CatchUp: send `peer` the blocks above `committed_height`, unasked, once per round."""
