"""Finality certificates: `verify_commit` accepts exactly quorum-signed COMMIT statements."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus.errors import InvalidFinalityCertificate
from gongshi.consensus.quorum import (
    build_qc,
    decode_certificate,
    encode_certificate,
    signers_form_quorum,
    verify_commit,
)
from gongshi.consensus.signing import vote_bytes
from gongshi.consensus.sim.keys import KeyRing, MacSigner, secret_for
from gongshi.consensus.types import Phase, ValidatorSet

CHAIN = b"chain-a"
BLOCK = bytes(range(32))


def committee(size: int, epoch: int = 0) -> tuple[list[MacSigner], ValidatorSet, KeyRing]:
    ring = KeyRing()
    signers = [MacSigner(secret_for(1, index)) for index in range(size)]
    for index in range(size):
        ring.add(secret_for(1, index))
    validators = ValidatorSet(epoch=epoch, public_keys=tuple(s.public_key() for s in signers))
    return signers, validators, ring


def certificate(
    signers: list[MacSigner], indices: list[int], *, epoch: int = 0, phase: Phase = Phase.COMMIT
) -> QuorumCertificate:
    message = vote_bytes(CHAIN, epoch, phase, 7, 3, BLOCK)
    return build_qc(phase, 7, 3, BLOCK, {index: signers[index].sign(message) for index in indices})


def test_quorum_certificate_verifies_and_round_trips() -> None:
    signers, validators, ring = committee(4)
    cert = certificate(signers, [0, 2, 3])
    assert verify_commit(CHAIN, validators, BLOCK, 7, cert, ring)
    assert decode_certificate(encode_certificate(cert)) == cert


def test_rejects_what_does_not_prove_finality() -> None:
    signers, validators, ring = committee(4)
    good = certificate(signers, [0, 1, 2])
    assert not verify_commit(CHAIN, validators, BLOCK, 8, good, ring)  # other height
    assert not verify_commit(CHAIN, validators, bytes(32), 7, good, ring)  # other block
    assert not verify_commit(b"chain-b", validators, BLOCK, 7, good, ring)  # other chain
    too_few = certificate(signers, [0, 1])
    assert not verify_commit(CHAIN, validators, BLOCK, 7, too_few, ring)
    vote_phase = certificate(signers, [0, 1, 2], phase=Phase.VOTE)
    assert not verify_commit(CHAIN, validators, BLOCK, 7, vote_phase, ring)
    other_epoch = certificate(signers, [0, 1, 2], epoch=1)
    assert not verify_commit(CHAIN, validators, BLOCK, 7, other_epoch, ring)
    forged = replace(good, signatures=(good.signatures[0], good.signatures[1], b"z" * 16))
    assert not verify_commit(CHAIN, validators, BLOCK, 7, forged, ring)
    swapped = replace(good, signers=(0, 1, 3))
    assert not verify_commit(CHAIN, validators, BLOCK, 7, swapped, ring)


def test_decoding_garbage_raises_the_package_error() -> None:
    with pytest.raises(InvalidFinalityCertificate):
        decode_certificate(b"\xa1\x00")


@given(st.integers(min_value=1, max_value=60))
def test_any_two_quorums_share_an_honest_validator(size: int) -> None:
    validators = ValidatorSet(epoch=0, public_keys=tuple(i.to_bytes(2, "big") for i in range(size)))
    overlap = 2 * validators.quorum - size
    assert overlap >= validators.faults_max + 1
    assert validators.quorum <= size - validators.faults_max  # f silent nodes cannot block


@given(st.lists(st.integers(min_value=-2, max_value=8), max_size=8))
def test_signer_lists_must_be_ascending_distinct_and_in_range(signers: list[int]) -> None:
    validators = ValidatorSet(epoch=0, public_keys=tuple(bytes([i]) for i in range(7)))
    expected = (
        len(signers) >= validators.quorum
        and all(0 <= s < 7 for s in signers)
        and all(a < b for a, b in itertools.pairwise(signers))
    )
    assert signers_form_quorum(tuple(signers), validators) == expected
