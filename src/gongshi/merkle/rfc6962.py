"""RFC 6962 Merkle trees over transactions and receipts: roots, inclusion and consistency proofs.

Hashing is exactly RFC 6962 §2.1: a leaf hashes as H(0x00 || leaf), a node as
H(0x01 || left || right), the empty tree as H(""), and a tree of n > 1 leaves splits at k, the
largest power of two below n. The hash function is a parameter (the chain suite's SM3 or SHA-256);
every hash is HASH_SIZE bytes.

`MerkleTree` hashes each level once. Keeping an odd last node unchanged on its way up (instead of
pairing it with a copy of itself) yields exactly the RFC's left-heavy tree, so level l, index j
holds MTH(D[j*2^l : min((j+1)*2^l, n)]) and every proof is a few look-ups: a 10,000-leaf block
costs 2n hashes for the root and O(log n) per proof.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2, with the shape checked first: hash
lengths, index < size, a proof of exactly the length the sizes call for, and PROOF_HASHES_MAX.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from gongshi.merkle.errors import MalformedProof, RootMismatch, TreeRangeError

HashFn = Callable[[bytes], bytes]

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
TREE_SIZE_MAX = (1 << 63) - 1
# Invariant: no proof for trees of at most TREE_SIZE_MAX leaves is longer (63 inclusion hashes,
# 64 consistency hashes), so this cap rejects oversized input before any hashing.
PROOF_HASHES_MAX = 64
assert TREE_SIZE_MAX.bit_length() + 1 <= PROOF_HASHES_MAX


@dataclass(frozen=True, slots=True, kw_only=True)
class InclusionProof:
    """The audit path of leaf `leaf_index` in a tree of `tree_size` leaves, lowest level first."""

    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsistencyProof:
    """Proof that the tree of `old_size` leaves is a prefix of the tree of `new_size` leaves."""

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]


def hash_leaf(hash_fn: HashFn, leaf: bytes) -> bytes:
    """MTH({d}) = H(0x00 || d)."""
    return hash_fn(LEAF_PREFIX + leaf)


def hash_children(hash_fn: HashFn, left: bytes, right: bytes) -> bytes:
    """The interior node hash H(0x01 || left || right)."""
    return hash_fn(NODE_PREFIX + left + right)


def empty_root(hash_fn: HashFn) -> bytes:
    """MTH({}) = H("")."""
    return hash_fn(b"")


def merkle_root(hash_fn: HashFn, leaves: Iterable[bytes]) -> bytes:
    """The RFC 6962 Merkle tree hash of `leaves` (raw leaf data, not yet hashed)."""
    return MerkleTree(hash_fn, leaves).root


def merkle_root_of_leaf_hashes(hash_fn: HashFn, leaf_hashes: Sequence[bytes]) -> bytes:
    """The tree hash over leaves already hashed with `hash_leaf` (computed by the caller, so
    not checked, unlike `MerkleTree.from_leaf_hashes`)."""
    if not leaf_hashes:
        return hash_fn(b"")
    return _build_levels(hash_fn, list(leaf_hashes))[-1][0]


def largest_power_of_two_below(size: int) -> int:
    """The RFC's split point k: the largest power of two strictly below `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def inclusion_proof_length(leaf_index: int, tree_size: int) -> int:
    """How many hashes the audit path of `leaf_index` has (0 <= leaf_index < tree_size).

    Below the level where the paths to `leaf_index` and to the last leaf part, every level has a
    sibling; above it, only levels where the path turns right have one (a left sibling)."""
    inner = (leaf_index ^ (tree_size - 1)).bit_length()
    return inner + (leaf_index >> inner).bit_count()


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """How many hashes a consistency proof from `old_size` to `new_size` has (0 < old < new)."""
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length()
    border = ((old_size - 1) >> inner).bit_count()
    # The old tree's rightmost perfect subtree (2^shift leaves) starts the chain; it is sent
    # unless the whole old tree is that subtree (the verifier already holds its root).
    shift = (old_size & -old_size).bit_length() - 1
    seed = 0 if old_size == 1 << shift else 1
    return inner - shift + border + seed


