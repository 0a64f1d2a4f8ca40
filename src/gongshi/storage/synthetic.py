"""Deterministic synthetic chains for the storage benchmark, the kill test and tests.

Block `h` of a chain with seed `s` is a pure function of (s, h, the chain's shape): the same
transactions, receipts, events and state writes every time, so a checker can rebuild what a
writer committed. Transactions carry placeholder sender keys and signatures of the right sizes:
the ledger stores signatures but never verifies them (admission did), so these blocks exercise
storage exactly like real ones. The headers' roots are real: computed with `roots` and the
ledger's own state tree, so `commit_block` accepts them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gongshi.codec import Block, BlockHeader, Event, Receipt, ReceiptStatus, Transaction, encode
from gongshi.codec.limits import SIGNATURE_SIZE
from gongshi.crypto.suite import Suite
from gongshi.storage.ledger import Ledger
from gongshi.storage.roots import receipts_root, tx_root
from gongshi.storage.schema import state_key

CHAIN_ID = "synthetic"
CONTRACT = "bench"
EVENT_NAME = "Transfer"
SENDERS = 64
GENESIS_TIME_MS = 1_700_000_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainShape:
    """How big each block is; every 10th transaction emits one event."""

    txs_per_block: int = 10
    # Every n-th block (0: none) has `large_block_txs` transactions instead: large batches
    # are written to the WAL in several pieces, so a kill can tear one.
    large_block_every: int = 0
    large_block_txs: int = 0
    writes_per_tx: int = 2
    key_space: int = 1000  # state keys are drawn from this many per sender
    delete_every: int = 7  # every n-th write deletes instead (0: never)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticBlock:
    block: Block
    receipts: tuple[Receipt, ...]
    state_writes: dict[bytes, bytes | None]
    certificate: bytes


def _digest(*parts: bytes) -> bytes:
    return hashlib.sha256(b"/".join(parts)).digest()


def sender_key(suite: Suite, index: int) -> bytes:
    """A placeholder raw public key of the suite's size (32 for Ed25519, 65 for SM2)."""
    material = _digest(b"sender", index.to_bytes(4, "big"))
    if suite.public_key_size == 32:
        return material
    return b"\x04" + (material * 3)[: suite.public_key_size - 1]


def block_content(
    suite: Suite, seed: int, height: int, shape: ChainShape
) -> tuple[tuple[Transaction, ...], tuple[Receipt, ...], dict[bytes, bytes | None]]:
    """Transactions, receipts and state writes of block `height` (pure)."""
    seed_bytes = seed.to_bytes(8, "big")
    height_bytes = height.to_bytes(8, "big")
    transactions: list[Transaction] = []
    receipts: list[Receipt] = []
    writes: dict[bytes, bytes | None] = {}
    large = shape.large_block_every and height % shape.large_block_every == 0
    tx_count = shape.large_block_txs if large else shape.txs_per_block
    for index in range(tx_count):
        # Nonces repeat after a large block (storage does not care); hashes never do.
        sequence = height * shape.txs_per_block + index
        sender = sequence % SENDERS
        nonce = sequence // SENDERS
        tx = Transaction(
            chain_id=CHAIN_ID,
            nonce=nonce,
            sender=sender_key(suite, sender),
            target=CONTRACT,
            method="transfer",
            args={"amount": index, "memo": seed_bytes},
            gas_limit=100_000,
            expiry_height=height + 100,
            signature=_digest(seed_bytes, height_bytes, index.to_bytes(4, "big")) * 2,
        )
        assert len(tx.signature) == SIGNATURE_SIZE
        transactions.append(tx)
        events: tuple[Event, ...] = ()
        if index % 10 == 0:
            events = (Event(contract=CONTRACT, name=EVENT_NAME, fields={"amount": index}),)
        receipts.append(
            Receipt(
                tx_hash=tx.hash(suite), status=ReceiptStatus.SUCCESS, gas_used=21_000, events=events
            )
        )
        for write in range(shape.writes_per_tx):
            material = _digest(seed_bytes, height_bytes, index.to_bytes(4, "big"), bytes([write]))
            slot = int.from_bytes(material[:4], "big") % shape.key_space
            raw_key = state_key(CONTRACT, b"acct/%d/%d" % (sender, slot))
            counter = sequence * shape.writes_per_tx + write
            deleting = shape.delete_every and counter % shape.delete_every == shape.delete_every - 1
            writes[raw_key] = None if deleting else material
    return tuple(transactions), tuple(receipts), writes


def build_block(ledger: Ledger, seed: int, shape: ChainShape, *, suite: Suite) -> SyntheticBlock:
    """The next block of the synthetic chain with `seed` on top of `ledger`'s head."""
    height = 0 if ledger.committed_height is None else ledger.committed_height + 1
    transactions, receipts, writes = block_content(suite, seed, height, shape)
    return make_block(ledger, suite, transactions, receipts, writes)


def make_block(
    ledger: Ledger,
    suite: Suite,
    transactions: tuple[Transaction, ...],
    receipts: tuple[Receipt, ...],
    writes: dict[bytes, bytes | None],
) -> SyntheticBlock:
    """The next block on top of `ledger`'s head with these contents, every root filled in.

    Uses `ledger.compute_state_root`, so a following `commit_block` reuses the tree work."""
    height = 0 if ledger.committed_height is None else ledger.committed_height + 1
    header = BlockHeader(
        height=height,
        parent_hash=ledger.head_hash,
        tx_root=tx_root(suite.hash, [tx.hash(suite) for tx in transactions]),
        receipts_root=receipts_root(suite.hash, [encode(receipt) for receipt in receipts]),
        state_root=ledger.compute_state_root(height, writes),
        timestamp_ms=GENESIS_TIME_MS + height * 1000,
        proposer=sender_key(suite, 0),
        round=0,
        config_version=1,
    )
    block = Block(header=header, transactions=transactions)
    certificate = b"synthetic-certificate/" + header.hash(suite)
    return SyntheticBlock(
        block=block, receipts=receipts, state_writes=writes, certificate=certificate
    )
