"""Invariant checkers, run by the cluster after every step (see SPEC.md for the IDs).

Each checker sees only what honest nodes did (their commits, the votes they sent, the
evidence they recorded) and keeps incremental state, so checking every step stays cheap.
Byzantine validators (including both twins of a shared key) are exempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gongshi.consensus.actions import Commit
from gongshi.consensus.evidence import Evidence, verify_evidence
from gongshi.consensus.messages import Proposal
from gongshi.consensus.quorum import verify_commit
from gongshi.consensus.signing import Verifier
from gongshi.consensus.types import Block, Phase, SafetyState, ValidatorSet


def voting_rule_problem(epoch: int, proposal: Proposal) -> str | None:
    """Why voting for `proposal` in `epoch` breaks the voting rule (SPEC.md, "Voting rule"):
    the block must extend the block its QC certifies, and that QC must be from the previous
    round or at least as high as every high QC a TC of the previous round reports (the lock
    that a quorum of timed-out validators holds). Written apart from the engine's check, so
    that weakening the engine's rule shows up here."""
    justify = proposal.justify
    if proposal.block.parent_hash != justify.qc.block_hash:
        return "the block's parent is not the block its QC certifies"
    genesis = justify.qc.phase == Phase.GENESIS or justify.epoch < epoch
    certified_round = 0 if genesis else justify.qc.round
    if proposal.round == certified_round + 1:
        return None
    tc = proposal.timeout_certificate
    if tc is None or tc.round + 1 != proposal.round:
        return f"QC of round {certified_round} and no TC of round {proposal.round - 1}"
    if certified_round < max(tc.high_qc_rounds):
        return f"QC of round {certified_round} below the TC's high QC {max(tc.high_qc_rounds)}"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    invariant: str  # an ID of SPEC.md, e.g. "CONS-SAFETY-1"
    time_ms: int
    node: int
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant} at t={self.time_ms}ms node={self.node}: {self.detail}"


@dataclass(slots=True)
class Checkers:
    chain_id: bytes
    verifier: Verifier
    validator_sets: dict[int, ValidatorSet]  # epoch -> set, learnt from commits
    byzantine_keys: frozenset[bytes]
    violations: list[Violation] = field(default_factory=list)
    canonical: dict[int, bytes] = field(default_factory=dict)  # height -> committed hash
    tips: dict[int, tuple[int, bytes]] = field(default_factory=dict)  # node -> (height, hash)
    votes: dict[tuple[bytes, int, int], bytes] = field(default_factory=dict)
    last_vote: dict[bytes, tuple[int, int]] = field(default_factory=dict)

    def fail(self, invariant: str, time_ms: int, node: int, detail: str) -> None:
        self.violations.append(
            Violation(invariant=invariant, time_ms=time_ms, node=node, detail=detail)
        )

    def on_commit(self, time_ms: int, node: int, commit: Commit) -> None:
        block = commit.block
        known = self.canonical.setdefault(block.height, block.block_hash)
        if known != block.block_hash:
            self.fail(
                "CONS-SAFETY-1",
                time_ms,
                node,
                f"height {block.height}: {block.block_hash.hex()[:12]} != {known.hex()[:12]}",
            )
        tip_height, tip_hash = self.tips.get(node, (0, b""))
        if block.height != tip_height + 1 or (tip_height and block.parent_hash != tip_hash):
            self.fail(
                "CONS-SAFETY-2",
                time_ms,
                node,
                f"commit at height {block.height} does not extend its tip at {tip_height}",
            )
        self.tips[node] = (block.height, block.block_hash)
        validators = self.validator_sets.get(commit.epoch)
        if validators is None or not verify_commit(
            self.chain_id,
            validators,
            block.block_hash,
            block.height,
            commit.certificate,
            self.verifier,
        ):
            self.fail("CONS-SAFETY-5", time_ms, node, f"bad certificate at {block.height}")
        if commit.next_validators is not None:
            known_set = self.validator_sets.setdefault(
                commit.next_validators.epoch, commit.next_validators
            )
            if known_set != commit.next_validators:
                self.fail("CONS-SAFETY-1", time_ms, node, "validator sets disagree")

    def on_restart(self, node: int, root: Block) -> None:
        """`node` crashed: it resumes from its durable root, so its commits start again
        above it (commits the crash lost are made again, checked like the first time)."""
        if node in self.tips:
            self.tips[node] = (root.height, root.block_hash)

    def on_persist(
        self, time_ms: int, node: int, previous: SafetyState | None, state: SafetyState
    ) -> None:
        """Called for every safety state an honest node persists: the epoch fence's
        premise, (epoch, last voted round) never going back, across restarts."""
        if previous is None:
            return
        before = (previous.epoch, previous.last_voted_round)
        after = (state.epoch, state.last_voted_round)
        if after < before:
            self.fail(
                "CONS-SAFETY-8", time_ms, node, f"safety state {after} persisted over {before}"
            )

    def on_signature(
        self, time_ms: int, node: int, epoch: int, persisted: SafetyState | None
    ) -> None:
        """Called for every statement an honest node signs: never in an epoch below that of
        its durable safety state (it may have voted there and forgotten it)."""
        if persisted is not None and epoch < persisted.epoch:
            self.fail(
                "CONS-SAFETY-8",
                time_ms,
                node,
                f"signed in epoch {epoch} with a safety state of epoch {persisted.epoch}",
            )

    def on_vote(
        self, time_ms: int, node: int, key: bytes, epoch: int, round_number: int, block_hash: bytes
    ) -> None:
        """Called for every vote an honest validator signs (seen at its signer)."""
        if key in self.byzantine_keys:
            return
        slot = (key, epoch, round_number)
        first = self.votes.setdefault(slot, block_hash)
        if first != block_hash:
            self.fail(
                "CONS-SAFETY-3", time_ms, node, f"double vote in epoch {epoch} round {round_number}"
            )
        previous = self.last_vote.get(key, (-1, -1))
        current = (epoch, round_number)
        if current < previous:
            self.fail("CONS-SAFETY-4", time_ms, node, f"vote {current} after {previous}")
        self.last_vote[key] = max(previous, current)

    def on_vote_rule(
        self, time_ms: int, node: int, key: bytes, epoch: int, proposal: Proposal
    ) -> None:
        """Called for every vote an honest validator signs, with the proposal it voted for."""
        if key in self.byzantine_keys:
            return
        problem = voting_rule_problem(epoch, proposal)
        if problem is not None:
            self.fail("CONS-SAFETY-7", time_ms, node, f"vote in round {proposal.round}: {problem}")

    def on_evidence(self, time_ms: int, node: int, evidence: Evidence) -> None:
        validators = self.validator_sets.get(evidence.epoch)
        if evidence.public_key not in self.byzantine_keys:
            self.fail("CONS-EVIDENCE-1", time_ms, node, "evidence against an honest validator")
        elif validators is None or not verify_evidence(
            self.chain_id, validators, evidence, self.verifier
        ):
            self.fail("CONS-EVIDENCE-1", time_ms, node, "evidence does not verify")

    def check_liveness(self, time_ms: int, start_heights: dict[int, int], blocks_min: int) -> None:
        for node, start in sorted(start_heights.items()):
            height = self.tips.get(node, (0, b""))[0]
            if height < start + blocks_min:
                self.fail(
                    "CONS-LIVE-1",
                    time_ms,
                    node,
                    f"committed {height - start} blocks after stabilising, need {blocks_min}",
                )
