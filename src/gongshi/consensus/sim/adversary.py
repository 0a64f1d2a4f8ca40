"""Byzantine behaviours: messages a faulty validator sends in place of (or besides) its
engine's honest ones. Each is validly signed with the faulty validator's own key, so only
the protocol's rules, not signature checks, stand between it and the honest engines.

What each behaviour does, the honest engines' defence against it and the checkers that see a
breach: SPEC.md, "Byzantine behaviours in the simulator". The cluster decides when each forger
runs (and, for `fork`, eclipses the leader before it: `Cluster._eclipse_before_fork`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from gongshi.consensus.engine import Engine
from gongshi.consensus.messages import CommitSignature, Message, Proposal, Timeout, Vote
from gongshi.consensus.signing import (
    Signer,
    nil_block,
    proposal_bytes,
    timeout_bytes,
    vote_bytes,
)
from gongshi.consensus.sim.app import ReconfigPlan, build_block
from gongshi.consensus.tree import BlockNode, Status
from gongshi.consensus.types import Block, Justify, Phase

FAR_FUTURE_ROUNDS = 1_000_000
# Builder ids of forged blocks, so they never collide with an honest build of the same slot.
EQUIVOCATION_BUILDER = -1
FORK_BUILDER = -1_000
WRONG_PARENT_BUILDER = -2_000
HASH_SIZE = 32
# Share of fork proposals built on the newest QC older than the engine's (see fork_proposal).
FORK_NEWEST_SHARE = 0.75


def corrupt(message: Message) -> Message:
    """The same message with a broken signature (first byte flipped)."""
    if isinstance(message, Proposal | Vote | Timeout):
        signature = bytes([message.signature[0] ^ 0xFF]) + message.signature[1:]
        return replace(message, signature=signature)
    return message


def _signed_proposal(
    signer: Signer, chain_id: bytes, proposal: Proposal, block: Block, justify: Justify
) -> Proposal:
    """`proposal` with another block and justify, validly signed by `signer`."""
    signature = signer.sign(
        proposal_bytes(
            chain_id,
            proposal.epoch,
            proposal.round,
            block.height,
            block.parent_hash,
            block.block_hash,
        )
    )
    return replace(proposal, block=block, justify=justify, signature=signature)


def equivocating_twin(
    node_id: int, signer: Signer, proposal: Proposal, chain_id: bytes, plan: ReconfigPlan | None
) -> Proposal | None:
    """A second, conflicting proposal for the same round, validly signed by the leader."""
    block = proposal.block
    if block.nil:
        return None
    builder = EQUIVOCATION_BUILDER - node_id
    other, _ = build_block(block.height, block.parent_hash, proposal.round, builder, plan)
    return _signed_proposal(signer, chain_id, proposal, other, proposal.justify)


def future_spam(
    engine: Engine, signer: Signer, rng: random.Random, chain_id: bytes
) -> list[Message]:
    """Validly signed messages for rounds far ahead; honest engines must bound what they keep."""
    if engine.my_index is None:
        return []
    far = engine.round + FAR_FUTURE_ROUNDS + rng.randrange(1000)
    timeout = Timeout(
        epoch=engine.epoch,
        round=far,
        voter=engine.my_index,
        high_qc=engine.high_qc,
        high_tc=None,
        signature=signer.sign(timeout_bytes(chain_id, engine.epoch, far, engine.high_qc_round)),
    )
    block_hash = bytes(rng.randrange(256) for _ in range(HASH_SIZE))
    vote = Vote(
        epoch=engine.epoch,
        round=far,
        height=far,
        block_hash=block_hash,
        voter=engine.my_index,
        signature=signer.sign(vote_bytes(chain_id, engine.epoch, Phase.VOTE, far, far, block_hash)),
        commits=(),
    )
    return [timeout, vote]


def certified_round(justify: Justify, epoch: int) -> int:
    """The round `justify` certifies within `epoch` (0 for the epoch's root), as the engine
    counts it when it applies the voting rule."""
    if justify.qc.phase == Phase.GENESIS or justify.epoch < epoch:
        return 0
    return justify.qc.round


@dataclass(frozen=True, slots=True, kw_only=True)
class CertifiedBlock:
    """A block a leader could build on: its QC and what building on it takes."""

    justify: Justify
    height: int
    block_hash: bytes
    past_epoch_end: bool  # its children must be nil blocks

    @classmethod
    def of_node(cls, node: BlockNode, justify: Justify) -> CertifiedBlock:
        return cls(
            justify=justify,
            height=node.block.height,
            block_hash=node.block.block_hash,
            past_epoch_end=node.past_epoch_end,
        )


def older_certified_blocks(engine: Engine, below_round: int) -> list[CertifiedBlock]:
    """Blocks the engine holds a QC for, certified in this epoch in a round below
    `below_round`, oldest first: validated blocks of its tree (certified by a child's
    proposal) and committed blocks it keeps for sync (an attacker remembers old QCs)."""
    found: dict[bytes, tuple[int, CertifiedBlock]] = {}
    for synced in engine.committed_blocks:
        justify = synced.proposal.justify
        if synced.proposal.epoch == engine.epoch:
            block = CertifiedBlock(
                justify=justify,
                height=justify.qc.height,
                block_hash=justify.qc.block_hash,
                past_epoch_end=False,  # an epoch's last block is the next epoch's root
            )
            found[block.block_hash] = (certified_round(justify, engine.epoch), block)
    for node in engine.tree.nodes.values():
        parent = node.parent
        if node.proposal is None or parent is None or parent.status != Status.VALID:
            continue
        justify = node.proposal.justify
        if justify.qc.block_hash == parent.block.block_hash:
            block = CertifiedBlock.of_node(parent, justify)
            found[block.block_hash] = (certified_round(justify, engine.epoch), block)
    ordered = sorted(
        (item for item in found.values() if item[0] < below_round),
        key=lambda item: (item[0], item[1].block_hash),
    )
    return [block for _, block in ordered]


def block_on(
    parent: CertifiedBlock,
    proposal: Proposal,
    builder: int,
    chain_id: bytes,
    plan: ReconfigPlan | None,
) -> Block:
    """A block the honest application accepts on top of `parent` in the proposal's round
    (a nil block past the epoch's last block, as the engine requires)."""
    if parent.past_epoch_end:
        return nil_block(chain_id, proposal.epoch, proposal.round, parent.block_hash, parent.height)
    block, _ = build_block(parent.height + 1, parent.block_hash, proposal.round, builder, plan)
    return block


def fork_proposal(
    engine: Engine,
    signer: Signer,
    proposal: Proposal,
    rng: random.Random,
    plan: ReconfigPlan | None,
) -> Proposal | None:
    """Fork attempt after a timeout: the same round and TC, but a block on a QC older than
    the one the engine chose, typically older than the highest QC the TC reports (which
    the voting rule forbids: a quorum may already have finalised a block above it). None
    if the engine holds no older QC."""
    tc = proposal.timeout_certificate
    if tc is None or proposal.epoch != engine.epoch or engine.my_index is None:
        return None
    candidates = older_certified_blocks(engine, certified_round(proposal.justify, engine.epoch))
    if not candidates:
        return None
    # Mostly the newest older QC: it orphans the block most likely finalised by only a few
    # (others have not seen its finality certificate yet); sometimes a deeper fork.
    parent = candidates[-1] if rng.random() < FORK_NEWEST_SHARE else rng.choice(candidates)
    builder = FORK_BUILDER - engine.my_index
    block = block_on(parent, proposal, builder, engine.config.chain_id, plan)
    return _signed_proposal(signer, engine.config.chain_id, proposal, block, parent.justify)


def wrong_parent_proposal(
    engine: Engine,
    signer: Signer,
    proposal: Proposal,
    rng: random.Random,
    plan: ReconfigPlan | None,
) -> Proposal | None:
    """The proposal's QC kept, but its block built on another parent: another block of the
    tree (an ancestor or a sibling of the certified one), or a hash nobody knows."""
    if proposal.block.nil or proposal.epoch != engine.epoch or engine.my_index is None:
        return None
    certified = proposal.justify.qc.block_hash
    others = [
        node
        for node in engine.tree.nodes.values()
        if node.status == Status.VALID and node.block.block_hash != certified
    ]
    builder = WRONG_PARENT_BUILDER - engine.my_index
    chain_id = engine.config.chain_id
    if others and rng.random() < 0.75:
        parent = CertifiedBlock.of_node(rng.choice(others), proposal.justify)
        block = block_on(parent, proposal, builder, chain_id, plan)
    else:
        parent_hash = bytes(rng.randrange(256) for _ in range(HASH_SIZE))
        height = proposal.justify.qc.height + 1
        block, _ = build_block(height, parent_hash, proposal.round, builder, plan)
    return _signed_proposal(signer, chain_id, proposal, block, proposal.justify)


def vote_for(engine: Engine, signer: Signer, proposal: Proposal) -> Vote | None:
    """A vote for `proposal` whatever the voting rule, the lock or the last voted round say,
    with the COMMIT signatures the next leader expects (the block's commit segment as the
    engine's tree sees it), so that it counts towards a quorum."""
    if engine.my_index is None or proposal.epoch != engine.epoch:
        return None
    chain_id = engine.config.chain_id
    block = proposal.block
    segment: list[BlockNode] = []
    parent = engine.tree.get(block.parent_hash)
    if parent is not None:
        # A probe node, not inserted: the segment depends only on the parent chain.
        segment = engine.tree.commit_segment(BlockNode(block, proposal.round, proposal, parent))
    commits = tuple(
        CommitSignature(
            height=item.block.height,
            round=item.round,
            block_hash=item.block.block_hash,
            signature=signer.sign(
                vote_bytes(
                    chain_id,
                    engine.epoch,
                    Phase.COMMIT,
                    item.block.height,
                    item.round,
                    item.block.block_hash,
                )
            ),
        )
        for item in segment
    )
    signature = signer.sign(
        vote_bytes(
            chain_id, engine.epoch, Phase.VOTE, block.height, proposal.round, block.block_hash
        )
    )
    return Vote(
        epoch=engine.epoch,
        round=proposal.round,
        height=block.height,
        block_hash=block.block_hash,
        voter=engine.my_index,
        signature=signature,
        commits=commits,
    )
