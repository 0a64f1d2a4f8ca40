"""The consensus engine: a pure state machine, `step(event) -> list[Action]`.

Protocol: chained two-chain HotStuff (Jolteon / DiemBFT v4 style) with rotating leaders,
timeout certificates and exponential back-off, and finality certificates carried with every
quorum certificate. The protocol, its safety and liveness arguments: docs/consensus.md;
invariants with IDs: SPEC.md beside this file.

Layout: `Engine` is composed of one mixin per part of the protocol (table and shared state in
engine_state.py). This module holds construction, `step`, which dispatches each event and
message to its part, and the binding of the safety rules of checks.py. In the parts,
`_handle_*` check one kind of input (peer input is dropped and counted, never raised on),
`_accept_*` change state after a check; `_enter_round` (rounds.py) and `_start_epoch`
(epochs.py) are the only places that change the round or the epoch.
"""

from __future__ import annotations

from collections import deque

from gongshi.consensus import actions as act
from gongshi.consensus.catchup import CatchUp
from gongshi.consensus.checks import proposal_problem, voting_rule_allows
from gongshi.consensus.config import EngineConfig
from gongshi.consensus.epochs import EpochChanges, safety_floor
from gongshi.consensus.errors import InvalidEngineConfig
from gongshi.consensus.events import (
    BlockValidated,
    Event,
    ProposalBuilt,
    Received,
    Start,
    TimerFired,
)
from gongshi.consensus.finality import Finality
from gongshi.consensus.messages import Message, Proposal, SyncRequest, SyncResponse, Timeout, Vote
from gongshi.consensus.proposals import ProposalHandling
from gongshi.consensus.proposing import Proposing
from gongshi.consensus.rounds import ViewChange
from gongshi.consensus.signing import Signer, Verifier
from gongshi.consensus.tree import BlockNode, BlockTree
from gongshi.consensus.types import CommittedRoot, SafetyState, TimeoutCertificate
from gongshi.consensus.voting import Voting

__all__ = ["Engine", "EngineConfig"]


class Engine(ViewChange, ProposalHandling, Proposing, Voting, Finality, EpochChanges, CatchUp):
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
        self.drops = {}
        self._actions = []
        self._replay = deque()
        # Committed blocks with their finality certificates, to serve lagging peers.
        self.committed_blocks = deque(maxlen=config.sync_window_max)
        self._verified = set()
        self.round = 0
        # The epoch fence (CONS-SAFETY-8): a persisted safety state of a later epoch than the
        # root means the commit of that epoch's start was lost in a crash while votes of the
        # epoch were not. Until the engine is back in that epoch it signs nothing, and there
        # it resumes from the state instead of a fresh one.
        self.fence = safety if safety is not None and safety.epoch > root.epoch else None
        # (epoch, last voted round) of the last state persisted: each persist is at least it.
        self._persisted_floor = (-1, -1) if safety is None else safety_floor(safety)
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

    # ----------------------------------------------------------------------------- rules
    # The parts apply the rules of checks.py only through these two methods, so each rule is
    # bound in one place (a test that weakens one patches this module's name for it).

    def _proposal_problem(self, proposal: Proposal) -> str | None:
        justify_round = self._justify_round(proposal.justify)
        return proposal_problem(
            self.config.chain_id, self.validators, self.verifier, proposal, justify_round
        )

    def _voting_rule_allows(
        self, round_number: int, justify_round: int, tc: TimeoutCertificate | None
    ) -> bool:
        return voting_rule_allows(round_number, justify_round, tc)
