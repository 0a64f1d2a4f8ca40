"""The consensus engine: a pure state machine, `step(event) -> list[Action]`.

Protocol: chained two-chain HotStuff (Jolteon / DiemBFT v4 style) with rotating leaders,
timeout certificates and exponential back-off, and finality certificates carried with every
quorum certificate. The protocol, its safety and liveness arguments: docs/consensus.md;
invariants with IDs: SPEC.md beside this file.

Layout of this class: `step` dispatches; `_handle_*` check one kind of input (peer input is
dropped and counted, never raised on); `_accept_*` change state after a check; `_enter_round`
and `_start_epoch` are the only places that change the round or the epoch.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus import actions as act
from gongshi.consensus.checks import commits_match, proposal_problem, voting_rule_allows
from gongshi.consensus.collectors import EquivocationDetector, TimeoutCollector, VoteCollector
from gongshi.consensus.errors import InvalidEngineConfig
from gongshi.consensus.events import (
    BlockValidated,
    Event,
    ProposalBuilt,
    Received,
    Start,
    TimerFired,
)
from gongshi.consensus.evidence import SignedStatement, StatementKind
from gongshi.consensus.messages import (
    CommitSignature,
    Message,
    Proposal,
    SyncedBlock,
    SyncRequest,
    SyncResponse,
    Timeout,
    Vote,
)
from gongshi.consensus.quorum import verify_justify, verify_qc, verify_timeout_certificate
from gongshi.consensus.signing import (
    Signer,
    Verifier,
    nil_block,
    proposal_bytes,
    timeout_bytes,
    vote_bytes,
)
from gongshi.consensus.sync import sync_batch
from gongshi.consensus.tree import BlockNode, BlockTree, Status
from gongshi.consensus.types import (
    Block,
    CommittedRoot,
    Justify,
    Phase,
    SafetyState,
    TimeoutCertificate,
    ValidatorSet,
    ValidatorSetChange,
)

logger = logging.getLogger(__name__)

VERIFIED_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    """Protocol parameters; every limit is explicit (see SPEC.md, "Bounds")."""

    chain_id: bytes
    timeout_base_ms: int = 1000
    timeout_backoff_exponent_max: int = 6
    # Votes and timeouts are accepted for rounds in [round - 1, round + round_window_max].
    round_window_max: int = 64
    tree_blocks_max: int = 1024
    pending_proposals_max: int = 64
    pending_votes_max: int = 256
    sync_batch_max: int = 32
    # Committed proposals kept to serve peers that lag behind; deeper lag needs block sync.
    sync_window_max: int = 256

    def __post_init__(self) -> None:
        limits = (
            self.timeout_base_ms,
            self.round_window_max,
            self.tree_blocks_max,
            self.pending_proposals_max,
            self.pending_votes_max,
            self.sync_batch_max,
            self.sync_window_max,
        )
        if min(limits) <= 0 or self.timeout_backoff_exponent_max < 0:
            raise InvalidEngineConfig("engine limits must be positive")


class Engine:
    """One validator's (or observer's) consensus state. Not thread-safe; the shell calls
    `step` from one place and carries out the returned actions in order."""

    def __init__(
        self,
        config: EngineConfig,
        signer: Signer,
        verifier: Verifier,
        root: CommittedRoot,
        safety: SafetyState | None = None,
    ) -> None:
        if root.validators.epoch != root.epoch:
            raise InvalidEngineConfig("root validators belong to another epoch")
        self.config = config
        self.signer = signer
        self.verifier = verifier
        self.public_key = signer.public_key()
        self.drops: dict[str, int] = {}
        self._actions: list[act.Action] = []
        self._replay: deque[tuple[bytes, Message]] = deque()
        # Committed blocks with their finality certificates, to serve lagging peers.
        self.committed_blocks: deque[SyncedBlock] = deque(maxlen=config.sync_window_max)
        self._verified: set[Justify | TimeoutCertificate] = set()
        self.round = 0
        # The epoch fence (CONS-SAFETY-8): a persisted safety state of a later epoch than the
        # root means the commit of that epoch's start was lost in a crash while votes of the
        # epoch were not. Until the engine is back in that epoch it signs nothing, and there
        # it resumes from the state instead of a fresh one.
        self.fence = safety if safety is not None and safety.epoch > root.epoch else None
        # (epoch, last voted round) of the last state persisted: each persist is at least it.
        self._persisted_floor = (-1, -1) if safety is None else _floor_of(safety)
        self._install_epoch(root.epoch, root.validators, root.epoch_root_hash)
        root_node = BlockNode(root.block, root.round, None, None)
        root_node.pending_change = root.pending_change
        self.tree = BlockTree(root_node, config.tree_blocks_max)
        self.high_qc = root.justify
        self.last_voted_round = 0
        if self.fence is not None:
            self._recover_epoch_end(self.fence)
        elif safety is not None and safety.epoch == root.epoch:
            self._resume(safety)

    # ----------------------------------------------------------------------------- state

    def _install_epoch(self, epoch: int, validators: ValidatorSet, root_hash: bytes) -> None:
        """Reset everything that belongs to one epoch (called by __init__ and _start_epoch)."""
        self.epoch = epoch
        self.validators = validators
        self.epoch_root_hash = root_hash
        # A fenced engine follows as an observer: it may not sign in this epoch.
        fenced = self.fence is not None
        self.my_index = None if fenced else validators.index_of.get(self.public_key)
        self.votes = VoteCollector(validators)
        self.timeouts = TimeoutCollector(validators)
        self.detector = EquivocationDetector(validators)
        self.high_tc: TimeoutCertificate | None = None
        self.timed_out_round = 0
        self.proposed_round = 0
        self.building_round = 0
        self.consecutive_timeouts = 0
        self.retransmissions = 0
        self.commit_certificates: dict[bytes, QuorumCertificate] = {}
        self.commit_sources: dict[bytes, Justify] = {}
        self.commit_target: QuorumCertificate | None = None
        self.pending_proposals: dict[bytes, list[tuple[bytes, Proposal]]] = {}
        self.pending_votes: dict[bytes, list[tuple[bytes, Vote]]] = {}
        self.sync_requested: set[tuple[bytes, bytes | None, int]] = set()
        self.sync_served: set[tuple[bytes, int]] = set()
        self.later_epoch_seen = False

    @property
    def committed_height(self) -> int:
        return self.tree.root.block.height

    @property
    def high_qc_round(self) -> int:
        return self._justify_round(self.high_qc)

    def safety_state(self) -> SafetyState:
        """What to persist; while fenced, the persisted state itself (nothing was signed)."""
        if self.fence is not None:
            return self.fence
        return SafetyState(
            epoch=self.epoch, last_voted_round=self.last_voted_round, high_qc=self.high_qc
        )

    def _persist_safety(self) -> None:
        """Emit the persist that must be durable before the vote or timeout that follows."""
        assert self.fence is None, "a fenced engine signs nothing"
        state = self.safety_state()
        assert _floor_of(state) >= self._persisted_floor, "the safety state went back"
        self._persisted_floor = _floor_of(state)
        self._actions.append(act.PersistSafetyState(state=state))

    def _resume(self, safety: SafetyState) -> None:
        """Take over the persisted state of the current epoch (restart, or end of a fence)."""
        assert safety.epoch == self.epoch
        self.last_voted_round = max(self.last_voted_round, safety.last_voted_round)
        if self._justify_round(safety.high_qc) > self._justify_round(self.high_qc):
            self.high_qc = safety.high_qc

    def _recover_epoch_end(self, fence: SafetyState) -> None:
        """A fence one epoch ahead whose high QC is still that epoch's root certificate
        holds the finality certificate of this epoch's last block, which may exist nowhere
        else (this node finalised it, then crashed before the commit was durable). Record it,
        so the old set is not stuck short of it while this node may not vote."""
        justify = fence.high_qc
        if fence.epoch != self.epoch + 1 or justify.epoch != self.epoch:
            return
        for certificate in (justify.qc, *justify.commits):
            verified = certificate.phase == Phase.COMMIT and verify_qc(
                self.config.chain_id, self.validators, certificate, self.verifier
            )
            if verified:
                self._record_commit(certificate, None)

    def _drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def _justify_round(self, justify: Justify) -> int:
        """The round a justify certifies in this epoch: 0 for the epoch's root."""
        if justify.qc.phase == Phase.GENESIS or justify.epoch < self.epoch:
            return 0
        return justify.qc.round

    def _key_of(self, index: int) -> bytes:
        return self.validators.public_keys[index]

    # ----------------------------------------------------------------------------- step

    def step(self, event: Event) -> list[act.Action]:
        """Apply one event; return the actions the shell must carry out, in order."""
        assert not self._actions, "step is not re-entrant"
        if isinstance(event, Received):
            self._replay.append((event.sender, event.message))
            while self._replay:
                sender, message = self._replay.popleft()
                self._dispatch(sender, message)
        elif isinstance(event, TimerFired):
            self._handle_timer(event)
        elif isinstance(event, BlockValidated):
            self._handle_validated(event)
        elif isinstance(event, ProposalBuilt):
            self._handle_built(event)
        elif isinstance(event, Start):
            # Rounds are entered only through certificates, never from `last_voted_round`
            # alone: a restarted node that jumped ahead could not bring the others along.
            self._enter_round(self.high_qc_round + 1, via_tc=False)
        actions, self._actions = self._actions, []
        return actions

    def _dispatch(self, sender: bytes, message: Message) -> None:
        if isinstance(message, Proposal):
            self._handle_proposal(sender, message)
        elif isinstance(message, Vote):
            self._handle_vote(sender, message)
        elif isinstance(message, Timeout):
            self._handle_timeout(sender, message)
        elif isinstance(message, SyncRequest):
            self._handle_sync_request(sender, message)
        elif isinstance(message, SyncResponse):
            self._handle_sync_response(sender, message)
        else:
            self._drop("unknown_message")

    # ----------------------------------------------------------------------------- rounds

    def _enter_round(self, round_number: int, *, via_tc: bool) -> None:
        """Move to `round_number` (only forward): arm its timer and propose if leading."""
        if round_number <= self.round:
            return
        self.round = round_number
        self.consecutive_timeouts = self.consecutive_timeouts + 1 if via_tc else 0
        self.retransmissions = 0
        self.sync_requested.clear()
        self.sync_served.clear()
        floor = round_number - 1
        self.votes.prune(floor)
        self.timeouts.prune(floor)
        self.detector.prune(floor - self.config.round_window_max)
        if self.my_index is not None or self.fence is not None:
            self._set_round_timer()
        self._try_propose()

    def _set_round_timer(self) -> None:
        exponent = min(
            self.consecutive_timeouts + self.retransmissions,
            self.config.timeout_backoff_exponent_max,
        )
        delay_ms = self.config.timeout_base_ms << exponent
        self._actions.append(act.SetTimer(epoch=self.epoch, round=self.round, delay_ms=delay_ms))

    def _handle_timer(self, event: TimerFired) -> None:
        if event.epoch != self.epoch or event.round != self.round:
            return
        # Sync is asked and served at most once per round per peer; a round that never ends
        # (the peers have left for the next epoch, or wait for this node there) would stop
        # it for good after one lost message: each expiry of the timer allows it once more.
        self.sync_requested.clear()
        self.sync_served.clear()
        if self.fence is not None:
            self.retransmissions += 1
            self._catch_up()  # a fenced engine may not time out: it would sign
            self._set_round_timer()
            return
        if self.my_index is None:
            return
        self.retransmissions += 1
        if self.later_epoch_seen:
            self._catch_up()
        self._local_timeout(event.round)
        if self.round == event.round:  # a certificate may have moved us on meanwhile
            self._set_round_timer()

    def _catch_up(self) -> None:
        """Behind a later epoch (fenced, or peers' messages name one), this epoch's rounds
        may never end: the others have left it, or wait in the next one for this node. Ask a
        validator, a different one at each expiry of the timer, for the committed chain: the
        peers that sent the later epoch's messages may have restarted since and hold no
        committed blocks to serve."""
        peers = [key for key in self.validators.public_keys if key != self.public_key]
        if peers:
            self._request_sync(peers[self.retransmissions % len(peers)], None)

    def _local_timeout(self, round_number: int) -> None:
        """Give up on `round_number`: never vote in it again, persist that, tell everyone."""
        assert self.my_index is not None
        self.timed_out_round = max(self.timed_out_round, round_number)
        self.last_voted_round = max(self.last_voted_round, round_number)
        self._persist_safety()
        high_qc_round = self.high_qc_round
        signature = self.signer.sign(
            timeout_bytes(self.config.chain_id, self.epoch, round_number, high_qc_round)
        )
        timeout = Timeout(
            epoch=self.epoch,
            round=round_number,
            voter=self.my_index,
            high_qc=self.high_qc,
            high_tc=self.high_tc,
            signature=signature,
        )
        self._actions.append(act.Broadcast(message=timeout))
        self._collect_timeout(timeout, high_qc_round)

    def _handle_timeout(self, sender: bytes, timeout: Timeout) -> None:
        if timeout.epoch != self.epoch:
            self._handle_other_epoch(sender, timeout.epoch, timeout.high_qc, None)
            return
        if not self._in_window(timeout.round, self.round):
            self._drop("timeout_round_window")
            return
        if not 0 <= timeout.voter < self.validators.size:
            self._drop("timeout_voter")
            return
        high_qc_round = self._justify_round(timeout.high_qc)
        message = timeout_bytes(self.config.chain_id, self.epoch, timeout.round, high_qc_round)
        if high_qc_round >= timeout.round or not self.verifier.verify(
            self._key_of(timeout.voter), message, timeout.signature
        ):
            self._drop("timeout_signature")
            return
        if not self._accept_justify(timeout.high_qc):
            self._drop("timeout_high_qc")
            return
        if timeout.high_tc is not None:
            self._accept_timeout_certificate(timeout.high_tc)
        if timeout.round >= self.round:
            self._collect_timeout(timeout, high_qc_round)

    def _collect_timeout(self, timeout: Timeout, high_qc_round: int) -> None:
        count = self.timeouts.add(timeout, high_qc_round)
        joins = (
            self.my_index is not None
            and count > self.validators.faults_max
            and timeout.round > self.timed_out_round
            and timeout.round >= self.round
        )
        if joins:
            # f+1 timeouts include an honest one: join, so a quorum forms (Bracha).
            self._enter_round(timeout.round, via_tc=True)
            self._local_timeout(timeout.round)
        certificate = self.timeouts.certificate(timeout.round)
        if certificate is not None:
            self._verified.add(certificate)
            self._accept_timeout_certificate(certificate)

    def _accept_timeout_certificate(self, tc: TimeoutCertificate) -> bool:
        if tc.epoch != self.epoch:
            return False
        if tc not in self._verified:
            if not verify_timeout_certificate(
                self.config.chain_id, self.validators, tc, self.verifier
            ):
                self._drop("timeout_certificate")
                return False
            self._remember_verified(tc)
        if self.high_tc is None or tc.round > self.high_tc.round:
            self.high_tc = tc
        self._enter_round(tc.round + 1, via_tc=True)
        return True

    def _in_window(self, round_number: int, current: int) -> bool:
        return current - 1 <= round_number <= current + self.config.round_window_max

    def _remember_verified(self, item: Justify | TimeoutCertificate) -> None:
        if len(self._verified) >= VERIFIED_CACHE_MAX:
            self._verified.clear()
        self._verified.add(item)

    # ----------------------------------------------------------------------------- proposals

    def _handle_proposal(self, sender: bytes, proposal: Proposal) -> None:
        if proposal.epoch != self.epoch:
            self._handle_other_epoch(
                sender, proposal.epoch, proposal.justify, proposal.block.parent_hash
            )
            if proposal.epoch != self.epoch:
                return
        problem = proposal_problem(
            self.config.chain_id,
            self.validators,
            self.verifier,
            proposal,
            self._justify_round(proposal.justify),
        )
        if problem is not None:
            self._drop(problem)
            return
        block = proposal.block
        statement = SignedStatement(
            height=block.height,
            parent_hash=block.parent_hash,
            block_hash=block.block_hash,
            signature=proposal.signature,
        )
        self._observe(StatementKind.PROPOSAL, proposal.round, proposal.proposer, statement)
        if not self._accept_justify(proposal.justify):
            self._drop("proposal_justify")
            return
        tc = proposal.timeout_certificate
        if tc is not None and not self._accept_timeout_certificate(tc):
            return
        if proposal.epoch == self.epoch:  # the justify may have finished our epoch
            self._insert(sender, proposal)

    def _observe(
        self, kind: StatementKind, round_number: int, validator: int, statement: SignedStatement
    ) -> None:
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

    def _insert(self, sender: bytes, proposal: Proposal) -> None:
        block = proposal.block
        existing = self.tree.get(block.block_hash)
        if existing is not None:
            if existing.round != proposal.round:
                self._drop("proposal_duplicate_hash")
            return
        if proposal.justify.qc.height < self.committed_height:
            self._drop("proposal_stale")
            return
        node = self.tree.insert(block, proposal.round, proposal)
        if node is None:
            if self.tree.get(block.parent_hash) is not None:
                self._drop("tree_full")
            else:
                self._buffer_proposal(sender, proposal)
            return
        assert node.parent is not None
        if node.parent.status == Status.VALID:
            self._request_validation(node)
        for waiting in self.pending_proposals.pop(block.block_hash, []):
            self._replay.append(waiting)
        for waiting_vote in self.pending_votes.pop(block.block_hash, []):
            self._replay.append(waiting_vote)

    def _buffer_proposal(self, sender: bytes, proposal: Proposal) -> None:
        buffered = sum(len(items) for items in self.pending_proposals.values())
        if buffered >= self.config.pending_proposals_max:
            self._drop("pending_proposals_full")
        else:
            self.pending_proposals.setdefault(proposal.block.parent_hash, []).append(
                (sender, proposal)
            )
        self._request_sync(sender, proposal.block.parent_hash)

    # ----------------------------------------------------------------------------- validation

    def _request_validation(self, node: BlockNode) -> None:
        parent = node.parent
        assert parent is not None and parent.status == Status.VALID
        if node.block.nil != parent.past_epoch_end:
            # Nil blocks exactly after the epoch's last block, real blocks before it.
            node.status = Status.INVALID
            self._drop("block_epoch_end")
        elif node.block.nil:
            node.status = Status.VALID
            node.pending_change = parent.pending_change
            self._on_valid(node)
        else:
            node.status = Status.REQUESTED
            self._actions.append(act.ValidateBlock(block=node.block))

    def _handle_validated(self, event: BlockValidated) -> None:
        node = self.tree.get(event.block_hash)
        if node is None or node.status != Status.REQUESTED:
            return
        if not event.valid:
            node.status = Status.INVALID
            self._drop("block_invalid")
            return
        self._mark_valid(node, event.change)
        self._on_valid(node)

    def _mark_valid(self, node: BlockNode, change: ValidatorSetChange | None) -> None:
        parent = node.parent
        assert parent is not None
        node.status = Status.VALID
        node.change = self._usable_change(node, change)
        node.pending_change = parent.pending_change or node.change

    def _usable_change(
        self, node: BlockNode, change: ValidatorSetChange | None
    ) -> ValidatorSetChange | None:
        """The application's change if consensus can honour it: one per epoch, in the future."""
        if change is None:
            return None
        assert node.parent is not None
        usable = (
            node.parent.pending_change is None
            and change.activation_height > node.block.height
            and len(change.public_keys) > 0
            and len(set(change.public_keys)) == len(change.public_keys)
        )
        if not usable:
            logger.warning("ignoring validator-set change at height=%d", node.block.height)
            return None
        return change

    def _on_valid(self, node: BlockNode) -> None:
        for child in list(node.children):
            if child.status == Status.PENDING:
                self._request_validation(child)
        vote = self._vote_if_safe(node)
        if vote is not None:
            self._deliver_vote(vote)
        self._try_commit()
        self._try_propose()

    # ----------------------------------------------------------------------------- voting

    def _vote_if_safe(self, node: BlockNode) -> Vote | None:
        """Sign a vote for `node` if the voting rule allows; persist before returning it."""
        proposal = node.proposal
        if self.my_index is None or proposal is None or node.status != Status.VALID:
            return None
        if node.round != self.round or node.round <= self.last_voted_round:
            return None
        justify_round = self._justify_round(proposal.justify)
        if not voting_rule_allows(node.round, justify_round, proposal.timeout_certificate):
            return None
        chain_id = self.config.chain_id
        commits = tuple(
            CommitSignature(
                height=item.block.height,
                round=item.round,
                block_hash=item.block.block_hash,
                signature=self.signer.sign(
                    vote_bytes(
                        chain_id,
                        self.epoch,
                        Phase.COMMIT,
                        item.block.height,
                        item.round,
                        item.block.block_hash,
                    )
                ),
            )
            for item in self.tree.commit_segment(node)
        )
        self.last_voted_round = node.round
        self._persist_safety()
        block = node.block
        signature = self.signer.sign(
            vote_bytes(chain_id, self.epoch, Phase.VOTE, block.height, node.round, block.block_hash)
        )
        return Vote(
            epoch=self.epoch,
            round=node.round,
            height=block.height,
            block_hash=block.block_hash,
            voter=self.my_index,
            signature=signature,
            commits=commits,
        )

    def _deliver_vote(self, vote: Vote) -> None:
        leader = self.validators.leader(vote.round + 1)
        if leader == self.my_index:
            self._accept_vote(vote)
        else:
            self._actions.append(act.Send(to=self._key_of(leader), message=vote))

    def _handle_vote(self, sender: bytes, vote: Vote) -> None:
        problem = self._vote_problem(vote)
        if problem is not None:
            self._drop(problem)
            return
        statement = SignedStatement(
            height=vote.height,
            parent_hash=b"",
            block_hash=vote.block_hash,
            signature=vote.signature,
        )
        self._observe(StatementKind.VOTE, vote.round, vote.voter, statement)
        node = self.tree.get(vote.block_hash)
        if node is None:
            buffered = sum(len(items) for items in self.pending_votes.values())
            if buffered < self.config.pending_votes_max:
                self.pending_votes.setdefault(vote.block_hash, []).append((sender, vote))
            self._request_sync(sender, vote.block_hash)
            return
        if node.round != vote.round or node.block.height != vote.height:
            self._drop("vote_block_mismatch")
            return
        segment = self.tree.commit_segment(node)
        if not commits_match(self.config.chain_id, self.validators, self.verifier, vote, segment):
            self._drop("vote_commits")
            self._align_roots(sender, vote, segment)
            return
        self._accept_vote(vote)

    def _align_roots(self, sender: bytes, vote: Vote, segment: list[BlockNode]) -> None:
        """Commit lists that differ only in their oldest entries come from nodes with
        different committed roots (each segment stops at its node's root). Two such groups
        of voters can split every quorum for good, so bring the one behind up to date: serve
        a voter behind this node the finality certificates it lacks, or ask a voter ahead
        for ours. Not for a vote whose block is certified already (a late vote)."""
        if (vote.round, vote.block_hash) in self.votes.formed:
            return
        ours = [(node.block.height, node.round, node.block.block_hash) for node in segment]
        theirs = [(item.height, item.round, item.block_hash) for item in vote.commits]
        common = min(len(ours), len(theirs))
        if ours[:common] != theirs[:common]:
            return
        if len(theirs) > common:
            self._serve(sender, theirs[-1][0] - 1)
        elif len(ours) > common:
            self._request_sync(sender, None)

    def _vote_problem(self, vote: Vote) -> str | None:
        if vote.epoch != self.epoch:
            return "vote_epoch"
        if not self._in_window(vote.round + 1, self.round):
            return "vote_round_window"
        if self.validators.leader(vote.round + 1) != self.my_index:
            return "vote_not_leader"
        if not 0 <= vote.voter < self.validators.size:
            return "vote_voter"
        message = vote_bytes(
            self.config.chain_id, self.epoch, Phase.VOTE, vote.height, vote.round, vote.block_hash
        )
        if not self.verifier.verify(self._key_of(vote.voter), message, vote.signature):
            return "vote_signature"
        return None

    def _accept_vote(self, vote: Vote) -> None:
        justify = self.votes.add(vote)
        if justify is not None:
            self._remember_verified(justify)
            self._accept_justify(justify)

    # ----------------------------------------------------------------------------- proposing

    def _proposal_justification(self) -> tuple[bool, TimeoutCertificate | None]:
        """Whether this round may be proposed in, and the timeout certificate it needs."""
        if self.high_qc_round + 1 == self.round:
            return True, None
        tc = self.high_tc
        if tc is None or tc.round + 1 != self.round or self.high_qc_round < tc.high_qc_round_max:
            return False, None
        return True, tc

    def _try_propose(self) -> None:
        if self.my_index is None or self.validators.leader(self.round) != self.my_index:
            return
        if self.round <= max(self.proposed_round, self.last_voted_round):
            return
        if self.building_round == self.round:
            return
        justified, tc = self._proposal_justification()
        if not justified:
            return
        parent = self.tree.get(self.high_qc.qc.block_hash)
        if parent is None:
            signers = [s for s in self.high_qc.qc.signers if s != self.my_index]
            if signers:
                self._request_sync(self._key_of(signers[0]), self.high_qc.qc.block_hash)
            return
        if parent.status != Status.VALID:
            return
        if parent.past_epoch_end:
            block = nil_block(
                self.config.chain_id,
                self.epoch,
                self.round,
                parent.block.block_hash,
                parent.block.height,
            )
            self._finish_proposal(parent, block, None, tc)
            return
        self.building_round = self.round
        self._actions.append(
            act.BuildProposal(
                epoch=self.epoch,
                round=self.round,
                height=parent.block.height + 1,
                parent_hash=parent.block.block_hash,
                proposer=self.my_index,
            )
        )

    def _handle_built(self, event: ProposalBuilt) -> None:
        if (event.epoch, event.round) != (self.epoch, self.round):
            return
        if self.building_round != self.round:
            return
        self.building_round = 0
        block = event.block
        justified, tc = self._proposal_justification()
        parent = self.tree.get(self.high_qc.qc.block_hash)
        if block is None or not justified or parent is None:
            return
        fits = (
            not block.nil
            and block.parent_hash == parent.block.block_hash
            and block.height == parent.block.height + 1
            and len(block.block_hash) == 32
            and self.tree.get(block.block_hash) is None
        )
        if not fits:
            logger.warning("application built a block that does not fit round=%d", self.round)
            self._drop("built_block_mismatch")
            return
        self._finish_proposal(parent, block, event.change, tc)

    def _finish_proposal(
        self,
        parent: BlockNode,
        block: Block,
        change: ValidatorSetChange | None,
        tc: TimeoutCertificate | None,
    ) -> None:
        assert self.my_index is not None
        if self.tree.get(block.block_hash) is not None:
            # A nil block is the same for every leader of its round: already in the tree, it
            # was proposed by another engine holding this key (Twins), never by this one.
            self._drop("proposal_duplicate_hash")
            return
        signature = self.signer.sign(
            proposal_bytes(
                self.config.chain_id,
                self.epoch,
                self.round,
                block.height,
                block.parent_hash,
                block.block_hash,
            )
        )
        proposal = Proposal(
            epoch=self.epoch,
            round=self.round,
            proposer=self.my_index,
            block=block,
            justify=self.high_qc,
            timeout_certificate=tc,
            signature=signature,
        )
        node = self.tree.insert(block, self.round, proposal)
        if node is None:
            self._drop("tree_full")
            return
        self.proposed_round = self.round
        if block.nil:
            node.status = Status.VALID
            node.pending_change = parent.pending_change
        else:
            self._mark_valid(node, change)  # the proposer executed it while building
        vote = self._vote_if_safe(node)  # persists the vote before the proposal goes out
        self._actions.append(act.Broadcast(message=proposal))
        if vote is not None:
            self._deliver_vote(vote)

    # ----------------------------------------------------------------------------- certificates

    def _accept_justify(self, justify: Justify) -> bool:
        """Check a certified block; if new, record its finality certificates, raise the high
        certificate, advance the round and commit what became final."""
        if justify.qc.phase == Phase.GENESIS or justify.epoch != self.epoch:
            return self._is_epoch_root_justify(justify)
        if justify not in self._verified:
            if not verify_justify(self.config.chain_id, self.validators, justify, self.verifier):
                return False
            self._remember_verified(justify)
        for commit in justify.commits:
            self._record_commit(commit, justify)
        certified_round = justify.qc.round
        if certified_round > self.high_qc_round:
            self.high_qc = justify
        self._enter_round(certified_round + 1, via_tc=False)
        self._try_commit()
        return True

    def _record_commit(self, commit: QuorumCertificate, source: Justify | None) -> None:
        """Remember a verified finality certificate; aim commits at the highest one."""
        if commit.height <= self.committed_height:
            return
        if commit.block_hash not in self.commit_certificates:
            self.commit_certificates[commit.block_hash] = commit
            if source is not None:
                self.commit_sources[commit.block_hash] = source
        target = self.commit_target
        if target is None or commit.height > target.height:
            self.commit_target = commit

    def _is_epoch_root_justify(self, justify: Justify) -> bool:
        """The certificate of this epoch's root: the genesis one, or the previous epoch's
        finality certificate of the root (already checked when the root was committed)."""
        if justify.qc.block_hash != self.epoch_root_hash:
            return False
        if justify.qc.phase == Phase.GENESIS:
            return self.epoch == 0 and justify.epoch == 0 and not justify.qc.signers
        return justify.qc.phase == Phase.COMMIT and justify.epoch == self.epoch - 1

    # ----------------------------------------------------------------------------- commits

    def _try_commit(self) -> None:
        """Commit the chain up to the highest block with a finality certificate, once every
        block on the way is validated."""
        target = self.commit_target
        if target is None:
            return
        if target.height <= self.committed_height:
            self.commit_target = None
            return
        node = self.tree.get(target.block_hash) or self._highest_certified_in_tree()
        if node is None:
            return
        path = self.tree.path_from_root(node)
        if not path or any(item.status != Status.VALID for item in path):
            return
        committed: BlockNode | None = None
        next_validators: ValidatorSet | None = None
        for item in path:
            certificate = self.commit_certificates.get(item.block.block_hash)
            if certificate is None or item.block.nil:
                # Its certificate travels with a sibling proposal not received yet, or with
                # a justify this node missed; commit nothing past the gap, ask for it.
                self._drop("commit_certificate_missing")
                self._request_missing_certificates()
                break
            change = item.pending_change
            if change is not None and item.block.height == change.activation_height - 1:
                next_validators = ValidatorSet(epoch=self.epoch + 1, public_keys=change.public_keys)
            self._actions.append(
                act.Commit(
                    block=item.block,
                    certificate=certificate,
                    epoch=self.epoch,
                    next_validators=next_validators,
                )
            )
            if item.proposal is not None:
                self.committed_blocks.append(
                    SyncedBlock(proposal=item.proposal, certificate=certificate)
                )
            committed = item
            if next_validators is not None:
                break
        if committed is None:
            return
        for dropped in self.tree.reroot(committed):
            self.commit_certificates.pop(dropped.block.block_hash, None)
            self.commit_sources.pop(dropped.block.block_hash, None)
        if next_validators is not None:
            self._start_epoch(committed, next_validators)

    def _highest_certified_in_tree(self) -> BlockNode | None:
        """The highest block of the tree with a finality certificate: what can be committed
        while the block of the highest certificate is still on its way (a lagging node
        must not wait for that one before committing the blocks it already holds)."""
        held = (self.tree.get(block_hash) for block_hash in self.commit_certificates)
        return max(
            (node for node in held if node is not None),
            key=lambda node: node.block.height,
            default=None,
        )

    def _request_missing_certificates(self) -> None:
        """Ask a validator for the committed blocks with their finality certificates. Once
        per round (`_request_sync`), a different validator each round: the one that holds the
        missing certificate (it committed that block) need not have signed anything since,
        and a silent one must not keep this node from ever committing again."""
        peers = [key for key in self.validators.public_keys if key != self.public_key]
        if peers:
            self._request_sync(peers[self.round % len(peers)], None)

    def _start_epoch(self, root: BlockNode, validators: ValidatorSet) -> None:
        """The committed `root` ended the epoch: continue from it with the new validators."""
        root_hash = root.block.block_hash
        certificate = self.commit_certificates[root_hash]
        source = self.commit_sources.get(root_hash)
        genesis = Justify(
            epoch=self.epoch,
            qc=certificate,
            commits=source.commits if source is not None else (certificate,),
        )
        logger.info("epoch=%d starts at height=%d", validators.epoch, root.block.height)
        fence = self.fence
        if fence is not None and fence.epoch == validators.epoch:
            self.fence = None  # back in the epoch of the persisted state: lift the fence
        self._install_epoch(validators.epoch, validators, root_hash)
        new_root = BlockNode(root.block, 0, root.proposal, None)
        self.tree = BlockTree(new_root, self.config.tree_blocks_max)
        self.high_qc = genesis
        self.last_voted_round = 0
        if fence is not None and self.fence is None:
            self._resume(fence)  # never a fresh state in an epoch this node has voted in
        elif self.fence is not None:
            self._recover_epoch_end(self.fence)
        self.round = 0
        self._enter_round(self.high_qc_round + 1, via_tc=False)

    # ----------------------------------------------------------------------------- sync

    def _handle_other_epoch(
        self, sender: bytes, epoch: int, justify: Justify, wanted: bytes | None
    ) -> None:
        if epoch < self.epoch:
            self._drop("stale_epoch")
            self._serve_stale_peer(sender, justify)
            return
        if epoch == self.epoch + 1 and justify.epoch == self.epoch:
            self._accept_justify(justify)  # may finish our epoch
        if epoch > self.epoch:
            self._drop("future_epoch")
            self.later_epoch_seen = True
            self._request_sync(sender, wanted)

    def _serve_stale_peer(self, peer: bytes, justify: Justify) -> None:
        """A peer still in an earlier epoch may lack the finality certificate of that epoch's
        last block, which this node committed; without this node (gone to the next epoch,
        perhaps not even a validator there) the old set may no longer finalise it. Send the
        committed blocks above its high QC's parent."""
        self._serve(peer, max(justify.qc.height - 1, 0))

    def _serve(self, peer: bytes, committed_height: int) -> None:
        """Send `peer` what a sync request from `committed_height` would get, unasked; at
        most once per round per peer and height."""
        key = (peer, committed_height)
        if key in self.sync_served:
            return
        self.sync_served.add(key)
        request = SyncRequest(epoch=self.epoch, committed_height=committed_height, block_hash=None)
        self._handle_sync_request(peer, request)

    def _request_sync(self, peer: bytes, wanted: bytes | None) -> None:
        """Ask `peer` for the chain up to `wanted`, at most once per round per request."""
        key = (peer, wanted, self.committed_height)
        if peer == self.public_key or key in self.sync_requested:
            return
        self.sync_requested.add(key)
        request = SyncRequest(
            epoch=self.epoch, committed_height=self.committed_height, block_hash=wanted
        )
        self._actions.append(act.Send(to=peer, message=request))

    def _handle_sync_request(self, sender: bytes, request: SyncRequest) -> None:
        batch = sync_batch(
            self.committed_blocks,
            self.tree,
            request,
            self.high_qc.qc.block_hash,
            self.config.sync_batch_max,
        )
        if batch:
            self._actions.append(act.Send(to=sender, message=SyncResponse(blocks=batch)))

    def _handle_sync_response(self, sender: bytes, response: SyncResponse) -> None:
        blocks = response.blocks[: self.config.sync_batch_max]
        for synced in blocks:
            if synced.certificate is not None:
                self._accept_commit_certificate(synced.certificate)
            self._handle_proposal(sender, synced.proposal)
        if len(blocks) == self.config.sync_batch_max:
            self._request_sync(sender, None)

    def _accept_commit_certificate(self, certificate: QuorumCertificate) -> None:
        """A finality certificate on its own (from sync): record it if it verifies."""
        if certificate.height <= self.committed_height:
            return
        if certificate.block_hash in self.commit_certificates:
            return
        if certificate.phase != Phase.COMMIT or not verify_qc(
            self.config.chain_id, self.validators, certificate, self.verifier
        ):
            return  # another epoch's, or forged
        self._record_commit(certificate, None)
        self._try_commit()


def _floor_of(state: SafetyState) -> tuple[int, int]:
    return state.epoch, state.last_voted_round
