"""Ledger storage: RocksDB block and state store, authenticated state with proofs, crash-safe
commit. Design, key layout and figures: docs/storage.md.

    from gongshi.storage import Ledger, LedgerConfig, state_key
    ledger = Ledger.open(path, suite, LedgerConfig(state_retention_blocks=None))
    ledger.commit_block(block, receipts, state_writes, certificate)
    read = ledger.get_state("bank", b"alice")   # value + proof against the header's state root

`MemoryStore` runs the same ledger without a disk, for pure tests.
"""

from gongshi.storage.kv import Batch, KVStore
from gongshi.storage.ledger import (
    GENESIS_HEIGHT,
    GENESIS_PARENT_HASH,
    Ledger,
    LedgerConfig,
    StateRead,
)
from gongshi.storage.memory import MemoryStore
from gongshi.storage.reads import (
    EventPage,
    EventPosition,
    EventRecord,
    ReceiptWithProof,
    TransactionWithProof,
)
from gongshi.storage.roots import receipts_root, tx_root
from gongshi.storage.schema import split_state_key, state_key

__all__ = [
    "GENESIS_HEIGHT",
    "GENESIS_PARENT_HASH",
    "Batch",
    "EventPage",
    "EventPosition",
    "EventRecord",
    "KVStore",
    "Ledger",
    "LedgerConfig",
    "MemoryStore",
    "ReceiptWithProof",
    "StateRead",
    "StateView",
    "TransactionWithProof",
    "receipts_root",
    "split_state_key",
    "state_key",
    "tx_root",
]
