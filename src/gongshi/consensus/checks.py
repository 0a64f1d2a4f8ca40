"""Pure checks of peer input and the voting rule; the engine drops what fails them."""

from __future__ import annotations

from gongshi.consensus.messages import Proposal, Vote
from gongshi.consensus.signing import Verifier, nil_block, proposal_bytes, vote_bytes
from gongshi.consensus.tree import BlockNode
from gongshi.consensus.types import Phase, TimeoutCertificate, ValidatorSet

HASH_SIZE = 32


def voting_rule_allows(
    round_number: int, justify_round: int, tc: TimeoutCertificate | None
) -> bool:
    """Jolteon's rule: a proposal extends the previous round's certificate, or follows a
    timeout certificate and extends a block certified at least as high as any of the
    certificates the timed-out validators reported (one of them holds the lock that matters)."""
    if round_number == justify_round + 1:
        return True
    return tc is not None and tc.round + 1 == round_number and justify_round >= tc.high_qc_round_max


def proposal_problem(
    chain_id: bytes,
    validators: ValidatorSet,
    verifier: Verifier,
    proposal: Proposal,
    justify_round: int,
) -> str | None:
    """Why `proposal` is malformed, unjustified or not signed by its round's leader; None if
    it is fine. `justify_round` is the round its justify certifies in this epoch."""
    block = proposal.block
    justify = proposal.justify
    if proposal.proposer != validators.leader(proposal.round):
        return "proposal_not_leader"
    if justify.qc.block_hash != block.parent_hash or len(block.block_hash) != HASH_SIZE:
        return "proposal_parent"
    if block.nil:
        expected = nil_block(
            chain_id, validators.epoch, proposal.round, block.parent_hash, justify.qc.height
        )
        if block != expected:
            return "proposal_nil_block"
    elif block.height != justify.qc.height + 1:
        return "proposal_height"
    if proposal.round <= justify_round:
        return "proposal_round"
    if not voting_rule_allows(proposal.round, justify_round, proposal.timeout_certificate):
        return "proposal_unjustified_round"
    message = proposal_bytes(
        chain_id,
        validators.epoch,
        proposal.round,
        block.height,
        block.parent_hash,
        block.block_hash,
    )
    if not verifier.verify(validators.public_keys[proposal.proposer], message, proposal.signature):
        return "proposal_signature"
    return None


def commits_match(
    chain_id: bytes,
    validators: ValidatorSet,
    verifier: Verifier,
    vote: Vote,
    segment: list[BlockNode],
) -> bool:
    """The vote carries a valid COMMIT signature for exactly the blocks of `segment`."""
    if len(vote.commits) != len(segment):
        return False
    key = validators.public_keys[vote.voter]
    for item, node in zip(vote.commits, segment, strict=True):
        expected = (node.block.height, node.round, node.block.block_hash)
        if (item.height, item.round, item.block_hash) != expected:
            return False
        message = vote_bytes(
            chain_id, validators.epoch, Phase.COMMIT, item.height, item.round, item.block_hash
        )
        if not verifier.verify(key, message, item.signature):
            return False
    return True
