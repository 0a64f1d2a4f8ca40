"""Pure quorum arithmetic and certificate verification.

`verify_commit` is the function block sync and light clients use: a block is final iff it
has a COMMIT certificate signed by a quorum of the validators of its epoch.
"""

from __future__ import annotations

from collections.abc import Mapping

from gongshi.codec.qc import QuorumCertificate
from gongshi.codec.record import decode, encode
from gongshi.consensus.errors import InvalidFinalityCertificate
from gongshi.consensus.signing import Verifier, timeout_bytes, vote_bytes
from gongshi.consensus.types import Justify, Phase, TimeoutCertificate, ValidatorSet
from gongshi.errors import GongshiError


def signers_form_quorum(signers: tuple[int, ...], validators: ValidatorSet) -> bool:
    """Strictly ascending indices inside the set, at least a quorum of them."""
    if len(signers) < validators.quorum:
        return False
    previous = -1
    for signer in signers:
        if signer <= previous or signer >= validators.size:
            return False
        previous = signer
    return True


def verify_qc(
    chain_id: bytes, validators: ValidatorSet, qc: QuorumCertificate, verifier: Verifier
) -> bool:
    """True if a quorum of `validators` signed (`qc.phase`, height, round, block hash)."""
    if qc.phase not in (Phase.VOTE, Phase.COMMIT):
        return False
    if len(qc.signatures) != len(qc.signers) or not signers_form_quorum(qc.signers, validators):
        return False
    message = vote_bytes(chain_id, validators.epoch, qc.phase, qc.height, qc.round, qc.block_hash)
    keys = validators.public_keys
    return all(
        verifier.verify(keys[signer], message, signature)
        for signer, signature in zip(qc.signers, qc.signatures, strict=True)
    )


def verify_justify(
    chain_id: bytes, validators: ValidatorSet, justify: Justify, verifier: Verifier
) -> bool:
    """Verify a certified block and its finality certificates against the signing epoch's set."""
    if justify.epoch != validators.epoch:
        return False
    if justify.qc.phase == Phase.GENESIS:
        return False  # the genesis certificate is checked against configuration, not signatures
    if not verify_qc(chain_id, validators, justify.qc, verifier):
        return False
    return all(
        commit.phase == Phase.COMMIT and verify_qc(chain_id, validators, commit, verifier)
        for commit in justify.commits
    )


def verify_timeout_certificate(
    chain_id: bytes, validators: ValidatorSet, tc: TimeoutCertificate, verifier: Verifier
) -> bool:
    if tc.epoch != validators.epoch:
        return False
    count = len(tc.signers)
    if len(tc.signatures) != count or len(tc.high_qc_rounds) != count:
        return False
    if not signers_form_quorum(tc.signers, validators):
        return False
    keys = validators.public_keys
    for signer, high_qc_round, signature in zip(
        tc.signers, tc.high_qc_rounds, tc.signatures, strict=True
    ):
        if not 0 <= high_qc_round < tc.round:
            return False
        message = timeout_bytes(chain_id, tc.epoch, tc.round, high_qc_round)
        if not verifier.verify(keys[signer], message, signature):
            return False
    return True


def verify_commit(
    chain_id: bytes,
    validators: ValidatorSet,
    block_hash: bytes,
    height: int,
    certificate: QuorumCertificate,
    verifier: Verifier,
) -> bool:
    """True if `certificate` proves that the block `block_hash` at `height` is final.

    `validators` is the set of the block's epoch (with its epoch number: signatures cover it).
    Needs nothing else: no parent, no later block, no engine state.
    """
    if certificate.phase != Phase.COMMIT:
        return False
    if certificate.block_hash != block_hash or certificate.height != height:
        return False
    return verify_qc(chain_id, validators, certificate, verifier)


def encode_certificate(certificate: QuorumCertificate) -> bytes:
    """The canonical bytes of a finality certificate (the codec's record encoding)."""
    return encode(certificate)


def decode_certificate(data: bytes) -> QuorumCertificate:
    """Inverse of `encode_certificate`; InvalidFinalityCertificate on anything else."""
    try:
        return decode(QuorumCertificate, data)
    except GongshiError as error:
        raise InvalidFinalityCertificate(f"finality certificate: {error.message}") from None


def build_qc(
    phase: Phase, height: int, round_number: int, block_hash: bytes, signatures: Mapping[int, bytes]
) -> QuorumCertificate:
    """A certificate from signatures keyed by validator index (in ascending index order)."""
    signers = tuple(sorted(signatures))
    return QuorumCertificate(
        phase=int(phase),
        height=height,
        round=round_number,
        block_hash=block_hash,
        signers=signers,
        signatures=tuple(signatures[signer] for signer in signers),
    )
