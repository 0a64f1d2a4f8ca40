"""State proofs: canonical, strict, bounded encoding, and verification of every proof shape."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.errors import GongshiError, InvalidProof
from gongshi.merkle.errors import MalformedProof, ProofDecodeError, RootMismatch
from gongshi.merkle.state_proof import (
    STATE_PROOF_BYTES_MAX,
    ProofLeaf,
    ProofLevel,
    StateProof,
    verify_state_proof,
)
from gongshi.merkle.state_tree import EMPTY_ROOT, MemoryNodeStore, StateTree


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def build(size: int, seed: int = 3) -> tuple[StateTree, bytes, dict[bytes, bytes]]:
    rng = random.Random(seed)
    state = {b"key-%d" % rng.randrange(10 * size + 1): rng.randbytes(8) for _ in range(size)}
    store = MemoryNodeStore()
    tree = StateTree(store, sha256)
    update = tree.apply(None, 0, state)
    store.write(update)
    return tree, update.root_hash, state


def proofs_of_every_shape() -> dict[str, tuple[bytes, bytes, bytes | None, StateProof]]:
    """(root, key, value, proof): membership, absence at a leaf, at an empty slot, empty tree."""
    tree, root, state = build(300)
    found: dict[str, tuple[bytes, bytes, bytes | None, StateProof]] = {}
    for key, value in state.items():
        found.setdefault("member", (root, key, value, tree.get_proof(key, 0)))
    for index in range(2000):
        key = b"absent-%d" % index
        proof = tree.get_proof(key, 0)
        shape = "absent-leaf" if proof.leaf is not None else "absent-slot"
        found.setdefault(shape, (root, key, None, proof))
    empty_store = MemoryNodeStore()
    empty_tree = StateTree(empty_store, sha256)
    empty_store.write(empty_tree.apply(None, 0, {}))
    found["empty"] = (EMPTY_ROOT, b"k", None, empty_tree.get_proof(b"k", 0))
    assert set(found) == {"member", "absent-leaf", "absent-slot", "empty"}
    return found


SHAPES = proofs_of_every_shape()
shapes = pytest.mark.parametrize("root,key,value,proof", list(SHAPES.values()), ids=list(SHAPES))


@shapes
def test_every_shape_round_trips_and_verifies(
    root: bytes, key: bytes, value: bytes | None, proof: StateProof
) -> None:
    encoded = proof.encode()
    assert StateProof.decode(encoded) == proof
    assert StateProof.decode(bytearray(encoded)) == proof
    verify_state_proof(sha256, root, key, value, StateProof.decode(encoded))


@shapes
def test_every_truncation_and_extension_is_rejected(
    root: bytes, key: bytes, value: bytes | None, proof: StateProof
) -> None:
    encoded = proof.encode()
    for length in range(len(encoded)):
        with pytest.raises(ProofDecodeError):
            StateProof.decode(encoded[:length])
    with pytest.raises(ProofDecodeError):
        StateProof.decode(encoded + b"\x00")


@shapes
def test_every_flipped_bit_is_rejected(
    root: bytes, key: bytes, value: bytes | None, proof: StateProof
) -> None:
    encoded = proof.encode()
    for position in range(len(encoded)):
        for bit in (0x01, 0x80):
            tampered = bytearray(encoded)
            tampered[position] ^= bit
            with pytest.raises(GongshiError):
                verify_state_proof(sha256, root, key, value, StateProof.decode(bytes(tampered)))


def test_decode_limits() -> None:
    with pytest.raises(ProofDecodeError):
        StateProof.decode(b"\x02\x00")  # unknown end marker
    with pytest.raises(ProofDecodeError):
        StateProof.decode(bytes([0, 65]) + b"\x00\x01" * 65)  # more levels than path nibbles
    with pytest.raises(ProofDecodeError):
        StateProof.decode(bytes([0, 1]) + b"\x00\x00")  # a level without children
    with pytest.raises(ProofDecodeError):
        StateProof.decode(b"\x00" * (STATE_PROOF_BYTES_MAX + 1))
    with pytest.raises(ProofDecodeError):
        StateProof.decode("text")  # type: ignore[arg-type]
    with pytest.raises(ProofDecodeError):
        StateProof.decode(b"")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_decoding_is_canonical(data: bytes) -> None:
    try:
        proof = StateProof.decode(data)
    except ProofDecodeError:
        return
    assert proof.encode() == data


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200), key=st.binary(max_size=4), value=st.none() | st.binary())
def test_garbage_never_verifies_nor_crashes(data: bytes, key: bytes, value: bytes | None) -> None:
    _, root, _ = build(50)
    # Steer the header to a valid end marker and a few levels, so some garbage decodes.
    header = bytes([data[0] & 1, data[1] % 4]) if len(data) >= 2 else data
    try:
        proof = StateProof.decode(header + data[2:])
    except ProofDecodeError:
        return
    with pytest.raises(InvalidProof):
        verify_state_proof(sha256, root, key, value, proof)


def test_malformed_proofs_are_rejected_before_hashing_up() -> None:
    tree, root, state = build(200)
    key, value = next(iter(state.items()))
    proof = tree.get_proof(key, 0)
    assert proof.leaf is not None and proof.levels
    short_hash = ProofLevel(
        bitmap=proof.levels[0].bitmap, hashes=(b"x" * 31,) * len(proof.levels[0].hashes)
    )
    cases = [
        StateProof(levels=(short_hash, *proof.levels[1:]), leaf=proof.leaf),
        StateProof(
            levels=proof.levels,
            leaf=ProofLeaf(key_hash=b"k" * 31, value_hash=proof.leaf.value_hash),
        ),
        StateProof(levels=proof.levels[:1] * 65, leaf=proof.leaf),
        StateProof(levels=(ProofLevel(bitmap=0, hashes=()), *proof.levels[1:]), leaf=proof.leaf),
        StateProof(
            levels=(ProofLevel(bitmap=1 << 16, hashes=()), *proof.levels[1:]), leaf=proof.leaf
        ),
    ]
    for case in cases:
        with pytest.raises(MalformedProof):
            verify_state_proof(sha256, root, key, value, case)
    # A leaf that is not on the key's path cannot stand in for it.
    other_key = next(k for k in state if sha256(k)[0] >> 4 != sha256(key)[0] >> 4)
    foreign = tree.get_proof(other_key, 0).leaf
    with pytest.raises(MalformedProof):
        verify_state_proof(sha256, root, key, None, StateProof(levels=proof.levels, leaf=foreign))


def test_absence_proof_cannot_claim_an_occupied_slot() -> None:
    tree, root, state = build(200)
    absent = next(
        b"absent-%d" % i for i in range(1000) if tree.get_proof(b"absent-%d" % i, 0).leaf is None
    )
    proof = tree.get_proof(absent, 0)
    present = next(iter(state))
    with pytest.raises(InvalidProof):
        verify_state_proof(sha256, root, present, None, proof)
    with pytest.raises(RootMismatch):
        verify_state_proof(sha256, root, absent, b"value", proof)
