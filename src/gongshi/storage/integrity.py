"""Integrity checks of a ledger database: on every open (the head block), and deep (every
height, every index, the state recomputed from its values) for tests, audits and `--check`.

Every failure raises `LedgerIntegrityError(height, reason)`: the node refuses to start with a
message naming the height. Nothing is ever repaired silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gongshi.codec import BlockHeader, encode
from gongshi.crypto.suite import Suite
from gongshi.errors import GongshiError
from gongshi.merkle.rfc6962 import LEAF_PREFIX
from gongshi.merkle.state_tree import MemoryNodeStore, StateTree
from gongshi.storage.errors import LedgerIntegrityError
from gongshi.storage.kv import KVStore
from gongshi.storage.reads import (
    decode_stored,
    load_block_leaves,
    load_header,
    load_receipts,
    load_transactions,
)
from gongshi.storage.roots import receipts_root, tx_root
from gongshi.storage.schema import (
    HEIGHT_SIZE,
    KeySpace,
    decode_event_position,
    decode_position,
    decode_state_value,
    decode_u64,
    event_key,
    height_key,
    namespace_of_state_key,
    position_key,
    split_state_head,
)
from gongshi.storage.state import newest_state_entries

logger = logging.getLogger(__name__)

# Key spaces holding one entry per height (keyed by height, or height first).
_PER_HEIGHT = (
    KeySpace.HEADERS,
    KeySpace.CERTIFICATES,
    KeySpace.BLOCK_LEAVES,
    KeySpace.TXS,
    KeySpace.RECEIPTS,
    KeySpace.STATE_CHANGES,
)


def check_empty(store: KVStore) -> None:
    """An empty ledger must hold no block data at all."""
    for space in (*_PER_HEIGHT, KeySpace.STATE_HEAD, KeySpace.STATE_NAMESPACES):
        for _ in store.scan(space, b"", None):
            raise LedgerIntegrityError(0, f"no committed height, yet {space.name} holds data")


def check_nothing_after(store: KVStore, height: int) -> None:
    """Nothing of height + 1 or later may exist (a commit is all or nothing)."""
    after = height_key(height + 1)
    for space in _PER_HEIGHT:
        for key, _ in store.scan(space, after, None):
            found = decode_u64(key[:HEIGHT_SIZE])
            raise LedgerIntegrityError(
                height, f"{space.name} holds data of height {found} above the committed height"
            )
    for node_key, _ in store.scan(KeySpace.STATE_NODES, after, None):
        found = decode_u64(node_key[:HEIGHT_SIZE])
        raise LedgerIntegrityError(height, f"state tree has nodes of version {found}")


def check_block(
    store: KVStore,
    suite: Suite,
    tree: StateTree,
    height: int,
    *,
    state_pruned_below: int,
) -> BlockHeader:
    """Recompute the block at `height`: tx and receipts roots from the stored transactions and
    receipts, the stored leaf hashes, the hash index, the certificate, and the state tree root
    (unless that version was pruned). Returns the header."""
    try:
        return _check_block(store, suite, tree, height, state_pruned_below=state_pruned_below)
    except LedgerIntegrityError:
        raise
    except GongshiError as error:  # e.g. a part of the block is missing altogether
        raise LedgerIntegrityError(height, str(error)) from error


def _check_block(
    store: KVStore,
    suite: Suite,
    tree: StateTree,
    height: int,
    *,
    state_pruned_below: int,
) -> BlockHeader:
    header = load_header(store, height)
    if header.height != height:
        raise LedgerIntegrityError(height, f"stored header says height {header.height}")
    transactions = load_transactions(store, height)
    tx_hashes = [tx.hash(suite) for tx in transactions]
    if tx_root(suite.hash, tx_hashes) != header.tx_root:
        raise LedgerIntegrityError(height, "tx root does not recompute from stored transactions")
    receipt_encodings = [encode(receipt) for receipt in load_receipts(store, height)]
    if len(receipt_encodings) != len(transactions):
        raise LedgerIntegrityError(height, "receipt count differs from transaction count")
    if receipts_root(suite.hash, receipt_encodings) != header.receipts_root:
        raise LedgerIntegrityError(height, "receipts root does not recompute from stored receipts")
    stored_tx_hashes, stored_receipt_leaves = load_block_leaves(store, height)
    receipt_leaves = [suite.hash(LEAF_PREFIX + data) for data in receipt_encodings]
    if stored_tx_hashes != tx_hashes or stored_receipt_leaves != receipt_leaves:
        raise LedgerIntegrityError(height, "stored leaf hashes differ from the block's")
    block_hash = header.hash(suite)
    indexed = store.get(KeySpace.BLOCK_HASHES, block_hash)
    if indexed is None or decode_u64(indexed) != height:
        raise LedgerIntegrityError(height, "block hash index does not point at this height")
    if not store.get(KeySpace.CERTIFICATES, height_key(height)):
        raise LedgerIntegrityError(height, "finality certificate is missing")
    if height >= state_pruned_below:
        _check_state_root(tree, header)
    return header


def check_head(
    store: KVStore, suite: Suite, tree: StateTree, height: int, *, state_pruned_below: int
) -> BlockHeader:
    """The check run on every open: the head block recomputes, links to its parent, and
    nothing of a later height exists. Returns the head header."""
    header = check_block(store, suite, tree, height, state_pruned_below=state_pruned_below)
    check_nothing_after(store, height)
    if height > 0:
        try:
            parent_hash = load_header(store, height - 1).hash(suite)
        except GongshiError as error:
            raise LedgerIntegrityError(height - 1, str(error)) from error
        if parent_hash != header.parent_hash:
            raise LedgerIntegrityError(height, "parent hash does not match the previous block")
    return header


def _check_state_root(tree: StateTree, header: BlockHeader) -> None:
    try:
        stored_root = tree.root_hash(header.height)
    except GongshiError as error:
        raise LedgerIntegrityError(header.height, f"state tree unreadable: {error}") from error
    if stored_root != header.state_root:
        raise LedgerIntegrityError(header.height, "state root does not match the header's")


def check_deep(
    store: KVStore,
    suite: Suite,
    tree: StateTree,
    committed_height: int,
    *,
    state_pruned_below: int,
    genesis_parent_hash: bytes,
) -> None:
    """Check every height, every index entry and the whole current state (slow: O(ledger))."""
    parent_hash = genesis_parent_hash
    for height in range(committed_height + 1):
        header = check_block(store, suite, tree, height, state_pruned_below=state_pruned_below)
        if header.parent_hash != parent_hash:
            raise LedgerIntegrityError(height, "parent hash does not match the previous block")
        parent_hash = header.hash(suite)
        _check_block_indexes(store, suite, height)
    check_nothing_after(store, committed_height)
    _check_index_targets(store, committed_height)
    head = load_header(store, committed_height)
    recomputed = recompute_state_root(store, suite.hash, committed_height)
    if recomputed != head.state_root:
        raise LedgerIntegrityError(
            committed_height, "state root does not recompute from the stored state values"
        )
    check_state_head(store, committed_height)
    check_state_namespaces(store, committed_height)
    logger.info("deep integrity check passed committed_height=%d", committed_height)


def _check_block_indexes(store: KVStore, suite: Suite, height: int) -> None:
    """Every transaction of the block is indexed at its position; every event is indexed."""
    for index, tx in enumerate(load_transactions(store, height)):
        located = store.get(KeySpace.TX_INDEX, tx.hash(suite))
        if located is None or decode_position(located) != (height, index):
            raise LedgerIntegrityError(height, f"tx index entry of transaction {index} is wrong")
    for tx_index, receipt in enumerate(load_receipts(store, height)):
        for event_index, event in enumerate(receipt.events):
            key = event_key(event.contract, event.name, height, tx_index, event_index)
            if store.get(KeySpace.EVENTS, key) != encode(event):
                raise LedgerIntegrityError(height, f"event index misses an event of tx {tx_index}")


def _check_index_targets(store: KVStore, committed_height: int) -> None:
    """No index entry points at a position that does not exist."""
    for _, located in store.scan(KeySpace.TX_INDEX, b"", None):
        height, index = decode_position(located)
        if (
            height > committed_height
            or store.get(KeySpace.TXS, position_key(height, index)) is None
        ):
            raise LedgerIntegrityError(height, "tx index points at a missing transaction")
    for key, _ in store.scan(KeySpace.EVENTS, b"", None):
        height, tx_index, _ = decode_event_position(key)
        if (
            height > committed_height
            or store.get(KeySpace.RECEIPTS, position_key(height, tx_index)) is None
        ):
            raise LedgerIntegrityError(height, "event index points at a missing receipt")
    for _, located in store.scan(KeySpace.BLOCK_HASHES, b"", None):
        height = decode_u64(located)
        if height > committed_height:
            raise LedgerIntegrityError(height, "block hash index points above the committed height")
        decode_stored(BlockHeader, store.get(KeySpace.HEADERS, height_key(height)) or b"", height)


def latest_state_values(store: KVStore, height: int) -> dict[bytes, bytes]:
    """Every present state key and its value as of `height`, from the STATE_VALUES space."""
    values: dict[bytes, bytes] = {}
    newest: dict[bytes, int] = {}
    for key, data in store.scan(KeySpace.STATE_VALUES, b"", None):
        raw_key, version = key[2:-HEIGHT_SIZE], decode_u64(key[-HEIGHT_SIZE:])
        if version > height or newest.get(raw_key, -1) > version:
            continue
        newest[raw_key] = version
        try:
            value = decode_state_value(data)
        except ValueError as error:
            raise LedgerIntegrityError(version, f"bad stored state value: {error}") from error
        if value is None:
            values.pop(raw_key, None)
        else:
            values[raw_key] = value
    return values


def recompute_state_root(store: KVStore, hash_fn: Callable[[bytes], bytes], height: int) -> bytes:
    """The state root rebuilt from scratch out of the stored values as of `height`."""
    fresh = StateTree(MemoryNodeStore(), hash_fn)
    return fresh.apply(None, 0, latest_state_values(store, height)).root_hash


def check_state_head(store: KVStore, committed_height: int) -> None:
    """STATE_HEAD holds exactly each key's newest STATE_VALUES entry (same version, same
    stored value), nothing above the committed height, and nothing else."""
    newest = newest_state_entries(store)
    for raw_key, head in store.scan(KeySpace.STATE_HEAD, b"", None):
        try:
            version, stored = split_state_head(head)
        except ValueError as error:
            raise LedgerIntegrityError(
                committed_height, f"bad state head entry: {error}"
            ) from error
        if version > committed_height:
            raise LedgerIntegrityError(
                committed_height, f"state head entry of version {version} is above the head"
            )
        if newest.pop(raw_key, None) != (version, stored):
            raise LedgerIntegrityError(
                committed_height, f"state head entry of {raw_key!r} is not its newest value"
            )
    if newest:
        raw_key = min(newest)
        raise LedgerIntegrityError(committed_height, f"state key {raw_key!r} has no head entry")


def check_state_namespaces(store: KVStore, committed_height: int) -> None:
    """Each namespace's last written version is at or above the newest stored version of its
    keys and at or below the committed height."""
    newest_by_namespace: dict[bytes, int] = {}
    for raw_key, (version, _) in newest_state_entries(store).items():
        namespace = namespace_of_state_key(raw_key)
        newest_by_namespace[namespace] = max(version, newest_by_namespace.get(namespace, 0))
    for namespace, data in store.scan(KeySpace.STATE_NAMESPACES, b"", None):
        written = decode_u64(data) if len(data) == HEIGHT_SIZE else committed_height + 1
        if written > committed_height or written < newest_by_namespace.pop(namespace, 0):
            raise LedgerIntegrityError(
                committed_height, f"namespace {namespace!r} has a wrong last written version"
            )
    if newest_by_namespace:
        namespace = min(newest_by_namespace)
        raise LedgerIntegrityError(
            committed_height, f"namespace {namespace!r} has no last written version"
        )
