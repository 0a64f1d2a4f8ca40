"""Proofs of the state tree: a key's value (membership) or its absence (non-membership).

A proof lists the internal nodes on the key's path from the root down, each as its child bitmap
and the hashes of its children other than the one on the path, and ends in one of:
- a leaf: the key's own (membership) or another key's whose path shares the prefix so far
  (non-membership: under that prefix there is only one key, and it is not this one);
- an empty slot: the last node has no child at the key's next nibble (then its level lists
  every child hash), or the tree is empty (no levels, root = EMPTY_ROOT).

Canonical encoding, all integers big-endian:
    end (1: 0 = empty slot, 1 = leaf) | level count (1, <= 64)
    | per level: bitmap (2) | hashes (32 each: popcount(bitmap) - 1, or popcount(bitmap) for
      the last level of an empty-slot proof)
    | if end = 1: key_hash (32) | value_hash (32)
"""

from __future__ import annotations

from dataclasses import dataclass

from gongshi.errors import ValidationError
from gongshi.merkle.errors import MalformedProof, ProofDecodeError, RootMismatch
from gongshi.merkle.state_nodes import (
    EMPTY_ROOT,
    HASH_SIZE,
    PATH_NIBBLES,
    HashFn,
    internal_hash,
    leaf_hash,
    nibble,
)

