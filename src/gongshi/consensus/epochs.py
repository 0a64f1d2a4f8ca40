"""Epochs, the safety state and the epoch fence (CONS-SAFETY-8): installing an epoch's
validator set and per-epoch state, starting the next epoch from the committed last block,
persisting the safety state (never backwards), and resuming from it or staying fenced after a
restart. `_start_epoch` is the only place that changes the epoch after construction."""

from __future__ import annotations

import logging

from gongshi.consensus import actions as act
from gongshi.consensus.collectors import EquivocationDetector, TimeoutCollector, VoteCollector
from gongshi.consensus.engine_state import EngineState
from gongshi.consensus.quorum import verify_qc
from gongshi.consensus.tree import BlockNode, BlockTree
from gongshi.consensus.types import Justify, Phase, SafetyState, ValidatorSet

logger = logging.getLogger(__name__)


class EpochChanges(EngineState):
    """Epoch changes and the safety state that must survive them."""

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
        self.high_tc = None
        self.timed_out_round = 0
        self.proposed_round = 0
        self.building_round = 0
        self.consecutive_timeouts = 0
        self.retransmissions = 0
        self.commit_certificates = {}
        self.commit_sources = {}
        self.commit_target = None
        self.pending_proposals = {}
        self.pending_votes = {}
        self.sync_requested = set()
        self.sync_served = set()
        self.later_epoch_seen = False

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
        assert safety_floor(state) >= self._persisted_floor, "the safety state went back"
        self._persisted_floor = safety_floor(state)
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


def safety_floor(state: SafetyState) -> tuple[int, int]:
    """What must never go back in the persisted safety state: (epoch, last voted round)."""
    return state.epoch, state.last_voted_round
