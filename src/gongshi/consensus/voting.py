"""Votes and quorum certificates: signing a vote under the voting rule (persisted first),
sending it to the next leader; as leader, checking peers' votes (with their commit signatures)
and aggregating them into a QC; accepting a certified block (`_accept_justify`), which raises
the high QC, records its finality certificates and moves the round on."""

from __future__ import annotations

from gongshi.consensus import actions as act
from gongshi.consensus.checks import commits_match
from gongshi.consensus.engine_state import EngineState
from gongshi.consensus.evidence import SignedStatement, StatementKind
from gongshi.consensus.messages import CommitSignature, Vote
from gongshi.consensus.quorum import verify_justify
from gongshi.consensus.signing import vote_bytes
from gongshi.consensus.tree import BlockNode, Status
from gongshi.consensus.types import Justify, Phase


class Voting(EngineState):
    """Voting, and turning votes into certificates."""

    def _vote_if_safe(self, node: BlockNode) -> Vote | None:
        """Sign a vote for `node` if the voting rule allows; persist before returning it."""
        proposal = node.proposal
        if self.my_index is None or proposal is None or node.status != Status.VALID:
            return None
        if node.round != self.round or node.round <= self.last_voted_round:
            return None
        justify_round = self._justify_round(proposal.justify)
        if not self._voting_rule_allows(node.round, justify_round, proposal.timeout_certificate):
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

    def _is_epoch_root_justify(self, justify: Justify) -> bool:
        """The certificate of this epoch's root: the genesis one, or the previous epoch's
        finality certificate of the root (already checked when the root was committed)."""
        if justify.qc.block_hash != self.epoch_root_hash:
            return False
        if justify.qc.phase == Phase.GENESIS:
            return self.epoch == 0 and justify.epoch == 0 and not justify.qc.signers
        return justify.qc.phase == Phase.COMMIT and justify.epoch == self.epoch - 1