class MerkleTree:
    """An RFC 6962 tree with every level hashed once; read-only after construction."""

    __slots__ = ("_hash_fn", "_levels")

    def __init__(self, hash_fn: HashFn, leaves: Iterable[bytes]) -> None:
        self._hash_fn = hash_fn
        self._levels = _build_levels(hash_fn, [hash_fn(LEAF_PREFIX + leaf) for leaf in leaves])

    @classmethod
    def from_leaf_hashes(cls, hash_fn: HashFn, leaf_hashes: Iterable[bytes]) -> MerkleTree:
        """A tree over leaves already hashed with `hash_leaf`."""
        hashes = list(leaf_hashes)
        for position, leaf_hash in enumerate(hashes):
            _check_hash(f"leaf hash {position}", leaf_hash)
        tree = cls.__new__(cls)
        tree._hash_fn = hash_fn
        tree._levels = _build_levels(hash_fn, hashes)
        return tree

    @property
    def size(self) -> int:
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        if not self._levels[0]:
            return self._hash_fn(b"")
        return self._levels[-1][0]

    def leaf_hash(self, leaf_index: int) -> bytes:
        self._check_index(leaf_index)
        return self._levels[0][leaf_index]

    def inclusion_proof(self, leaf_index: int) -> InclusionProof:
        """The audit path of `leaf_index` in the whole tree (RFC 6962 §2.1.1)."""
        self._check_index(leaf_index)
        hashes: list[bytes] = []
        position = leaf_index
        for level in self._levels[:-1]:
            sibling = position ^ 1
            if sibling < len(level):  # a promoted last node has no sibling on this level
                hashes.append(level[sibling])
            position >>= 1
        return InclusionProof(leaf_index=leaf_index, tree_size=self.size, hashes=tuple(hashes))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """PROOF(old_size, D[new_size]) of RFC 6962 §2.1.2; `new_size` defaults to the size."""
        target = self.size if new_size is None else new_size
        if not 0 < old_size <= target <= self.size:
            raise TreeRangeError(
                f"consistency proof needs 0 < old size ({old_size}) <= new size ({target}) "
                f"<= tree size ({self.size})"
            )
        # SUBPROOF(m, D[start:end], complete), unrolled: each step keeps the half holding the
        # old tree's edge and records the other half's root; the recursion appends on return,
        # so the recorded hashes come out in reverse.
        reversed_hashes: list[bytes] = []
        start, end, remaining, complete = 0, target, old_size, True
        while remaining != end - start:
            split = largest_power_of_two_below(end - start)
            if remaining <= split:
                reversed_hashes.append(self._range_hash(start + split, end))
                end = start + split
            else:
                reversed_hashes.append(self._range_hash(start, start + split))
                start, remaining, complete = start + split, remaining - split, False
        if not complete:
            reversed_hashes.append(self._range_hash(start, end))
        reversed_hashes.reverse()
        return ConsistencyProof(old_size=old_size, new_size=target, hashes=tuple(reversed_hashes))

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range the RFC recursion produces (start aligned to the
        smallest power of two >= end - start): a cached node, or two when `end` cuts one."""
        level = (end - start - 1).bit_length()
        if end == start + (1 << level) or end == self.size:
            return self._levels[level][start >> level]
        split = largest_power_of_two_below(end - start)
        left = self._levels[split.bit_length() - 1][start // split]
        return self._hash_fn(NODE_PREFIX + left + self._range_hash(start + split, end))

    def _check_index(self, leaf_index: int) -> None:
        if not 0 <= leaf_index < self.size:
            raise TreeRangeError(f"leaf index {leaf_index} is outside a tree of {self.size}")


def _build_levels(hash_fn: HashFn, leaf_hashes: list[bytes]) -> list[list[bytes]]:
    if len(leaf_hashes) > TREE_SIZE_MAX:
        raise TreeRangeError(f"a tree holds at most {TREE_SIZE_MAX} leaves")
    levels = [leaf_hashes]
    current = leaf_hashes
    while len(current) > 1:
        parents = [
            hash_fn(NODE_PREFIX + current[index] + current[index + 1])
            for index in range(0, len(current) - 1, 2)
        ]
        if len(current) % 2:
            # The RFC's right subtree is the smaller one: an odd last node rises unchanged.
            parents.append(current[-1])
        levels.append(parents)
        current = parents
    return levels


def verify_inclusion(
    hash_fn: HashFn, *, leaf_hash: bytes, proof: InclusionProof, root: bytes
) -> None:
    """Check that `leaf_hash` (from `hash_leaf`) is leaf `proof.leaf_index` of the tree of
    `proof.tree_size` leaves with `root`; raises MalformedProof or RootMismatch."""
    index, size, hashes = proof.leaf_index, proof.tree_size, proof.hashes
    _check_integers(index, size)
    if not 0 <= index < size <= TREE_SIZE_MAX:
        raise MalformedProof(f"leaf index {index} is not below tree size {size}")
    _check_hash("leaf hash", leaf_hash)
    _check_hash("root", root)
    _check_proof_hashes(hashes, inclusion_proof_length(index, size))
    # RFC 9162 §2.1.3.2: walk up with the leaf's position (node) and the last leaf's (last).
    node, last, computed = index, size - 1, leaf_hash
    for sibling in hashes:
        if node & 1 or node == last:
            computed = hash_fn(NODE_PREFIX + sibling + computed)
            while node and not node & 1:  # levels where this node had no right sibling
                node, last = node >> 1, last >> 1
        else:
            computed = hash_fn(NODE_PREFIX + computed + sibling)
        node, last = node >> 1, last >> 1
    assert last == 0, "proof length was checked against the sizes"
    if computed != root:
        raise RootMismatch(f"inclusion proof for leaf {index} of {size} does not match the root")


def verify_consistency(
    hash_fn: HashFn, *, proof: ConsistencyProof, old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree of `proof.old_size` leaves with `old_root` is a prefix of the tree of
    `proof.new_size` leaves with `new_root`; raises MalformedProof or RootMismatch.

    Equal sizes need an empty proof and equal roots; as in the RFC 6962 reference verifier,
    that case compares the roots as given and computes nothing. A proof from the empty tree
    proves nothing and is rejected."""
    old, new, hashes = proof.old_size, proof.new_size, proof.hashes
    _check_integers(old, new)
    if not 0 <= old <= new <= TREE_SIZE_MAX:
        raise MalformedProof(f"old size {old} must not exceed new size {new}")
    if old == 0:
        raise MalformedProof("a consistency proof from the empty tree proves nothing")
    if old == new:
        if hashes:
            raise MalformedProof("equal sizes take an empty consistency proof")
        if old_root != new_root:
            raise RootMismatch(f"trees of equal size {old} have different roots")
        return
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    _check_proof_hashes(hashes, consistency_proof_length(old, new))
    old_computed, new_computed = _chain_consistency(hash_fn, old, new, old_root, hashes)
    if old_computed != old_root:
        raise RootMismatch(f"consistency proof {old}->{new} does not match the old root")
    if new_computed != new_root:
        raise RootMismatch(f"consistency proof {old}->{new} does not match the new root")


