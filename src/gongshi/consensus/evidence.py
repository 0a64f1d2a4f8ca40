"""Equivocation evidence: two conflicting statements signed by one validator.

Conflicting means same epoch, same round, same kind (two proposals or two votes) and
different blocks. An honest validator never signs both, so the pair proves misbehaviour to
anyone who knows the validator set, without trusting whoever reports it: later issues put
`Evidence` on chain and slash or eject the validator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from gongshi.consensus.signing import Verifier, proposal_bytes, vote_bytes
from gongshi.consensus.types import Phase, ValidatorSet


class StatementKind(IntEnum):
    PROPOSAL = 1
    VOTE = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedStatement:
    """The signed part of one proposal or vote (the proposal's parent hash is part of it)."""

    height: int
    parent_hash: bytes
    block_hash: bytes
    signature: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    kind: StatementKind
    epoch: int
    round: int
    validator: int
    public_key: bytes
    first: SignedStatement
    second: SignedStatement


def statement_bytes(
    chain_id: bytes, kind: StatementKind, epoch: int, round_number: int, item: SignedStatement
) -> bytes:
    if kind == StatementKind.PROPOSAL:
        return proposal_bytes(
            chain_id, epoch, round_number, item.height, item.parent_hash, item.block_hash
        )
    return vote_bytes(chain_id, epoch, Phase.VOTE, item.height, round_number, item.block_hash)


def verify_evidence(
    chain_id: bytes, validators: ValidatorSet, evidence: Evidence, verifier: Verifier
) -> bool:
    """True if `evidence` proves that validator `evidence.validator` of `validators` signed
    two different blocks for the same round."""
    if evidence.epoch != validators.epoch:
        return False
    if not 0 <= evidence.validator < validators.size:
        return False
    public_key = validators.public_keys[evidence.validator]
    if public_key != evidence.public_key:
        return False
    if evidence.first.block_hash == evidence.second.block_hash:
        return False
    return all(
        verifier.verify(
            public_key,
            statement_bytes(chain_id, evidence.kind, evidence.epoch, evidence.round, item),
            item.signature,
        )
        for item in (evidence.first, evidence.second)
    )
