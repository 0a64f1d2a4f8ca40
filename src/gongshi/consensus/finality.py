"""Finality certificates and commits: remembering verified COMMIT certificates (from
justifies or from sync), and committing the chain, in height order, up to the highest block
with one once every block on the way is validated. Committing an epoch's last block hands
over to `_start_epoch`."""

from __future__ import annotations

from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus import actions as act
from gongshi.consensus.engine_state import EngineState
from gongshi.consensus.messages import SyncedBlock
from gongshi.consensus.quorum import verify_qc
from gongshi.consensus.tree import BlockNode, Status
from gongshi.consensus.types import Justify, Phase, ValidatorSet


class Finality(EngineState):
    """Tracking finality certificates; emitting `Commit`s."""

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
