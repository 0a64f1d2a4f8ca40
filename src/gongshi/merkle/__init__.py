"""Merkle trees: RFC 6962 trees over transactions and receipts (`rfc6962`), and the
authenticated state tree (`state_tree`). Pure code; the hash function is always a parameter."""

from gongshi.merkle.rfc6962 import (
    ConsistencyProof,
    HashFn,
    InclusionProof,
    MerkleTree,
    hash_leaf,
    merkle_root,
    verify_consistency,
    verify_inclusion,
)
from gongshi.merkle.state_proof import StateProof, verify_state_proof
from gongshi.merkle.state_tree import (
    EMPTY_ROOT,
    MemoryNodeStore,
    NodeReader,
    StateTree,
    TreeUpdate,
)

__all__ = [
    "EMPTY_ROOT",
    "ConsistencyProof",
    "HashFn",
    "InclusionProof",
    "MemoryNodeStore",
    "MerkleTree",
    "NodeReader",
    "StateProof",
    "StateTree",
    "TreeUpdate",
    "hash_leaf",
    "merkle_root",
    "verify_consistency",
    "verify_inclusion",
    "verify_state_proof",
]
