"""Nodes of the Jellyfish state tree: canonical encodings, node keys and hashes.

A key's path is the 64 nibbles of hash(raw key). Three kinds of node, told apart by their first
byte (the full layout is in docs/state-tree.md):

    null      00                                              only as the root of an empty tree
    leaf      01 | key_hash (32) | value_hash (32)
    internal  02 | bitmap (2) | leaf_bitmap (2) | child hashes (32 each) | child versions (8 each)

Bit n of `bitmap` is set when child n (nibble n) exists, of `leaf_bitmap` when that child is a
leaf; children are listed in nibble order. Hashes are domain-separated and never cover versions,
so a root depends only on the set of (key, value) pairs:

    leaf hash      H(0x10 | key_hash | value_hash)
    internal hash  H(0x11 | bitmap | child hashes)
    empty tree     EMPTY_ROOT (32 zero bytes, a constant no hash is expected to meet)

A node key is version (8 bytes, big-endian) | depth (1 byte) | the first `depth` nibbles of the
path, packed two per byte with a zero low nibble when `depth` is odd.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from gongshi.merkle.errors import CorruptNode

HashFn = Callable[[bytes], bytes]

HASH_SIZE = 32
PATH_NIBBLES = 2 * HASH_SIZE
VERSION_MAX = (1 << 64) - 1
TAG_NULL = 0
TAG_LEAF = 1
TAG_INTERNAL = 2
NULL_NODE = b"\x00"
LEAF_DOMAIN = b"\x10"
INTERNAL_DOMAIN = b"\x11"
EMPTY_ROOT = bytes(HASH_SIZE)
LEAF_SIZE = 1 + 2 * HASH_SIZE
INTERNAL_HEADER_SIZE = 5
CHILD_SIZE = HASH_SIZE + 8  # Invariant: each child costs its hash plus its version.

BYTE = tuple(bytes((value,)) for value in range(256))
# By child count: split an internal node's child hashes (versions) into a tuple in one call.
HASH_SPLITTERS = tuple(struct.Struct("32s" * count) for count in range(17))
VERSION_SPLITTERS = tuple(struct.Struct("8s" * count) for count in range(17))


def version_bytes(version: int) -> bytes:
    return version.to_bytes(8, "big")


def nibble(key_hash: bytes, depth: int) -> int:
    """Nibble `depth` of a path (0 is the high nibble of the first byte)."""
    byte = key_hash[depth >> 1]
    return byte & 15 if depth & 1 else byte >> 4


def node_key(version_prefix: bytes, depth: int, key_hash: bytes) -> bytes:
    """Key of the node at `depth` on the path of `key_hash`, written at `version_prefix`."""
    if depth & 1:
        return (
            version_prefix
            + BYTE[depth]
            + key_hash[: depth >> 1]
            + BYTE[key_hash[depth >> 1] & 0xF0]
        )
    return version_prefix + BYTE[depth] + key_hash[: depth >> 1]


def child_node_key(version_prefix: bytes, depth: int, key_hash: bytes, child: int) -> bytes:
    """Key of child `child` of the node at `depth` on the path of `key_hash`."""
    index = depth >> 1
    last = BYTE[(key_hash[index] & 0xF0) | child] if depth & 1 else BYTE[child << 4]
    return version_prefix + BYTE[depth + 1] + key_hash[:index] + last


def root_node_key(version: int) -> bytes:
    return version_bytes(version) + BYTE[0]


def encode_leaf(key_hash: bytes, value_hash: bytes) -> bytes:
    return b"\x01" + key_hash + value_hash


def leaf_hash(hash_fn: HashFn, key_hash: bytes, value_hash: bytes) -> bytes:
    return hash_fn(LEAF_DOMAIN + key_hash + value_hash)


def internal_hash(hash_fn: HashFn, bitmap: int, hashes_blob: bytes) -> bytes:
    return hash_fn(INTERNAL_DOMAIN + bitmap.to_bytes(2, "big") + hashes_blob)


def encode_internal(
    bitmap: int, leaf_bitmap: int, hashes_blob: bytes, versions_blob: bytes
) -> bytes:
    return (
        b"\x02" + bitmap.to_bytes(2, "big") + leaf_bitmap.to_bytes(2, "big")
        + hashes_blob + versions_blob
    )  # fmt: skip


def decode_internal(encoded: bytes) -> tuple[int, int, bytes, bytes]:
    """(bitmap, leaf_bitmap, hashes_blob, versions_blob) of an encoded internal node."""
    bitmap = (encoded[1] << 8) | encoded[2]
    leaf_bitmap = (encoded[3] << 8) | encoded[4]
    count = bitmap.bit_count()
    split = INTERNAL_HEADER_SIZE + HASH_SIZE * count
    if len(encoded) != INTERNAL_HEADER_SIZE + CHILD_SIZE * count or leaf_bitmap & ~bitmap:
        raise CorruptNode(f"internal node of {len(encoded)} bytes does not match its bitmaps")
    return bitmap, leaf_bitmap, encoded[INTERNAL_HEADER_SIZE:split], encoded[split:]


def check_node(encoded: bytes) -> int:
    """The tag of a stored node after checking its shape; raises CorruptNode."""
    if not encoded:
        raise CorruptNode("empty node")
    tag = encoded[0]
    if tag == TAG_INTERNAL and len(encoded) >= INTERNAL_HEADER_SIZE:
        bitmap, _, _, _ = decode_internal(encoded)
        if bitmap:
            return tag
    elif (tag == TAG_LEAF and len(encoded) == LEAF_SIZE) or (tag == TAG_NULL and len(encoded) == 1):
        return tag
    raise CorruptNode(f"malformed node (tag {tag}, {len(encoded)} bytes)")


def node_hash(hash_fn: HashFn, encoded: bytes) -> bytes:
    """The hash of a stored node: what its parent (or the block header) commits to."""
    tag = check_node(encoded)
    if tag == TAG_NULL:
        return EMPTY_ROOT
    if tag == TAG_LEAF:
        return hash_fn(LEAF_DOMAIN + encoded[1:])
    bitmap, _, hashes_blob, _ = decode_internal(encoded)
    return internal_hash(hash_fn, bitmap, hashes_blob)
