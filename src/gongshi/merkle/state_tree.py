"""The authenticated state tree: a Jellyfish Merkle tree (radix 16, path-compressed, versioned).

Keys are hashed to a 64-nibble path; a leaf holds (key hash, value hash) and sits at the
shallowest position its path does not share with another key; internal nodes have up to 16
children. Every node is written once under (version, nibble path) and never modified, so each
past version stays readable until pruned. `apply` writes one version's batch of changes and
returns the new nodes, the node keys it made stale and the root; the caller persists them.
The tree never stores or reads values: leaves commit to value hashes only.

Layout and hashing: `state_nodes`; the batch algorithm: `state_batch`; proofs: `state_proof`;
design and figures: docs/state-tree.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from gongshi.errors import InvariantViolation, ValidationError
from gongshi.merkle.errors import InvalidVersion, MissingNode, VersionNotFound
from gongshi.merkle.state_batch import UNCHANGED, Batch
from gongshi.merkle.state_nodes import (
    EMPTY_ROOT,
    HASH_SIZE,
    NULL_NODE,
    TAG_INTERNAL,
    TAG_LEAF,
    VERSION_MAX,
    HashFn,
    check_node,
    decode_internal,
    nibble,
    node_hash,
    node_key,
    root_node_key,
)
from gongshi.merkle.state_proof import (
    ProofLeaf,
    ProofLevel,
    StateProof,
    verify_state_proof,
)

__all__ = [
    "EMPTY_ROOT",
    "MemoryNodeStore",
    "NodeReader",
    "ProofLeaf",
    "ProofLevel",
    "StateProof",
    "StateTree",
    "TreeUpdate",
    "verify_state_proof",
]

logger = logging.getLogger(__name__)


class NodeReader(Protocol):
    """Where the tree reads its nodes from (the storage engineer's RocksDB, or memory)."""

    def get_node(self, node_key: bytes) -> bytes | None:
        """The encoded node stored under `node_key`, or None."""
        ...


@dataclass(frozen=True, slots=True)
class TreeUpdate:
    """What one `apply` produced; persist `new_nodes` atomically with the block."""

    version: int
    root_hash: bytes
    new_nodes: dict[bytes, bytes]  # node_key -> encoded node: persist all of them
    # (stale_since_version, node_key): versions >= stale_since_version no longer need the node,
    # so it may be deleted once no version below stale_since_version is kept.
    stale_nodes: list[tuple[int, bytes]]


class StateTree:
    """Reads and writes versions of the state tree through a `NodeReader`. Stateless itself."""

    __slots__ = ("_hash_fn", "_reader")

    def __init__(self, reader: NodeReader, hash_fn: HashFn) -> None:
        if len(hash_fn(b"")) != HASH_SIZE:
            raise InvariantViolation(f"the state tree needs a {HASH_SIZE}-byte hash")
        self._reader = reader
        self._hash_fn = hash_fn

    @property
    def hash_fn(self) -> HashFn:
        """The hash this tree was built with (what its proofs verify with)."""
        return self._hash_fn

    def apply(
        self, base_version: int | None, version: int, updates: Mapping[bytes, bytes | None]
    ) -> TreeUpdate:
        """Write `version` as `base_version` (None: the empty tree) plus `updates`: raw state
        key -> new value, None to delete. Nothing is written to the reader: persist the result.

        A version with no writes (or only no-op writes) costs one node: a copy of the root."""
        _check_versions(base_version, version)
        old_root_key = None if base_version is None else root_node_key(base_version)
        old_root = None if old_root_key is None else self._read_root(old_root_key, base_version)
        keys, values = self._sorted_writes(updates)
        batch = Batch(
            hash_fn=self._hash_fn,
            get_node=self._reader.get_node,
            version=version,
            keys=keys,
            values=values,
        )
        result = batch.update_root(old_root) if keys else UNCHANGED
        new_root_key = root_node_key(version)
        if result is UNCHANGED:
            root_encoded = NULL_NODE if old_root is None else old_root
            batch.new_nodes[new_root_key] = root_encoded
            root_hash = node_hash(self._hash_fn, root_encoded)
        elif result is None:
            batch.new_nodes[new_root_key] = NULL_NODE
            root_hash = EMPTY_ROOT
        else:
            root_hash, leaf = result
            if leaf is not None:  # a lone leaf is the root
                batch.new_nodes[new_root_key] = leaf
        if old_root_key is not None:
            batch.stale_nodes.append((version, old_root_key))
        logger.debug(
            "state version=%d writes=%d new_nodes=%d stale=%d",
            version,
            len(keys),
            len(batch.new_nodes),
            len(batch.stale_nodes),
        )
        return TreeUpdate(version, root_hash, batch.new_nodes, batch.stale_nodes)

    def root_hash(self, version: int) -> bytes:
        """The state root at `version`; raises VersionNotFound if never written or pruned."""
        _check_version(version)
        return node_hash(self._hash_fn, self._read_root(root_node_key(version), version))

    def get_proof(self, key: bytes, version: int) -> StateProof:
        """Proof of `key`'s value at `version`, or of its absence."""
        _check_version(version)
        key_hash = self._hash_key(key)
        encoded = self._read_root(root_node_key(version), version)
        levels: list[ProofLevel] = []
        for depth in range(len(key_hash) * 2 + 1):
            tag = check_node(encoded)
            if tag == TAG_LEAF:
                leaf = ProofLeaf(key_hash=encoded[1:33], value_hash=encoded[33:65])
                return StateProof(levels=tuple(levels), leaf=leaf)
            if tag != TAG_INTERNAL:  # the null root of an empty tree
                return StateProof(levels=(), leaf=None)
            bitmap, _, hashes_blob, versions_blob = decode_internal(encoded)
            hashes = [hashes_blob[i : i + HASH_SIZE] for i in range(0, len(hashes_blob), HASH_SIZE)]
            child = nibble(key_hash, depth)
            if not bitmap >> child & 1:
                levels.append(ProofLevel(bitmap=bitmap, hashes=tuple(hashes)))
                return StateProof(levels=tuple(levels), leaf=None)
            position = (bitmap & ((1 << child) - 1)).bit_count()
            levels.append(
                ProofLevel(bitmap=bitmap, hashes=(*hashes[:position], *hashes[position + 1 :]))
            )
            child_key = node_key(
                versions_blob[8 * position : 8 * position + 8], depth + 1, key_hash
            )
            found = self._reader.get_node(child_key)
            if found is None:
                raise MissingNode(f"state tree node {child_key.hex()} is missing")
            encoded = found
        raise InvariantViolation("a state tree path is longer than its key hash")

    def _read_root(self, key: bytes, version: int | None) -> bytes:
        encoded = self._reader.get_node(key)
        if encoded is None:
            raise VersionNotFound(f"the state tree has no version {version}")
        return encoded

    def _hash_key(self, key: bytes) -> bytes:
        if not isinstance(key, bytes):
            raise ValidationError(f"a state key is bytes, not {type(key).__name__}")
        return self._hash_fn(key)

    def _sorted_writes(
        self, updates: Mapping[bytes, bytes | None]
    ) -> tuple[list[bytes], list[bytes | None]]:
        """(key hashes ascending, value hashes or None) of a batch."""
        hash_fn = self._hash_fn
        try:
            pairs = sorted(
                [
                    (hash_fn(key), None if value is None else hash_fn(value))
                    for key, value in updates.items()
                ]
            )
        except TypeError as error:
            raise ValidationError(f"state keys and values are bytes: {error}") from error
        return [pair[0] for pair in pairs], [pair[1] for pair in pairs]


class MemoryNodeStore:
    """A `NodeReader` over a dict, with `write` and `prune`; for tests and small tools."""

    __slots__ = ("nodes", "stale")

    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}
        self.stale: list[tuple[int, bytes]] = []

    def get_node(self, node_key: bytes) -> bytes | None:
        return self.nodes.get(node_key)

    def write(self, update: TreeUpdate) -> None:
        self.nodes.update(update.new_nodes)
        self.stale.extend(update.stale_nodes)

    def prune(self, oldest_kept_version: int) -> int:
        """Delete the nodes no version >= `oldest_kept_version` needs; returns how many."""
        kept: list[tuple[int, bytes]] = []
        deleted = 0
        for stale_since, key in self.stale:
            if stale_since <= oldest_kept_version:
                deleted += self.nodes.pop(key, None) is not None
            else:
                kept.append((stale_since, key))
        self.stale = kept
        return deleted

    def __len__(self) -> int:
        return len(self.nodes)


def _check_version(version: int) -> None:
    if not isinstance(version, int) or not 0 <= version <= VERSION_MAX:
        raise InvalidVersion(f"state version {version!r} is not in 0..{VERSION_MAX}")


def _check_versions(base_version: int | None, version: int) -> None:
    _check_version(version)
    if base_version is not None:
        _check_version(base_version)
        if base_version >= version:
            raise InvalidVersion(f"version {version} must come after base {base_version}")
