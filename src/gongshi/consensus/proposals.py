"""Proposals received: checked (`Engine._proposal_problem`), recorded for equivocation
evidence, inserted in the block tree (or buffered until their parent arrives), then handed to
the application for validation; a validated block may be voted for, committed and built on."""

from __future__ import annotations

import logging

from gongshi.consensus import actions as act
from gongshi.consensus.engine_state import EngineState
from gongshi.consensus.events import BlockValidated
from gongshi.consensus.evidence import SignedStatement, StatementKind
from gongshi.consensus.messages import Proposal
from gongshi.consensus.tree import BlockNode, Status
from gongshi.consensus.types import ValidatorSetChange

logger = logging.getLogger(__name__)


class ProposalHandling(EngineState):
    """A replica's side of proposals: from a peer's message to a validated block."""

    def _handle_proposal(self, sender: bytes, proposal: Proposal) -> None:
        if proposal.epoch != self.epoch:
            self._handle_other_epoch(
                sender, proposal.epoch, proposal.justify, proposal.block.parent_hash
            )
            if proposal.epoch != self.epoch:
                return
        problem = self._proposal_problem(proposal)
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
