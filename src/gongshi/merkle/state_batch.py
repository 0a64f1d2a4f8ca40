"""One version's batch of writes into the Jellyfish state tree: the hot path of `apply`.

The writes arrive sorted by key hash as two parallel lists (`keys`, `values`; a value hash or
None for a delete), so the writes under any node are one contiguous range, split among the
node's children by bisection. Each touched node is read once, rebuilt once and hashed once,
bottom-up; untouched subtrees are never read.

A child's update returns one of:
- `UNCHANGED`: keep the old child (no node written, nothing stale);
- None: the subtree is now empty;
- (hash, None): an internal node, already written at (version, its path);
- (hash, leaf_encoding): a leaf not yet written; its parent writes it where it finally lands,
  since a leaf rises when its siblings are deleted (a single leaf child collapses upward).
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Callable
from typing import Final, TypeAlias

from gongshi.errors import InvariantViolation
from gongshi.merkle.errors import MissingNode
from gongshi.merkle.state_nodes import (
    BYTE,
    HASH_SIZE,
    HASH_SPLITTERS,
    INTERNAL_DOMAIN,
    LEAF_DOMAIN,
    LEAF_SIZE,
    PATH_NIBBLES,
    TAG_INTERNAL,
    TAG_LEAF,
    VERSION_SPLITTERS,
    HashFn,
    check_node,
    child_node_key,
    decode_internal,
    node_key,
)


class _Marker(enum.Enum):
    UNCHANGED = 0


UNCHANGED: Final = _Marker.UNCHANGED
Child: TypeAlias = tuple[bytes, bytes | None]
# The reader's lookup: node key -> encoded node, or None.
GetNode: TypeAlias = Callable[[bytes], bytes | None]
Result: TypeAlias = Child | _Marker | None

# Below this many writes a linear scan finds a node's child ranges faster than bisection.
_BISECT_MIN = 12


class Batch:
    """Writes one version: collects new nodes and stale node keys while updating."""

    __slots__ = (
        "get_node",
        "hash_fn",
        "keys",
        "new_nodes",
        "stale_nodes",
        "values",
        "version",
        "version_prefix",
    )

    def __init__(
        self,
        *,
        hash_fn: HashFn,
        get_node: GetNode,
        version: int,
        keys: list[bytes],
        values: list[bytes | None],
    ) -> None:
        self.hash_fn = hash_fn
        self.get_node = get_node
        self.version = version
        self.version_prefix = version.to_bytes(8, "big")
        self.keys = keys
        self.values = values
        self.new_nodes: dict[bytes, bytes] = {}
        self.stale_nodes: list[tuple[int, bytes]] = []

    def update_root(self, encoded: bytes | None) -> Result:
        """Apply every write to the tree whose root node is `encoded` (None: empty tree)."""
        if encoded is None or check_node(encoded) not in (TAG_LEAF, TAG_INTERNAL):
            return self.build_range(0, 0, len(self.keys))
        if len(self.keys) == 1 and self.values[0] is not None:
            return self.update_single(encoded, 0, 0)
        return self.update_node(encoded, 0, 0, len(self.keys))

    def update_node(self, encoded: bytes, depth: int, lo: int, hi: int) -> Result:
        if encoded[0] == TAG_INTERNAL:
            return self.update_internal(encoded, depth, lo, hi)
        if encoded[0] == TAG_LEAF and len(encoded) == LEAF_SIZE:
            return self.update_leaf(encoded, depth, lo, hi)
        check_node(encoded)  # raises CorruptNode: a null node only ever sits at the root
        raise MissingNode("a null node below the root")

    def update_leaf(self, encoded: bytes, depth: int, lo: int, hi: int) -> Result:
        """The writes [lo, hi) land on an existing leaf: merge it in and build afresh."""
        old_pair = (encoded[1:33], encoded[33:])
        pairs = [old_pair]
        for index in range(lo, hi):
            key, value = self.keys[index], self.values[index]
            if key == old_pair[0]:
                pairs.pop(0)  # the old leaf is still first: the loop only appends
            if value is not None:
                pairs.append((key, value))
        if pairs == [old_pair]:
            return UNCHANGED  # only deletes of absent keys
        pairs.sort()
        return self.build_pairs(depth, pairs)

    def update_internal(self, encoded: bytes, depth: int, lo: int, hi: int) -> Result:
        bitmap, leaf_bitmap, hashes_blob, versions_blob = decode_internal(encoded)
        child_depth = depth + 1
        keys, get_node = self.keys, self.get_node
        changes: list[tuple[int, Child | None]] = []
        for child, child_lo, child_hi in self.child_ranges(depth, lo, hi):
            bit = 1 << child
            if bitmap & bit:
                position = (bitmap & (bit - 1)).bit_count()
                version_prefix = versions_blob[8 * position : 8 * position + 8]
                key = node_key(version_prefix, child_depth, keys[child_lo])
                stored = get_node(key)
                if stored is None:
                    raise MissingNode(f"state tree node {key.hex()} is missing")
                if child_hi - child_lo == 1 and self.values[child_lo] is not None:
                    result = self.update_single(stored, child_depth, child_lo)
                elif leaf_bitmap & bit:
                    result = self.update_leaf(stored, child_depth, child_lo, child_hi)
                else:
                    result = self.update_node(stored, child_depth, child_lo, child_hi)
                if result is UNCHANGED:
                    continue
                self.stale_nodes.append((self.version, key))
            else:
                result = self.build_range(child_depth, child_lo, child_hi)
                if result is None or result is UNCHANGED:
                    continue
            changes.append((child, result))
        if not changes:
            return UNCHANGED
        return self.rebuild(depth, lo, bitmap, leaf_bitmap, hashes_blob, versions_blob, changes)

    def update_single(self, encoded: bytes, depth: int, index: int) -> Result:
        """The only write under this node is an upsert (the usual case in the lower levels):
        walk down without recursion, then splice the new child hashes back up."""
        key, value = self.keys[index], self.values[index]
        assert value is not None
        get_node = self.get_node
        trail: list[tuple[int, int, bytes, bytes, int]] = []  # parents, top down
        visited: list[bytes] = []  # keys of the nodes below the first, replaced on success
        while encoded[0] == TAG_INTERNAL:
            bitmap, leaf_bitmap, hashes_blob, versions_blob = decode_internal(encoded)
            byte = key[depth >> 1]
            child = byte & 15 if depth & 1 else byte >> 4
            trail.append((bitmap, leaf_bitmap, hashes_blob, versions_blob, child))
            depth += 1
            if not bitmap >> child & 1:
                leaf = b"\x01" + key + value
                leaf_hash = self.hash_fn(LEAF_DOMAIN + leaf[1:])
                return self.splice_up(trail, depth, key, visited, leaf_hash, leaf)
            position = (bitmap & ((1 << child) - 1)).bit_count()
            child_key = node_key(versions_blob[8 * position : 8 * position + 8], depth, key)
            stored = get_node(child_key)
            if stored is None:
                raise MissingNode(f"state tree node {child_key.hex()} is missing")
            visited.append(child_key)
            encoded = stored
        if encoded[0] != TAG_LEAF or len(encoded) != LEAF_SIZE:
            check_node(encoded)
            raise MissingNode("a null node below the root")
        old_key = encoded[1:33]
        if old_key != key:
            pairs = [(old_key, encoded[33:]), (key, value)]
            pairs.sort()
            built = self.build_pairs(depth, pairs)
            assert built is not None
            return self.splice_up(trail, depth, key, visited, *built)
        if encoded[33:] == value:
            return UNCHANGED
        leaf = b"\x01" + key + value
        return self.splice_up(
            trail, depth, key, visited, self.hash_fn(LEAF_DOMAIN + leaf[1:]), leaf
        )

    def splice_up(
        self,
        trail: list[tuple[int, int, bytes, bytes, int]],
        depth: int,
        key: bytes,
        visited: list[bytes],
        child_hash: bytes,
        leaf: bytes | None,
    ) -> Child:
        """Rewrite the parents in `trail` (bottom up) around a new child at `depth` on the path
        of `key`; the nodes `visited` on the way down are now stale."""
        version_prefix, new_nodes = self.version_prefix, self.new_nodes
        for stale_key in visited:
            self.stale_nodes.append((self.version, stale_key))
        for bitmap, leaf_bitmap, hashes_blob, versions_blob, child in reversed(trail):
            bit = 1 << child
            if leaf is not None:
                new_nodes[node_key(version_prefix, depth, key)] = leaf
                leaf_bitmap |= bit
            else:
                leaf_bitmap &= ~bit
            position = (bitmap & (bit - 1)).bit_count()
            start = HASH_SIZE * position
            if bitmap & bit:  # replace the child
                hashes_blob = hashes_blob[:start] + child_hash + hashes_blob[start + HASH_SIZE :]
                versions_blob = (
                    versions_blob[: 8 * position]
                    + version_prefix
                    + versions_blob[8 * position + 8 :]
                )
            else:  # a new child in an empty slot
                bitmap |= bit
                hashes_blob = hashes_blob[:start] + child_hash + hashes_blob[start:]
                versions_blob = (
                    versions_blob[: 8 * position] + version_prefix + versions_blob[8 * position :]
                )
            depth -= 1
            child_hash, leaf = self.write_internal(
                depth, key, bitmap, leaf_bitmap, hashes_blob, versions_blob
            )
        return child_hash, leaf

    def rebuild(
        self,
        depth: int,
        lo: int,
        bitmap: int,
        leaf_bitmap: int,
        hashes_blob: bytes,
        versions_blob: bytes,
        changes: list[tuple[int, Child | None]],
    ) -> Result:
        """Lay out a node whose children `changes` (ascending) replaced, added or removed
        (None). Works on the present children only: a node usually has few changes."""
        count = bitmap.bit_count()
        hashes = list(HASH_SPLITTERS[count].unpack(hashes_blob))
        versions = list(VERSION_SPLITTERS[count].unpack(versions_blob))
        new_leaves: list[tuple[int, bytes]] = []  # (child, encoding) of new leaf children
        version_prefix = self.version_prefix
        for child, replacement in changes:
            bit = 1 << child
            position = (bitmap & (bit - 1)).bit_count()  # against the bitmap updated so far
            if replacement is None:  # only a present child can be removed
                del hashes[position], versions[position]
                bitmap &= ~bit
                leaf_bitmap &= ~bit
                continue
            if bitmap & bit:
                hashes[position] = replacement[0]
                versions[position] = version_prefix
            else:
                hashes.insert(position, replacement[0])
                versions.insert(position, version_prefix)
                bitmap |= bit
            if replacement[1] is None:
                leaf_bitmap &= ~bit
            else:
                leaf_bitmap |= bit
                new_leaves.append((child, replacement[1]))
        if bitmap == 0:
            return None
        if bitmap.bit_count() == 1 and leaf_bitmap:
            child = bitmap.bit_length() - 1
            new_leaf = new_leaves[0][1] if new_leaves else None
            return self.rise_single_leaf(depth, lo, child, hashes[0], versions[0], new_leaf)
        new_nodes, child_depth = self.new_nodes, depth + 1
        for _, leaf in new_leaves:
            new_nodes[node_key(version_prefix, child_depth, leaf[1:33])] = leaf
        return self.write_internal(
            depth, self.keys[lo], bitmap, leaf_bitmap, b"".join(hashes), b"".join(versions)
        )

    def rise_single_leaf(
        self,
        depth: int,
        lo: int,
        child: int,
        child_hash: bytes,
        child_version: bytes,
        new_leaf: bytes | None,
    ) -> Child:
        """A node left with one leaf child is replaced by that leaf (canonical shape)."""
        if new_leaf is not None:
            return child_hash, new_leaf
        # An untouched leaf: read it, it moves up and its old place goes stale.
        key = child_node_key(child_version, depth, self.keys[lo], child)
        stored = self.get_node(key)
        if stored is None or len(stored) != LEAF_SIZE:
            raise MissingNode(f"state tree leaf {key.hex()} is missing")
        self.stale_nodes.append((self.version, key))
        return child_hash, stored

    def build_range(self, depth: int, lo: int, hi: int) -> Result:
        """A subtree where none existed, from the writes in [lo, hi) (deletes are no-ops)."""
        keys, values = self.keys, self.values
        if hi - lo == 1:
            value = values[lo]
            if value is None:
                return None
            leaf = b"\x01" + keys[lo] + value
            return self.hash_fn(LEAF_DOMAIN + leaf[1:]), leaf
        pairs: list[tuple[bytes, bytes]] = []
        for index in range(lo, hi):
            value = values[index]
            if value is not None:
                pairs.append((keys[index], value))
        return self.build_pairs(depth, pairs)

    def build_pairs(self, depth: int, pairs: list[tuple[bytes, bytes]]) -> Child | None:
        """A fresh subtree at `depth` holding `pairs` (sorted, distinct key hashes)."""
        if not pairs:
            return None
        if len(pairs) == 1:
            key, value = pairs[0]
            leaf = b"\x01" + key + value
            return self.hash_fn(LEAF_DOMAIN + leaf[1:]), leaf
        if depth >= PATH_NIBBLES:
            raise InvariantViolation("two writes share a key hash")
        shift = 0 if depth & 1 else 4
        index = depth >> 1
        bitmap = leaf_bitmap = 0
        hashes: list[bytes] = []
        version_prefix, hash_fn = self.version_prefix, self.hash_fn
        start = 0
        while start < len(pairs):
            child = pairs[start][0][index] >> shift & 15
            end = start + 1
            while end < len(pairs) and pairs[end][0][index] >> shift & 15 == child:
                end += 1
            bitmap |= 1 << child
            if end - start == 1:  # a lone key is a leaf: built here, without a call
                key, value = pairs[start]
                leaf_bitmap |= 1 << child
                self.new_nodes[node_key(version_prefix, depth + 1, key)] = b"\x01" + key + value
                hashes.append(hash_fn(LEAF_DOMAIN + key + value))
            else:
                built = self.build_pairs(depth + 1, pairs[start:end])
                assert built is not None and built[1] is None, "two or more keys: internal"
                hashes.append(built[0])
            start = end
        count = len(hashes)
        return self.write_internal(
            depth, pairs[0][0], bitmap, leaf_bitmap, b"".join(hashes), version_prefix * count
        )

    def write_internal(
        self,
        depth: int,
        path_key: bytes,
        bitmap: int,
        leaf_bitmap: int,
        hashes_blob: bytes,
        versions_blob: bytes,
    ) -> Child:
        bitmap_bytes = bitmap.to_bytes(2, "big")
        encoded = (
            b"\x02" + bitmap_bytes + leaf_bitmap.to_bytes(2, "big") + hashes_blob + versions_blob
        )
        self.new_nodes[node_key(self.version_prefix, depth, path_key)] = encoded
        return self.hash_fn(INTERNAL_DOMAIN + bitmap_bytes + hashes_blob), None

    def child_ranges(self, depth: int, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """(child nibble, lo, hi) for each child of the node at `depth` holding writes."""
        keys = self.keys
        index = depth >> 1
        if depth & 1:  # the high nibble is shared: equal bytes mean equal child
            if hi - lo == 1:
                return [(keys[lo][index] & 15, lo, hi)]
            ranges = []
            start = lo
            while start < hi:
                byte = keys[start][index]
                if byte & 15 == 15:  # the last possible child takes the rest
                    end = hi
                elif hi - start < _BISECT_MIN:
                    end = start + 1
                    while end < hi and keys[end][index] == byte:
                        end += 1
                else:
                    end = bisect_left(keys, keys[start][:index] + BYTE[byte + 1], start + 1, hi)
                ranges.append((byte & 15, start, end))
                start = end
            return ranges
        if hi - lo == 1:
            return [(keys[lo][index] >> 4, lo, hi)]
        ranges = []
        start = lo
        while start < hi:
            child = keys[start][index] >> 4
            if child == 15:
                end = hi
            elif hi - start < _BISECT_MIN:
                limit = (child + 1) << 4
                end = start + 1
                while end < hi and keys[end][index] < limit:
                    end += 1
            else:
                bound = keys[start][:index] + BYTE[(child + 1) << 4]
                end = bisect_left(keys, bound, start + 1, hi)
            ranges.append((child, start, end))
            start = end
        return ranges
