"""Quorum certificate: 2f+1 validator signatures over one consensus vote.

The consensus package defines what a vote signs (`phase`, `height`, `round`, `block_hash`,
the chain id) and verifies a certificate against a validator set; this module only holds the
data. `signers` are indices into the validator set in force at `height`, strictly ascending,
and `signatures[i]` is the signature of validator `signers[i]`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class QuorumCertificate:
    phase: int
    height: int
    round: int
    block_hash: bytes
    signers: tuple[int, ...]
    signatures: tuple[bytes, ...]
