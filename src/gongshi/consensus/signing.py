"""What consensus signs, and the injectable signer and verifier.

Signed bytes are canonical CBOR arrays that start with a domain string and the chain id, so a
signature can never be replayed on another chain or as another kind of statement, and carry
the epoch, so a round number of one validator set is never confused with another's.
Unsigned fields (the signer's index, the block payload) are left out, as in CometBFT's
canonical types.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from gongshi.codec.cbor import encode_value
from gongshi.consensus.types import Block, Phase
from gongshi.crypto.suite import PrivateKey, Suite

DOMAIN_PROPOSAL = "gongshi/consensus/proposal/v1"
DOMAIN_VOTE = "gongshi/consensus/vote/v1"
DOMAIN_COMMIT = "gongshi/consensus/commit/v1"
DOMAIN_TIMEOUT = "gongshi/consensus/timeout/v1"
DOMAIN_NIL = "gongshi/consensus/nil-block/v1"


class Signer(Protocol):
    """A validator's signing key: the engine signs proposals, votes and timeouts with it."""

    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


class Verifier(Protocol):
    """Checks a signature; must return False (never raise) on malformed keys or signatures."""

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class SuiteSigner:
    """A `Signer` over a crypto suite's private key (the production signer)."""

    key: PrivateKey

    def public_key(self) -> bytes:
        return self.key.public_key_bytes()

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)


@dataclass(frozen=True, slots=True)
class SuiteVerifier:
    """A `Verifier` over a crypto suite (the production verifier)."""

    suite: Suite

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return self.suite.verify(public_key, message, signature)


def proposal_bytes(
    chain_id: bytes,
    epoch: int,
    round_number: int,
    height: int,
    parent_hash: bytes,
    block_hash: bytes,
) -> bytes:
    return encode_value(
        (DOMAIN_PROPOSAL, chain_id, epoch, round_number, height, parent_hash, block_hash)
    )


def vote_bytes(
    chain_id: bytes, epoch: int, phase: int, height: int, round_number: int, block_hash: bytes
) -> bytes:
    """The statement a VOTE or COMMIT signature covers; a QC's signatures all sign this."""
    domain = DOMAIN_COMMIT if phase == Phase.COMMIT else DOMAIN_VOTE
    return encode_value((domain, chain_id, epoch, height, round_number, block_hash))


def timeout_bytes(chain_id: bytes, epoch: int, round_number: int, high_qc_round: int) -> bytes:
    return encode_value((DOMAIN_TIMEOUT, chain_id, epoch, round_number, high_qc_round))


def nil_block(
    chain_id: bytes, epoch: int, round_number: int, parent_hash: bytes, parent_height: int
) -> Block:
    """The engine's empty block extending the parent in `round_number`; deterministic, so
    every replica checks a nil proposal by recomputing it."""
    digest = hashlib.blake2b(
        encode_value((DOMAIN_NIL, chain_id, epoch, round_number, parent_hash)), digest_size=32
    ).digest()
    return Block(
        height=parent_height, parent_hash=parent_hash, payload=b"", block_hash=digest, nil=True
    )