def _chain_consistency(
    hash_fn: HashFn, old: int, new: int, old_root: bytes, hashes: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2 steps 2-6: the old and new roots the proof leads to."""
    path = [old_root, *hashes] if old & (old - 1) == 0 else list(hashes)
    node, last = old - 1, new - 1
    while node & 1:
        node, last = node >> 1, last >> 1
    old_computed = new_computed = path[0]
    for sibling in path[1:]:
        if node & 1 or node == last:
            old_computed = hash_fn(NODE_PREFIX + sibling + old_computed)
            new_computed = hash_fn(NODE_PREFIX + sibling + new_computed)
            while node and not node & 1:
                node, last = node >> 1, last >> 1
        else:
            new_computed = hash_fn(NODE_PREFIX + new_computed + sibling)
        node, last = node >> 1, last >> 1
    assert last == 0, "proof length was checked against the sizes"
    return old_computed, new_computed


def _check_proof_hashes(hashes: Sequence[bytes], expected_length: int) -> None:
    if len(hashes) > PROOF_HASHES_MAX:
        raise MalformedProof(f"proof has {len(hashes)} hashes, more than {PROOF_HASHES_MAX}")
    if len(hashes) != expected_length:
        raise MalformedProof(f"proof has {len(hashes)} hashes, expected {expected_length}")
    for position, proof_hash in enumerate(hashes):
        _check_hash(f"proof hash {position}", proof_hash)


def _check_integers(*values: int) -> None:
    if not all(type(value) is int for value in values):
        raise MalformedProof("proof indexes and sizes are integers")


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        length = len(value) if isinstance(value, bytes) else type(value).__name__
        raise MalformedProof(f"{name} must be {HASH_SIZE} bytes, got {length}")
