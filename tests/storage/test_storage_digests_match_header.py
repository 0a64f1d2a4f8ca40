"""What a commit stores is what the header's roots commit to: the roots are derived from the
very transaction hashes and receipt encodings the commit is handed, so a caller that hands it
encodings that do not belong to the header gets an InvariantViolation, never a stored block
whose receipts fail their proofs."""

from __future__ import annotations

import dataclasses

import pytest

from gongshi.codec import encode
from gongshi.crypto import get_suite
from gongshi.errors import InvariantViolation
from gongshi.storage.block_record import BlockDigests, prepare_block
from gongshi.storage.ledger import Ledger
from gongshi.storage.memory import MemoryStore
from gongshi.storage.synthetic import ChainShape, build_block

SUITE = get_suite("intl")


def _digests(made: object) -> BlockDigests:
    block = made.block  # type: ignore[attr-defined]
    receipts = made.receipts  # type: ignore[attr-defined]
    tx_hashes = tuple(tx.hash(SUITE) for tx in block.transactions)
    encodings = tuple(encode(receipt) for receipt in receipts)
    return BlockDigests(
        tx_hashes=tx_hashes,
        sender_addresses=tuple(SUITE.address(tx.sender) for tx in block.transactions),
        receipt_encodings=encodings,
    )


def test_receipt_encodings_that_do_not_match_the_leaves_are_refused() -> None:
    ledger = Ledger(MemoryStore(), SUITE)
    made = build_block(ledger, 2, ChainShape(txs_per_block=3), suite=SUITE)
    digests = _digests(made)
    wrong = dataclasses.replace(
        digests, receipt_encodings=tuple(reversed(digests.receipt_encodings))
    )
    with pytest.raises(InvariantViolation):
        prepare_block(SUITE, made.block, made.receipts, made.certificate, wrong)


def test_a_committed_receipt_always_proves_against_its_header() -> None:
    ledger = Ledger(MemoryStore(), SUITE)
    made = build_block(ledger, 2, ChainShape(txs_per_block=3), suite=SUITE)
    digests = _digests(made)
    wrong = dataclasses.replace(
        digests, receipt_encodings=tuple(reversed(digests.receipt_encodings))
    )
    try:
        ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate, wrong)
    except InvariantViolation:
        return  # refused: nothing wrong was stored
    stored = ledger.get_receipts(made.block.header.height)
    assert [encode(r) for r in stored] == list(digests.receipt_encodings)
