"""Where an engine starts: the genesis root, and the root after each commit.

A node's store keeps the `CommittedRoot` up to date with `root_after_commit` as it applies
`Commit` actions, and hands it (with the last persisted `SafetyState`) to a restarted engine.
"""

from __future__ import annotations

from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus.actions import Commit
from gongshi.consensus.types import (
    Block,
    CommittedRoot,
    Justify,
    Phase,
    ValidatorSet,
    ValidatorSetChange,
)


def genesis_root(genesis: Block, validators: ValidatorSet) -> CommittedRoot:
    """The root of epoch 0: the genesis block, certified by configuration (no signatures)."""
    qc = QuorumCertificate(
        phase=int(Phase.GENESIS),
        height=genesis.height,
        round=0,
        block_hash=genesis.block_hash,
        signers=(),
        signatures=(),
    )
    return CommittedRoot(
        block=genesis,
        epoch=validators.epoch,
        round=0,
        validators=validators,
        justify=Justify(epoch=validators.epoch, qc=qc),
        epoch_root_hash=genesis.block_hash,
    )


def root_after_commit(
    root: CommittedRoot, commit: Commit, change: ValidatorSetChange | None
) -> CommittedRoot:
    """The root once `commit` is applied; `change` is the validator-set change the committed
    block decided (the application knows it from executing the block), if any."""
    block = commit.block
    certificate = commit.certificate
    justify = Justify(epoch=commit.epoch, qc=certificate, commits=(certificate,))
    if commit.next_validators is not None:
        return CommittedRoot(
            block=block,
            epoch=commit.next_validators.epoch,
            round=0,
            validators=commit.next_validators,
            justify=justify,
            epoch_root_hash=block.block_hash,
        )
    return CommittedRoot(
        block=block,
        epoch=commit.epoch,
        round=certificate.round,
        validators=root.validators,
        justify=justify,
        epoch_root_hash=root.epoch_root_hash,
        pending_change=root.pending_change or change,
    )