PROOF_LEVELS_MAX = PATH_NIBBLES
STATE_PROOF_BYTES_MAX = 2 + PROOF_LEVELS_MAX * (2 + 16 * HASH_SIZE) + 2 * HASH_SIZE
_END_EMPTY = 0
_END_LEAF = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ProofLevel:
    """One internal node on the path: which children exist, and the hashes of those off it."""

    bitmap: int
    hashes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProofLeaf:
    """The leaf the path ends at: the key's own, or another key's under the same prefix."""

    key_hash: bytes
    value_hash: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class StateProof:
    """A key's path from the root: internal nodes root first, then a leaf or an empty slot."""

    levels: tuple[ProofLevel, ...]
    leaf: ProofLeaf | None

    def encode(self) -> bytes:
        """The canonical bytes (see the module docstring)."""
        parts = [bytes((_END_EMPTY if self.leaf is None else _END_LEAF, len(self.levels)))]
        for level in self.levels:
            parts.append(level.bitmap.to_bytes(2, "big"))
            parts.extend(level.hashes)
        if self.leaf is not None:
            parts += [self.leaf.key_hash, self.leaf.value_hash]
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes) -> StateProof:
        """Parse canonical bytes strictly; raises ProofDecodeError."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ProofDecodeError("a state proof is bytes")
        data = bytes(data)
        if len(data) > STATE_PROOF_BYTES_MAX:
            raise ProofDecodeError(f"state proof exceeds {STATE_PROOF_BYTES_MAX} bytes")
        if len(data) < 2 or data[0] not in (_END_EMPTY, _END_LEAF):
            raise ProofDecodeError("state proof has no valid header")
        ends_at_leaf = data[0] == _END_LEAF
        level_count = data[1]
        if level_count > PROOF_LEVELS_MAX:
            raise ProofDecodeError(f"state proof has {level_count} levels, over {PROOF_LEVELS_MAX}")
        offset = 2
        levels: list[ProofLevel] = []
        for position in range(level_count):
            if offset + 2 > len(data):
                raise ProofDecodeError("state proof is truncated")
            bitmap = int.from_bytes(data[offset : offset + 2], "big")
            offset += 2
            on_path = ends_at_leaf or position < level_count - 1
            count = bitmap.bit_count() - (1 if on_path else 0)
            if bitmap == 0 or offset + HASH_SIZE * count > len(data):
                raise ProofDecodeError("state proof level is empty or truncated")
            hashes = tuple(
                data[start : start + HASH_SIZE]
                for start in range(offset, offset + HASH_SIZE * count, HASH_SIZE)
            )
            offset += HASH_SIZE * count
            levels.append(ProofLevel(bitmap=bitmap, hashes=hashes))
        leaf = None
        if ends_at_leaf:
            if offset + 2 * HASH_SIZE > len(data):
                raise ProofDecodeError("state proof leaf is truncated")
            leaf = ProofLeaf(
                key_hash=data[offset : offset + HASH_SIZE],
                value_hash=data[offset + HASH_SIZE : offset + 2 * HASH_SIZE],
            )
            offset += 2 * HASH_SIZE
        if offset != len(data):
            raise ProofDecodeError(f"state proof has {len(data) - offset} trailing bytes")
        return cls(levels=tuple(levels), leaf=leaf)


def verify_state_proof(
    hash_fn: HashFn, root_hash: bytes, key: bytes, value: bytes | None, proof: StateProof
) -> None:
    """Check that in the state with `root_hash`, `key` holds `value` (None: is absent).

    Raises MalformedProof when the proof does not fit the key's path, RootMismatch when it fits
    but shows another value or leads to another root."""
    _check_hash("root hash", root_hash)
    if not isinstance(key, bytes) or not (value is None or isinstance(value, bytes)):
        raise ValidationError("a state key is bytes and its value bytes or None")
    if len(proof.levels) > PROOF_LEVELS_MAX:
        raise MalformedProof(f"state proof has more than {PROOF_LEVELS_MAX} levels")
    for level in proof.levels:
        if type(level.bitmap) is not int or not 0 < level.bitmap <= 0xFFFF:
            raise MalformedProof("a proof level's bitmap must be a non-zero 16-bit integer")
    key_hash = hash_fn(key)
    levels = list(proof.levels)
    if proof.leaf is not None:
        computed = _verify_leaf(hash_fn, key_hash, value, proof.leaf, len(levels))
    elif not levels:
        if value is not None:
            raise RootMismatch("the proof shows an empty tree, so the key is absent")
        computed = EMPTY_ROOT
    else:
        if value is not None:
            raise RootMismatch("the proof shows the key absent")
        last = levels.pop()
        slot = nibble(key_hash, len(levels))
        if last.bitmap >> slot & 1 or len(last.hashes) != last.bitmap.bit_count():
            raise MalformedProof("the last level does not show an empty slot for the key")
        computed = internal_hash(hash_fn, last.bitmap, _joined_hashes(last.hashes))
    for depth in range(len(levels) - 1, -1, -1):
        level = levels[depth]
        child = nibble(key_hash, depth)
        if not level.bitmap >> child & 1 or len(level.hashes) != level.bitmap.bit_count() - 1:
            raise MalformedProof(f"level {depth} does not hold the key's path")
        position = (level.bitmap & ((1 << child) - 1)).bit_count()
        hashes = [*level.hashes[:position], computed, *level.hashes[position:]]
        computed = internal_hash(hash_fn, level.bitmap, _joined_hashes(hashes))
    if computed != root_hash:
        raise RootMismatch("state proof does not lead to the root")


def _verify_leaf(
    hash_fn: HashFn, key_hash: bytes, value: bytes | None, leaf: ProofLeaf, depth: int
) -> bytes:
    """The hash of the proof's leaf, once it is shown to answer the question for `key_hash`."""
    _check_hash("leaf key hash", leaf.key_hash)
    _check_hash("leaf value hash", leaf.value_hash)
    for position in range(depth):
        if nibble(leaf.key_hash, position) != nibble(key_hash, position):
            raise MalformedProof("the proof's leaf is not on the key's path")
    if value is None:
        if leaf.key_hash == key_hash:
            raise RootMismatch("the proof shows the key present")
    elif leaf.key_hash != key_hash:
        raise RootMismatch("the proof shows the key absent")
    elif leaf.value_hash != hash_fn(value):
        raise RootMismatch("the proof shows another value for the key")
    return leaf_hash(hash_fn, leaf.key_hash, leaf.value_hash)


def _joined_hashes(hashes: list[bytes] | tuple[bytes, ...]) -> bytes:
    for proof_hash in hashes:
        _check_hash("proof hash", proof_hash)
    return b"".join(hashes)


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise MalformedProof(f"{name} must be {HASH_SIZE} bytes")
