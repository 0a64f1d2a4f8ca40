"""Property tests of the RFC 6962 tree against a literal transcription of RFC 6962 §2.1."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.errors import InvalidProof
from gongshi.merkle.errors import MalformedProof, RootMismatch, TreeRangeError
from gongshi.merkle.rfc6962 import (
    PROOF_HASHES_MAX,
    TREE_SIZE_MAX,
    ConsistencyProof,
    InclusionProof,
    MerkleTree,
    consistency_proof_length,
    hash_leaf,
    inclusion_proof_length,
    verify_consistency,
    verify_inclusion,
)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sm3_like(data: bytes) -> bytes:
    # A second 32-byte hash, so nothing silently assumes SHA-256.
    return hashlib.blake2s(data).digest()


# The reference: RFC 6962 §2.1 read literally, recursive and slow.


def split_point(size: int) -> int:
    split = 1
    while split * 2 < size:
        split *= 2
    return split


def dumb_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return sha256(b"\x00" + leaves[0])
    k = split_point(len(leaves))
    return sha256(b"\x01" + dumb_root(leaves[:k]) + dumb_root(leaves[k:]))


def dumb_path(index: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = split_point(len(leaves))
    if index < k:
        return [*dumb_path(index, leaves[:k]), dumb_root(leaves[k:])]
    return [*dumb_path(index - k, leaves[k:]), dumb_root(leaves[:k])]


def dumb_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [dumb_root(leaves)]
    k = split_point(n)
    if m <= k:
        return [*dumb_subproof(m, leaves[:k], complete), dumb_root(leaves[k:])]
    return [*dumb_subproof(m - k, leaves[k:], False), dumb_root(leaves[:k])]


leaf_lists = st.lists(st.binary(max_size=8), max_size=300)
small_leaf_lists = st.lists(st.binary(max_size=4), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists)
def test_root_and_every_proof_match_the_reference(leaves: list[bytes]) -> None:
    tree = MerkleTree(sha256, leaves)
    root = dumb_root(leaves)
    assert tree.root == root
    assert tree.size == len(leaves)
    for index in range(len(leaves)):
        proof = tree.inclusion_proof(index)
        assert list(proof.hashes) == dumb_path(index, leaves)
        assert len(proof.hashes) == inclusion_proof_length(index, len(leaves))
        verify_inclusion(sha256, leaf_hash=hash_leaf(sha256, leaves[index]), proof=proof, root=root)


@settings(max_examples=60, deadline=None)
@given(leaves=st.lists(st.binary(max_size=8), min_size=2, max_size=300), data=st.data())
def test_inclusion_proof_fails_for_another_leaf_index_or_root(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = MerkleTree(sha256, leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    other = data.draw(st.integers(0, len(leaves) - 1).filter(lambda i: i != index))
    proof = tree.inclusion_proof(index)
    leaf_hash = tree.leaf_hash(index)
    wrong_leaf = hash_leaf(sha256, leaves[index] + b"x")
    with pytest.raises(RootMismatch):
        verify_inclusion(sha256, leaf_hash=wrong_leaf, proof=proof, root=tree.root)
    moved = InclusionProof(leaf_index=other, tree_size=len(leaves), hashes=proof.hashes)
    if tree.leaf_hash(other) != leaf_hash:
        with pytest.raises(InvalidProof):
            verify_inclusion(sha256, leaf_hash=leaf_hash, proof=moved, root=tree.root)
    other_root = MerkleTree(sha256, [*leaves, b"extra"]).root
    with pytest.raises(RootMismatch):
        verify_inclusion(sha256, leaf_hash=leaf_hash, proof=proof, root=other_root)


@settings(max_examples=30, deadline=None)
@given(leaves=small_leaf_lists)
def test_consistency_between_every_pair_of_sizes(leaves: list[bytes]) -> None:
    tree = MerkleTree(sha256, leaves)
    roots = [dumb_root(leaves[:size]) for size in range(len(leaves) + 1)]
    for new_size in range(1, len(leaves) + 1):
        for old_size in range(1, new_size + 1):
            proof = tree.consistency_proof(old_size, new_size)
            assert list(proof.hashes) == dumb_subproof(old_size, leaves[:new_size], True)
            if old_size < new_size:
                assert len(proof.hashes) == consistency_proof_length(old_size, new_size)
            verify_consistency(
                sha256, proof=proof, old_root=roots[old_size], new_root=roots[new_size]
            )


@settings(max_examples=40, deadline=None)
@given(leaves=st.lists(st.binary(max_size=4), min_size=2, max_size=80), data=st.data())
def test_consistency_proof_fails_against_other_roots(
    leaves: list[bytes], data: st.DataObject
) -> None:
    new_size = data.draw(st.integers(2, len(leaves)))
    old_size = data.draw(st.integers(1, new_size - 1))
    tree = MerkleTree(sha256, leaves)
    proof = tree.consistency_proof(old_size, new_size)
    old_root, new_root = dumb_root(leaves[:old_size]), dumb_root(leaves[:new_size])
    forged_old = dumb_root([*leaves[: old_size - 1], leaves[old_size - 1] + b"x"])
    with pytest.raises(RootMismatch):
        verify_consistency(sha256, proof=proof, old_root=forged_old, new_root=new_root)
    forged_new = dumb_root([*leaves[: new_size - 1], leaves[new_size - 1] + b"x"])
    with pytest.raises(RootMismatch):
        verify_consistency(sha256, proof=proof, old_root=old_root, new_root=forged_new)
    if proof.hashes:
        flipped = bytes([proof.hashes[0][0] ^ 1]) + proof.hashes[0][1:]
        tampered = ConsistencyProof(
            old_size=old_size, new_size=new_size, hashes=(flipped, *proof.hashes[1:])
        )
        with pytest.raises(RootMismatch):
            verify_consistency(sha256, proof=tampered, old_root=old_root, new_root=new_root)


def test_levels_follow_the_rfc_split_not_naive_pairing() -> None:
    # For 7 leaves the RFC tree is ((01)(23))((45)6); duplicating the odd node instead would
    # give ((01)(23))((45)(66)).
    leaves = [bytes([i]) for i in range(7)]
    tree = MerkleTree(sha256, leaves)
    assert tree.root == dumb_root(leaves)
    assert tree.inclusion_proof(6).hashes == tuple(dumb_path(6, leaves))
    assert len(tree.inclusion_proof(6).hashes) == 2
    assert len(tree.inclusion_proof(0).hashes) == 3


def test_other_hash_function() -> None:
    leaves = [b"a", b"b", b"c"]
    tree = MerkleTree(sm3_like, leaves)
    assert tree.root != MerkleTree(sha256, leaves).root
    proof = tree.inclusion_proof(2)
    verify_inclusion(sm3_like, leaf_hash=hash_leaf(sm3_like, b"c"), proof=proof, root=tree.root)
    with pytest.raises(RootMismatch):
        verify_inclusion(sha256, leaf_hash=hash_leaf(sha256, b"c"), proof=proof, root=tree.root)


def test_from_leaf_hashes_matches() -> None:
    leaves = [bytes([i]) * 3 for i in range(11)]
    tree = MerkleTree.from_leaf_hashes(sha256, [hash_leaf(sha256, leaf) for leaf in leaves])
    assert tree.root == dumb_root(leaves)
    with pytest.raises(MalformedProof):
        MerkleTree.from_leaf_hashes(sha256, [b"short"])


def test_proof_shape_checks() -> None:
    tree = MerkleTree(sha256, [b"a", b"b", b"c", b"d", b"e"])
    proof = tree.inclusion_proof(1)
    leaf_hash = tree.leaf_hash(1)
    cases = [
        InclusionProof(leaf_index=1, tree_size=5, hashes=(*proof.hashes, proof.hashes[0])),
        InclusionProof(leaf_index=1, tree_size=5, hashes=proof.hashes[1:]),
        InclusionProof(leaf_index=5, tree_size=5, hashes=proof.hashes),
        InclusionProof(leaf_index=-1, tree_size=5, hashes=proof.hashes),
        InclusionProof(leaf_index=1, tree_size=TREE_SIZE_MAX + 1, hashes=proof.hashes),
        InclusionProof(leaf_index=1, tree_size=5, hashes=(proof.hashes[0][:31], *proof.hashes[1:])),
        InclusionProof(leaf_index=1, tree_size=5, hashes=(proof.hashes[0],) * 65),
        InclusionProof(leaf_index="1", tree_size=5, hashes=proof.hashes),  # type: ignore[arg-type]
        InclusionProof(leaf_index=True, tree_size=5, hashes=proof.hashes),
    ]
    for case in cases:
        with pytest.raises(MalformedProof):
            verify_inclusion(sha256, leaf_hash=leaf_hash, proof=case, root=tree.root)
    with pytest.raises(MalformedProof):
        verify_inclusion(sha256, leaf_hash=leaf_hash[:16], proof=proof, root=tree.root)
    with pytest.raises(MalformedProof):
        verify_inclusion(sha256, leaf_hash=leaf_hash, proof=proof, root=tree.root + b"\x00")


def test_tree_range_errors() -> None:
    tree = MerkleTree(sha256, [b"a", b"b", b"c"])
    for index in (-1, 3):
        with pytest.raises(TreeRangeError):
            tree.inclusion_proof(index)
    for old_size, new_size in ((0, 3), (3, 2), (1, 4)):
        with pytest.raises(TreeRangeError):
            tree.consistency_proof(old_size, new_size)
    assert MerkleTree(sha256, []).root == sha256(b"")


@given(
    size=st.integers(1, TREE_SIZE_MAX),
    data=st.data(),
)
def test_proof_lengths_stay_under_the_cap(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    assert inclusion_proof_length(index, size) <= PROOF_HASHES_MAX
    if size > 1:
        old = data.draw(st.integers(1, size - 1))
        assert consistency_proof_length(old, size) <= PROOF_HASHES_MAX


def test_ten_thousand_leaf_block_hashes_linearly() -> None:
    calls = 0

    def counting_sha256(data: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return hashlib.sha256(data).digest()

    leaves = [index.to_bytes(4, "big") for index in range(10_000)]
    tree = MerkleTree(counting_sha256, leaves)
    proofs = [tree.inclusion_proof(index) for index in range(len(leaves))]
    assert calls < 2 * len(leaves)  # n leaf hashes + n - 1 node hashes, none for the proofs
    assert all(len(proof.hashes) <= 14 for proof in proofs)
    verify_inclusion(sha256, leaf_hash=tree.leaf_hash(9_999), proof=proofs[-1], root=tree.root)
