"""The leader's side: whether a round may be proposed in (its QC or TC), asking the
application to build the block (or making a nil block past the epoch's last block), signing
and broadcasting the proposal with the leader's own vote."""

from __future__ import annotations

import logging

from gongshi.consensus import actions as act
from gongshi.consensus.engine_state import EngineState
from gongshi.consensus.events import ProposalBuilt
from gongshi.consensus.messages import Proposal
from gongshi.consensus.signing import nil_block, proposal_bytes
from gongshi.consensus.tree import BlockNode, Status
from gongshi.consensus.types import Block, TimeoutCertificate, ValidatorSetChange

logger = logging.getLogger(__name__)


class Proposing(EngineState):
    """Leading a round: build, sign and broadcast its proposal."""

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
