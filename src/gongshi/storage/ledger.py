"""The ledger: atomic block commit, queries with proofs, integrity check on open, pruning.

One writer (the node's commit path) and any number of readers. A commit is one write batch,
synced: block, certificate, receipts, indexes, nonces, state values, state tree nodes and the
new committed height. Readers see height h only once everything of h is durable, because the
committed height moves in the same batch and in memory only after the write returns.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from gongshi.codec import Block, BlockHeader, Receipt
from gongshi.crypto.suite import Suite
from gongshi.errors import ConfigError, InvariantViolation
from gongshi.merkle.rfc6962 import MerkleTree
from gongshi.merkle.state_tree import StateProof, StateTree, TreeUpdate
from gongshi.storage import integrity, reads
from gongshi.storage.block_record import BlockDigests, fill_block_batch, prepare_block
from gongshi.storage.errors import (
    BlockNotFound,
    CommitOutOfOrder,
    DatabaseClosed,
    InvalidStateKey,
    SchemaMismatch,
    StateVersionPruned,
    StateVersionUnavailable,
)
from gongshi.storage.kv import KVStore
from gongshi.storage.pruning import PruneResult, fill_prune_batch, prune_target
from gongshi.storage.reads import EventPage, EventPosition, ReceiptWithProof, TransactionWithProof
from gongshi.storage.rocks import RocksStore
from gongshi.storage.schema import (
    SCHEMA_VERSION,
    SCHEMA_VERSION_WITHOUT_STATE_HEAD,
    KeySpace,
    MetaKey,
    check_raw_state_key,
    decode_u64,
    encode_u64,
    state_key,
)
from gongshi.storage.state import (
    RecentNodes,
    StoreNodeReader,
    fill_state_batch,
    fill_state_head_upgrade,
    read_namespace_written,
    read_state_value,
)

logger = logging.getLogger(__name__)

GENESIS_HEIGHT = 0
GENESIS_PARENT_HASH = bytes(32)


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerConfig:
    """Storage options of a node (the `[storage]` table of its configuration)."""

    # Keep state readable this many blocks back; None keeps full history. Blocks, receipts
    # and indexes are never pruned.
    state_retention_blocks: int | None = None
    # Bound on the versions one pruning pass catches up, so a commit never stalls long.
    prune_versions_per_pass: int = 16
    # The parent hash block 0 must carry (the node may bind it to its genesis file hash).
    genesis_parent_hash: bytes = GENESIS_PARENT_HASH
    # Recent blocks whose RFC 6962 trees are kept for proof generation.
    proof_tree_cache_blocks: int = 8

    def __post_init__(self) -> None:
        retention = self.state_retention_blocks
        if retention is not None and (not isinstance(retention, int) or retention < 1):
            raise ConfigError("storage.state_retention_blocks must be an integer >= 1 (or unset)")
        for name in ("prune_versions_per_pass", "proof_tree_cache_blocks"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"storage.{name} must be an integer >= 1")
        if not isinstance(self.genesis_parent_hash, bytes) or len(self.genesis_parent_hash) != 32:
            raise ConfigError("storage.genesis_parent_hash must be 32 bytes")


@dataclass(frozen=True, slots=True, kw_only=True)
class StateRead:
    """A state value (None: absent) at `height`, with its proof against `state_root`."""

    key: bytes  # the raw state key (`schema.state_key(namespace, key)`)
    height: int
    value: bytes | None
    proof: StateProof
    state_root: bytes


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A state root computed ahead of commit (by the proposer), reused if the writes match."""

    height: int
    writes: dict[bytes, bytes | None]  # the checked copy of `source`
    update: TreeUpdate
    source: Mapping[bytes, bytes | None]  # the caller's writes, as given


