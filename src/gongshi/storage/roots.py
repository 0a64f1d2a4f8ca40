"""The two RFC 6962 roots a block header commits to, defined once for proposer and store.

- tx root: the RFC 6962 Merkle tree hash whose i-th leaf is the hash of transaction i
  (`Transaction.hash`, which excludes the signature): leaf hash H(0x00 || tx_hash).
- receipts root: the RFC 6962 Merkle tree hash whose i-th leaf is the canonical encoding of
  receipt i: leaf hash H(0x00 || encode(receipt)).
H is the chain suite's hash (SM3 or SHA-256); an empty block has both roots H(b"").
Execution uses these functions to build a header; the ledger recomputes them at commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gongshi.merkle.rfc6962 import LEAF_PREFIX, MerkleTree, merkle_root_of_leaf_hashes

HashFn = Callable[[bytes], bytes]


def tx_root(hash_fn: HashFn, tx_hashes: Sequence[bytes]) -> bytes:
    """The tx root over the block's transaction hashes, in block order."""
    return MerkleTree(hash_fn, tx_hashes).root


def receipt_leaf_hashes(hash_fn: HashFn, receipt_encodings: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 leaf hashes of the receipts tree: H(0x00 || encoding)."""
    return [hash_fn(LEAF_PREFIX + encoding) for encoding in receipt_encodings]


def receipts_root(hash_fn: HashFn, receipt_encodings: Sequence[bytes]) -> bytes:
    """The receipts root over the canonical receipt encodings, in block order."""
    return MerkleTree(hash_fn, receipt_encodings).root


def receipts_root_of_leaves(hash_fn: HashFn, leaf_hashes: Sequence[bytes]) -> bytes:
    """`receipts_root` from the receipts' `receipt_leaf_hashes` (when they are needed anyway)."""
    return merkle_root_of_leaf_hashes(hash_fn, leaf_hashes)
