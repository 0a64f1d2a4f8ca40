"""RFC 6962 known answers: tree heads of RFC 6962 §2.1 and the transparency-dev proof suites."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from gongshi.errors import InvalidProof
from gongshi.merkle.rfc6962 import (
    ConsistencyProof,
    InclusionProof,
    MerkleTree,
    empty_root,
    hash_children,
    hash_leaf,
    merkle_root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc6962"
TREE_HEADS = json.loads((VECTORS / "tree_heads.json").read_text())
TREE_HEAD_LEAVES = [bytes.fromhex(leaf) for leaf in TREE_HEADS["leaves"]]
INCLUSION_FILES = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY_FILES = sorted((VECTORS / "consistency").rglob("*.json"))


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text())
    return case


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def proof_hashes(case: dict[str, Any]) -> tuple[bytes, ...]:
    return tuple(b64(item) for item in case["proof"] or [])


def case_id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def test_vector_suites_are_present() -> None:
    assert len(INCLUSION_FILES) >= 60
    assert len(CONSISTENCY_FILES) >= 90


@pytest.mark.parametrize("size", range(len(TREE_HEADS["roots_by_size"])))
def test_tree_heads_by_size(size: int) -> None:
    expected = bytes.fromhex(TREE_HEADS["roots_by_size"][size])
    assert merkle_root(sha256, TREE_HEAD_LEAVES[:size]) == expected
    assert MerkleTree(sha256, TREE_HEAD_LEAVES[:size]).root == expected


def test_hasher_cases() -> None:
    for case in TREE_HEADS["hasher"]:
        if "root" in case:
            assert empty_root(sha256) == bytes.fromhex(case["root"])
        elif "leaf_hash" in case:
            leaf = case["leaf_ascii"].encode()
            assert hash_leaf(sha256, leaf) == bytes.fromhex(case["leaf_hash"])
        else:
            left, right = case["left_ascii"].encode(), case["right_ascii"].encode()
            assert hash_children(sha256, left, right) == bytes.fromhex(case["node_hash"])


@pytest.mark.parametrize("path", INCLUSION_FILES, ids=case_id)
def test_inclusion_vector(path: Path) -> None:
    case = load(path)
    proof = InclusionProof(
        leaf_index=case["leafIdx"], tree_size=case["treeSize"], hashes=proof_hashes(case)
    )

    def verify() -> None:
        verify_inclusion(
            sha256, leaf_hash=b64(case["leafHash"]), proof=proof, root=b64(case["root"])
        )

    if case["wantErr"]:
        with pytest.raises(InvalidProof):
            verify()
    else:
        verify()


@pytest.mark.parametrize("path", CONSISTENCY_FILES, ids=case_id)
def test_consistency_vector(path: Path) -> None:
    case = load(path)
    proof = ConsistencyProof(
        old_size=case["size1"], new_size=case["size2"], hashes=proof_hashes(case)
    )

    def verify() -> None:
        verify_consistency(
            sha256, proof=proof, old_root=b64(case["root1"]), new_root=b64(case["root2"])
        )

    if case["wantErr"]:
        with pytest.raises(InvalidProof):
            verify()
    else:
        verify()


def tree_head_trees() -> dict[bytes, MerkleTree]:
    trees = (MerkleTree(sha256, TREE_HEAD_LEAVES[:size]) for size in range(1, 9))
    return {tree.root: tree for tree in trees}


def test_generated_inclusion_proofs_equal_the_happy_paths() -> None:
    trees = tree_head_trees()
    checked = 0
    for path in INCLUSION_FILES:
        case = load(path)
        tree = trees.get(b64(case["root"]))
        if case["wantErr"] or tree is None or tree.size != case["treeSize"]:
            continue
        generated = tree.inclusion_proof(case["leafIdx"])
        assert generated.hashes == proof_hashes(case), case_id(path)
        assert tree.leaf_hash(case["leafIdx"]) == b64(case["leafHash"])
        checked += 1
    assert checked >= 5


def test_generated_consistency_proofs_equal_the_happy_paths() -> None:
    trees = tree_head_trees()
    checked = 0
    for path in CONSISTENCY_FILES:
        case = load(path)
        tree = trees.get(b64(case["root2"]))
        if case["wantErr"] or tree is None or tree.size != case["size2"]:
            continue
        generated = tree.consistency_proof(case["size1"])
        assert generated.hashes == proof_hashes(case), case_id(path)
        checked += 1
    assert checked >= 5