class Ledger:
    """A node's ledger over a `KVStore`; `Ledger.open(path, suite)` for RocksDB."""

    def __init__(self, store: KVStore, suite: Suite, config: LedgerConfig | None = None) -> None:
        self._store = store
        self._suite = suite
        self._config = config or LedgerConfig()
        self._tree = StateTree(StoreNodeReader(store), suite.hash)
        self._recent_nodes = RecentNodes()
        self._lock = threading.Lock()
        self._closed = False
        self._prepared: _Prepared | None = None
        self._proof_trees: OrderedDict[tuple[int, bool], MerkleTree] = OrderedDict()
        self._committed_height, self._head_hash = self._load_head()
        self._state_pruned_below = self._load_u64(MetaKey.STATE_PRUNED_BELOW) or 0

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], suite: Suite, config: LedgerConfig | None = None
    ) -> Ledger:
        """Open (or create) the RocksDB ledger at `path`; checks the head block first."""
        store = RocksStore(path)
        try:
            ledger = cls(store, suite, config)
        except BaseException:
            store.close()
            raise
        return ledger

    # --- opening --------------------------------------------------------------------------

    def _load_u64(self, name: bytes) -> int | None:
        data = self._store.get(KeySpace.META, name)
        return None if data is None else decode_u64(data)

    def _load_head(self) -> tuple[int | None, bytes]:
        store = self._store
        schema = self._load_u64(MetaKey.SCHEMA_VERSION)
        if schema is None:
            integrity.check_empty(store)
            batch = store.new_batch()
            batch.put(KeySpace.META, MetaKey.SCHEMA_VERSION, encode_u64(SCHEMA_VERSION))
            batch.put(KeySpace.META, MetaKey.SUITE, self._suite.name.encode())
            store.write(batch)
            return None, self._config.genesis_parent_hash
        suite_name = (store.get(KeySpace.META, MetaKey.SUITE) or b"").decode("ascii", "replace")
        if schema == SCHEMA_VERSION_WITHOUT_STATE_HEAD and suite_name == self._suite.name:
            schema = self._upgrade_to_state_head()
        if schema != SCHEMA_VERSION or suite_name != self._suite.name:
            raise SchemaMismatch(
                f"database has schema {schema} and suite {suite_name!r}; this node runs "
                f"schema {SCHEMA_VERSION} with suite {self._suite.name!r}"
            )
        height = self._load_u64(MetaKey.COMMITTED_HEIGHT)
        if height is None:
            integrity.check_empty(store)
            return None, self._config.genesis_parent_hash
        pruned_below = self._load_u64(MetaKey.STATE_PRUNED_BELOW) or 0
        header = integrity.check_head(
            store, self._suite, self._tree, height, state_pruned_below=pruned_below
        )
        logger.info("ledger opened committed_height=%d", height)
        return height, header.hash(self._suite)

    def _upgrade_to_state_head(self) -> int:
        """Give a schema 1 database its STATE_HEAD space: one synced batch with the new schema
        version, so a crash leaves it either not upgraded or wholly upgraded."""
        batch = self._store.new_batch()
        fill_state_head_upgrade(self._store, batch, self._load_u64(MetaKey.COMMITTED_HEIGHT))
        batch.put(KeySpace.META, MetaKey.SCHEMA_VERSION, encode_u64(SCHEMA_VERSION))
        self._store.write(batch, sync=True)
        logger.info("ledger upgraded to schema %d", SCHEMA_VERSION)
        return SCHEMA_VERSION

    # --- commit ---------------------------------------------------------------------------

    @property
    def committed_height(self) -> int | None:
        """Height of the last committed block; None while the ledger is empty."""
        return self._committed_height

    @property
    def head_hash(self) -> bytes:
        """Hash of the last committed block (the genesis parent hash while empty)."""
        return self._head_hash

    @property
    def state_pruned_below(self) -> int:
        """State at heights below this is pruned (0: full history)."""
        return self._state_pruned_below

    @property
    def recent_nodes(self) -> Mapping[bytes, bytes]:
        """State-tree nodes of the last few committed versions by node key (`RecentNodes`):
        a state-tree reader for the next versions looks here before the store. Never used
        by the ledger's own reads (proofs, the integrity check), which read what is stored."""
        return self._recent_nodes.nodes

    def _next_height(self) -> int:
        return GENESIS_HEIGHT if self._committed_height is None else self._committed_height + 1

    def compute_state_root(self, height: int, state_writes: Mapping[bytes, bytes | None]) -> bytes:
        """The state root after applying `state_writes` on the committed state, for a proposer
        building the header of block `height`. The work is kept and reused by `commit_block`
        when it gets the same writes."""
        with self._lock:
            self._check_open()
            if height != self._next_height():
                raise CommitOutOfOrder(f"next block is {self._next_height()}, not {height}")
            writes, update = self._state_update(height, state_writes)
            self._prepared = _Prepared(height, writes, update, state_writes)
            return update.root_hash

    def offer_state_update(
        self, height: int, state_writes: Mapping[bytes, bytes | None], update: TreeUpdate
    ) -> None:
        """Keep a state-tree update computed elsewhere (by execution on an overlay of a parent
        that was not yet committed) for `commit_block` to reuse when its height and writes
        match. `commit_block` still checks the resulting root against the header."""
        with self._lock:
            self._check_open()
            self._prepared = _Prepared(height, _checked_writes(state_writes), update, state_writes)

    def commit_block(
        self,
        block: Block,
        receipts: list[Receipt] | tuple[Receipt, ...],
        state_writes: Mapping[bytes, bytes | None],
        certificate: bytes,
        digests: BlockDigests | None = None,
    ) -> None:
        """Commit the next block atomically; returns once it is durable. `digests`: the
        block's transaction hashes, sender addresses and receipt encodings if the caller
        knows them already (see `prepare_block`).

        Raises CommitOutOfOrder (nothing written) if the block is not the head's child, and
        InvariantViolation (the node must stop) if a root of the header does not recompute."""
        with self._lock:
            self._check_open()
            header = block.header
            self._check_child(header)
            record = prepare_block(self._suite, block, receipts, certificate, digests)
            writes, update = self._state_update(header.height, state_writes)
            if update.root_hash != header.state_root:
                raise InvariantViolation(
                    f"block {header.height}: state root {update.root_hash.hex()} does not match "
                    f"the header's {header.state_root.hex()}"
                )
            store = self._store
            batch = store.new_batch()
            stored_nonces = {
                address: reads.load_nonce(store, address) for address in record.next_nonces
            }
            fill_block_batch(batch, record, stored_nonces)
            fill_state_batch(
                batch,
                version=header.height,
                writes=writes,
                delta=update,
                record_history=self._config.state_retention_blocks is not None,
            )
            store.write(batch, sync=True)
            self._recent_nodes.add(update.new_nodes)
            self._committed_height = header.height
            self._head_hash = record.block_hash
            self._prepared = None
            logger.debug(
                "committed height=%d txs=%d state_writes=%d batch_ops=%d",
                header.height,
                len(block.transactions),
                len(writes),
                len(batch),
            )
            self._prune_if_due()

    def _check_child(self, header: BlockHeader) -> None:
        expected = self._next_height()
        if header.height != expected:
            raise CommitOutOfOrder(f"expected block {expected}, got block {header.height}")
        if header.parent_hash != self._head_hash:
            raise CommitOutOfOrder(
                f"block {header.height}: parent hash {header.parent_hash.hex()} is not the "
                f"committed head {self._head_hash.hex()}"
            )

    def _state_update(
        self, height: int, state_writes: Mapping[bytes, bytes | None]
    ) -> tuple[dict[bytes, bytes | None], TreeUpdate]:
        """(the checked writes, the tree update) of block `height`: the prepared update if the
        writes are the same, else the tree applied to them."""
        prepared = self._prepared
        if prepared is None or prepared.height != height:
            writes = _checked_writes(state_writes)
        elif state_writes is prepared.source and state_writes == prepared.writes:
            # The very mapping checked when the update was prepared, unchanged since (the
            # node offers and commits the same dict): not checked a second time.
            return prepared.writes, prepared.update
        else:
            writes = _checked_writes(state_writes)
            if writes == prepared.writes:
                return writes, prepared.update
        return writes, self._tree.apply(self._committed_height, height, writes)

    # --- pruning --------------------------------------------------------------------------

    def _prune_if_due(self) -> PruneResult | None:
        retention = self._config.state_retention_blocks
        if retention is None or self._committed_height is None:
            return None
        target = prune_target(self._committed_height, retention)
        if target <= self._state_pruned_below:
            return None
        horizon = min(target, self._state_pruned_below + self._config.prune_versions_per_pass)
        batch = self._store.new_batch()
        result = fill_prune_batch(
            self._store, batch, previous_horizon=self._state_pruned_below, horizon=horizon
        )
        batch.put(KeySpace.META, MetaKey.STATE_PRUNED_BELOW, encode_u64(horizon))
        # Not synced: pruning is idempotent, and a later synced commit makes it durable.
        self._store.write(batch, sync=False)
        self._state_pruned_below = horizon
        logger.debug(
            "pruned state below=%d values=%d nodes=%d",
            horizon,
            result.values_deleted,
            result.nodes_deleted,
        )
        return result

    # --- queries --------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise DatabaseClosed("the ledger is closed")

    def _committed(self, height: int) -> int:
        self._check_open()
        if (
            not isinstance(height, int)
            or self._committed_height is None
            or not 0 <= height <= self._committed_height
        ):
            raise BlockNotFound(f"no committed block at height {height}")
        return height

    def get_header(self, height: int) -> BlockHeader:
        return reads.load_header(self._store, self._committed(height))

    def get_block(self, height: int) -> Block:
        return reads.load_block(self._store, self._committed(height))

    def get_block_by_hash(self, block_hash: bytes) -> Block:
        self._check_open()
        return self.get_block(reads.height_of_block(self._store, block_hash))

    def get_certificate(self, height: int) -> bytes:
        """The finality certificate stored with the block at `height` (opaque bytes)."""
        return reads.load_certificate(self._store, self._committed(height))

    def get_receipts(self, height: int) -> tuple[Receipt, ...]:
        return reads.load_receipts(self._store, self._committed(height))

    def get_transaction(self, tx_hash: bytes) -> TransactionWithProof:
        """A committed transaction with its inclusion proof against its header's tx root."""
        self._check_open()
        height, index = reads.locate_transaction(self._store, tx_hash)
        transaction = reads.load_transaction_at(self._store, height, index)
        tree = self._proof_tree(height, receipts=False)
        return TransactionWithProof(
            transaction=transaction,
            tx_hash=tx_hash,
            height=height,
            index=index,
            proof=tree.inclusion_proof(index),
            tx_root=reads.load_header(self._store, height).tx_root,
        )

    def get_receipt(self, tx_hash: bytes) -> ReceiptWithProof:
        """A transaction's receipt with its inclusion proof against the receipts root."""
        self._check_open()
        height, index = reads.locate_transaction(self._store, tx_hash)
        receipt = reads.load_receipt_at(self._store, height, index)
        tree = self._proof_tree(height, receipts=True)
        return ReceiptWithProof(
            receipt=receipt,
            tx_hash=tx_hash,
            height=height,
            index=index,
            proof=tree.inclusion_proof(index),
            receipts_root=reads.load_header(self._store, height).receipts_root,
        )

    def _proof_tree(self, height: int, *, receipts: bool) -> MerkleTree:
        """The RFC 6962 tree of a block's transactions or receipts, from a small LRU cache."""
        cache_key = (height, receipts)
        with self._lock:
            tree = self._proof_trees.get(cache_key)
            if tree is not None:
                self._proof_trees.move_to_end(cache_key)
                return tree
        tx_hashes, receipt_leaves = reads.load_block_leaves(self._store, height)
        if receipts:
            tree = MerkleTree.from_leaf_hashes(self._suite.hash, receipt_leaves)
        else:
            tree = MerkleTree(self._suite.hash, tx_hashes)
        with self._lock:
            self._proof_trees[cache_key] = tree
            while len(self._proof_trees) > self._config.proof_tree_cache_blocks:
                self._proof_trees.popitem(last=False)
        return tree

    def get_events(
        self,
        contract: str,
        name: str,
        *,
        from_height: int = 0,
        to_height: int | None = None,
        limit: int = 100,
        after: EventPosition | None = None,
    ) -> EventPage:
        """Events `name` of `contract` in a height range (default: all committed), paged."""
        self._check_open()
        if self._committed_height is None:
            return EventPage(events=(), next_after=None)
        top = (
            self._committed_height if to_height is None else min(to_height, self._committed_height)
        )
        if from_height > top:
            return EventPage(events=(), next_after=None)
        return reads.query_events(
            self._store,
            contract=contract,
            name=name,
            from_height=from_height,
            to_height=top,
            limit=limit,
            after=after,
        )

    def get_nonce(self, address: bytes) -> int:
        """The next nonce account `address` must use (0 if it never sent a transaction)."""
        self._check_open()
        return reads.load_nonce(self._store, address)

    def next_nonce(self, address: bytes, /) -> int:
        """`get_nonce` under the name execution's `NonceReader` protocol uses."""
        return self.get_nonce(address)

    def state_reader(self, height: int | None = None) -> StateView:
        """Execution's `StateReader` over the state at `height` (default: committed now):
        `view.get(raw_key)`. The height is fixed when the view is made."""
        return StateView(self, self._state_height(height))

    def _state_height(self, height: int | None) -> int:
        self._check_open()
        if self._committed_height is None:
            raise StateVersionUnavailable("no block is committed yet")
        if height is None:
            return self._committed_height
        if not isinstance(height, int) or not 0 <= height <= self._committed_height:
            raise StateVersionUnavailable(
                f"height {height} is not committed (committed: {self._committed_height})"
            )
        if height < self._state_pruned_below:
            raise StateVersionPruned(
                f"state at height {height} is pruned (kept from {self._state_pruned_below})"
            )
        return height

    def get_state_value(self, raw_key: bytes, height: int | None = None) -> bytes | None:
        """The value of a raw state key at `height` (default: committed), no proof: the fast
        path for execution."""
        check_raw_state_key(raw_key)
        return read_state_value(self._store, raw_key, self._state_height(height))

    def namespace_written_height(self, namespace: str) -> int | None:
        """The last committed height whose block wrote a key of `namespace` (None: none did).
        A cache of values derived from a namespace stays exact while this does not move; it
        may already show a block committed after `committed_height` was read."""
        self._check_open()
        return read_namespace_written(self._store, namespace)

    def get_state(self, namespace: str, key: bytes, height: int | None = None) -> StateRead:
        """Value of `key` in a contract's `namespace` at `height`, with its proof."""
        return self.get_state_raw(state_key(namespace, key), height)

    def get_state_raw(self, raw_key: bytes, height: int | None = None) -> StateRead:
        check_raw_state_key(raw_key)
        version = self._state_height(height)
        value = read_state_value(self._store, raw_key, version)
        proof = self._tree.get_proof(raw_key, version)
        root = reads.load_header(self._store, version).state_root
        return StateRead(key=raw_key, height=version, value=value, proof=proof, state_root=root)

    # --- checks and lifetime --------------------------------------------------------------

    def check_integrity(self) -> None:
        """The deep check: every height, index and the state recomputed from its values."""
        self._check_open()
        if self._committed_height is None:
            integrity.check_empty(self._store)
            return
        integrity.check_deep(
            self._store,
            self._suite,
            self._tree,
            self._committed_height,
            state_pruned_below=self._state_pruned_below,
            genesis_parent_hash=self._config.genesis_parent_hash,
        )

    @property
    def store(self) -> KVStore:
        return self._store

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class StateView:
    """State values at one committed height, by raw state key (no proofs): what execution
    reads while it builds or applies the next block."""

    __slots__ = ("_ledger", "height")

    def __init__(self, ledger: Ledger, height: int) -> None:
        self._ledger = ledger
        self.height = height

    def get(self, raw_key: bytes, /) -> bytes | None:
        return self._ledger.get_state_value(raw_key, self.height)


def _checked_writes(state_writes: Mapping[bytes, bytes | None]) -> dict[bytes, bytes | None]:
    """A private copy of a block's state writes, keys and values checked."""
    writes = dict(state_writes)
    for raw_key, value in writes.items():
        check_raw_state_key(raw_key)
        if value is not None and not isinstance(value, bytes):
            raise InvalidStateKey(f"state value of {raw_key!r} is not bytes or None")
    return writes
