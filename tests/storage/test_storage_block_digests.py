"""Commit with known digests: the same record as hashing again, and counts checked."""

from __future__ import annotations

import pytest

from gongshi.codec import Transaction, encode
from gongshi.crypto import get_suite
from gongshi.errors import InvariantViolation
from gongshi.storage.block_record import BlockDigests, prepare_block
from gongshi.storage.ledger import Ledger
from gongshi.storage.memory import MemoryStore
from gongshi.storage.synthetic import ChainShape, build_block

SUITE = get_suite("intl")


def _digests_of(made: object) -> BlockDigests:
    block = made.block  # type: ignore[attr-defined]
    receipts = made.receipts  # type: ignore[attr-defined]
    return BlockDigests(
        tx_hashes=tuple(tx.hash(SUITE) for tx in block.transactions),
        sender_addresses=tuple(SUITE.address(tx.sender) for tx in block.transactions),
        receipt_encodings=tuple(encode(receipt) for receipt in receipts),
    )


def test_known_digests_give_the_same_record_without_hashing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = Ledger(MemoryStore(), SUITE)
    made = build_block(ledger, 2, ChainShape(txs_per_block=12), suite=SUITE)
    digests = _digests_of(made)
    hashed = prepare_block(SUITE, made.block, made.receipts, made.certificate)

    def no_hash(self: Transaction, suite: object) -> bytes:
        raise AssertionError("a transaction was hashed again")

    monkeypatch.setattr(Transaction, "hash", no_hash)
    known = prepare_block(SUITE, made.block, made.receipts, made.certificate, digests)
    assert known == hashed


def test_digests_must_cover_the_block_and_match_its_roots() -> None:
    ledger = Ledger(MemoryStore(), SUITE)
    made = build_block(ledger, 2, ChainShape(txs_per_block=3), suite=SUITE)
    digests = _digests_of(made)
    short = BlockDigests(
        tx_hashes=digests.tx_hashes[:2],
        sender_addresses=digests.sender_addresses,
        receipt_encodings=digests.receipt_encodings,
    )
    with pytest.raises(InvariantViolation, match="digests"):
        prepare_block(SUITE, made.block, made.receipts, made.certificate, short)
    swapped = BlockDigests(
        tx_hashes=tuple(reversed(digests.tx_hashes)),
        sender_addresses=digests.sender_addresses,
        receipt_encodings=digests.receipt_encodings,
    )
    with pytest.raises(InvariantViolation):
        prepare_block(SUITE, made.block, made.receipts, made.certificate, swapped)
    ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate, digests)
    assert ledger.committed_height == made.block.header.height
