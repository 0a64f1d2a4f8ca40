"""The ledger on both stores: commit, queries, proofs checked with client-side verifiers only."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from gongshi.codec import Block, Receipt, ReceiptStatus, encode
from gongshi.crypto import get_suite
from gongshi.errors import InvalidProof, InvariantViolation
from gongshi.merkle.rfc6962 import InclusionProof, hash_leaf, verify_inclusion
from gongshi.merkle.state_tree import StateProof, StateTree, verify_state_proof
from gongshi.storage.errors import (
    BlockNotFound,
    CommitOutOfOrder,
    InvalidQuery,
    InvalidStateKey,
    SchemaMismatch,
    StateVersionUnavailable,
    TransactionNotFound,
)
from gongshi.storage.ledger import Ledger
from gongshi.storage.memory import MemoryStore
from gongshi.storage.schema import KeySpace, MetaKey, state_key
from gongshi.storage.state import StoreNodeReader
from gongshi.storage.synthetic import (
    SENDERS,
    ChainShape,
    SyntheticBlock,
    build_block,
    make_block,
    sender_key,
)

SUITE = get_suite("intl")
HASH = SUITE.hash


DEFAULT_SHAPE = ChainShape()


def commit_next(ledger: Ledger, shape: ChainShape = DEFAULT_SHAPE, seed: int = 1) -> SyntheticBlock:
    made = build_block(ledger, seed, shape, suite=SUITE)
    ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
    return made


def commit_writes(ledger: Ledger, writes: dict[bytes, bytes | None]) -> SyntheticBlock:
    made = make_block(ledger, SUITE, (), (), writes)
    ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
    return made


@pytest.fixture(params=["memory", "rocks"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "memory":
        opened = Ledger(MemoryStore(), SUITE)
    else:
        opened = Ledger.open(tmp_path / "ledger", SUITE)
    yield opened
    opened.close()


def test_empty_ledger(ledger: Ledger) -> None:
    assert ledger.committed_height is None
    assert ledger.head_hash == bytes(32)
    with pytest.raises(BlockNotFound):
        ledger.get_block(0)
    with pytest.raises(StateVersionUnavailable):
        ledger.get_state("bench", b"k")
    assert ledger.get_events("bench", "Transfer").events == ()
    assert ledger.get_nonce(bytes(20)) == 0
    ledger.check_integrity()


def test_blocks_read_back_by_height_and_hash(ledger: Ledger) -> None:
    made = [commit_next(ledger, ChainShape(txs_per_block=size)) for size in (0, 1, 5, 12)]
    assert ledger.committed_height == 3
    assert ledger.head_hash == made[-1].block.hash(SUITE)
    for height, item in enumerate(made):
        assert ledger.get_block(height) == item.block
        assert ledger.get_header(height) == item.block.header
        assert ledger.get_block_by_hash(item.block.hash(SUITE)) == item.block
        assert ledger.get_certificate(height) == item.certificate
        assert ledger.get_receipts(height) == item.receipts
    with pytest.raises(BlockNotFound):
        ledger.get_block(4)
    with pytest.raises(BlockNotFound):
        ledger.get_block_by_hash(bytes(32))
    ledger.check_integrity()


def test_transaction_and_receipt_proofs_verify_against_header_roots(ledger: Ledger) -> None:
    made = [commit_next(ledger, ChainShape(txs_per_block=size)) for size in (1, 2, 7, 16, 33)]
    for item in made:
        header = item.block.header
        for index, tx in enumerate(item.block.transactions):
            tx_hash = tx.hash(SUITE)
            found = ledger.get_transaction(tx_hash)
            assert (found.transaction, found.height, found.index) == (tx, header.height, index)
            assert found.tx_root == header.tx_root
            verify_inclusion(
                HASH, leaf_hash=hash_leaf(HASH, tx_hash), proof=found.proof, root=header.tx_root
            )
            receipt = ledger.get_receipt(tx_hash)
            assert receipt.receipt == item.receipts[index]
            leaf = hash_leaf(HASH, encode(receipt.receipt))
            verify_inclusion(HASH, leaf_hash=leaf, proof=receipt.proof, root=header.receipts_root)
            # The same proof must not vouch for another leaf or another root.
            with pytest.raises(InvalidProof):
                verify_inclusion(
                    HASH,
                    leaf_hash=hash_leaf(HASH, b"x" * 32),
                    proof=found.proof,
                    root=header.tx_root,
                )
            with pytest.raises(InvalidProof):
                verify_inclusion(HASH, leaf_hash=leaf, proof=receipt.proof, root=header.tx_root)
    with pytest.raises(TransactionNotFound):
        ledger.get_transaction(bytes(32))
    with pytest.raises(TransactionNotFound):
        ledger.get_receipt(bytes(32))


def test_state_reads_at_every_height_match_a_model_and_prove(ledger: Ledger) -> None:
    history: list[dict[bytes, bytes]] = []
    model: dict[bytes, bytes] = {}
    shape = ChainShape(txs_per_block=6, key_space=4, delete_every=3)
    for _ in range(6):
        made = commit_next(ledger, shape)
        for key, value in made.state_writes.items():
            if value is None:
                model.pop(key, None)
            else:
                model[key] = value
        history.append(dict(model))
    every_key = set().union(*history) | {state_key("bench", b"never-written")}
    for height, expected in enumerate(history):
        root = ledger.get_header(height).state_root
        for key in sorted(every_key):
            read = ledger.get_state_raw(key, height)
            assert read.value == expected.get(key)
            assert ledger.get_state_value(key, height) == expected.get(key)
            assert read.state_root == root
            proof = StateProof.decode(read.proof.encode())
            verify_state_proof(HASH, root, key, read.value, proof)
            wrong = b"wrong" if read.value is None else None
            with pytest.raises(InvalidProof):
                verify_state_proof(HASH, root, key, wrong, proof)
    namespace, key = "bench", b"acct/0/0"
    assert ledger.get_state(namespace, key).value == history[-1].get(state_key(namespace, key))


def test_commit_rejects_a_block_that_is_not_the_next(ledger: Ledger) -> None:
    commit_next(ledger)
    made = build_block(ledger, 1, ChainShape(), suite=SUITE)
    wrong_height = dataclasses.replace(made.block.header, height=5)
    wrong_parent = dataclasses.replace(made.block.header, parent_hash=bytes(32))
    for header in (wrong_height, wrong_parent):
        with pytest.raises(CommitOutOfOrder):
            ledger.commit_block(
                Block(header=header, transactions=made.block.transactions),
                made.receipts,
                made.state_writes,
                made.certificate,
            )
    assert ledger.committed_height == 0
    ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
    assert ledger.committed_height == 1


@pytest.mark.parametrize("field", ["tx_root", "receipts_root", "state_root"])
def test_commit_refuses_a_header_whose_root_does_not_recompute(ledger: Ledger, field: str) -> None:
    commit_next(ledger)
    made = build_block(ledger, 1, ChainShape(), suite=SUITE)
    header = dataclasses.replace(made.block.header, **{field: b"\x01" * 32})
    block = Block(header=header, transactions=made.block.transactions)
    with pytest.raises(InvariantViolation, match=field.replace("_", " ")):
        ledger.commit_block(block, made.receipts, made.state_writes, made.certificate)
    assert ledger.committed_height == 0
    with pytest.raises(BlockNotFound):
        ledger.get_block(1)
    ledger.check_integrity()


def test_commit_refuses_state_writes_other_than_the_previewed_root(ledger: Ledger) -> None:
    made = build_block(ledger, 1, ChainShape(), suite=SUITE)
    changed = dict(made.state_writes)
    changed[state_key("bench", b"extra")] = b"value"
    with pytest.raises(InvariantViolation, match="state root"):
        ledger.commit_block(made.block, made.receipts, changed, made.certificate)
    ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)


class _NoApply:
    def apply(self, *args: object) -> None:
        raise AssertionError("the commit recomputed the state tree")


def test_commit_reuses_an_offered_state_update_only_for_the_same_writes(ledger: Ledger) -> None:
    made = build_block(ledger, 1, ChainShape(), suite=SUITE)
    height = made.block.header.height
    other = {state_key("bench", b"other"): b"value"}
    ledger.compute_state_root(height, other)  # what the ledger prepared no longer matches
    tree = StateTree(StoreNodeReader(ledger.store), HASH)
    update = tree.apply(ledger.committed_height, height, made.state_writes)
    ledger.offer_state_update(height, other, update)
    ledger._tree = _NoApply()  # type: ignore[assignment]
    with pytest.raises(AssertionError, match="recomputed"):
        ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
    ledger.offer_state_update(height, made.state_writes, update)
    ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
    assert ledger.get_header(height).state_root == update.root_hash


def test_commit_refuses_receipts_that_do_not_match_transactions(ledger: Ledger) -> None:
    made = build_block(ledger, 1, ChainShape(txs_per_block=3), suite=SUITE)
    swapped = (made.receipts[1], made.receipts[0], made.receipts[2])
    with pytest.raises(InvariantViolation, match="receipt 0"):
        ledger.commit_block(made.block, swapped, made.state_writes, made.certificate)
    with pytest.raises(InvariantViolation, match="2 receipts for 3"):
        ledger.commit_block(made.block, made.receipts[:2], made.state_writes, made.certificate)
    extra = Receipt(tx_hash=bytes(32), status=ReceiptStatus.FAILED, gas_used=1, error="x")
    with pytest.raises(InvariantViolation):
        ledger.commit_block(
            made.block, (*made.receipts, extra), made.state_writes, made.certificate
        )
    assert ledger.committed_height is None


def test_bad_state_writes_and_queries_are_validation_errors(ledger: Ledger) -> None:
    with pytest.raises(InvalidStateKey):
        commit_writes(ledger, {b"": b"v"})
    with pytest.raises(InvalidStateKey):
        commit_writes(ledger, {b"\x09abc": b"v"})  # namespace length past the end
    with pytest.raises(InvalidStateKey):
        state_key("", b"k")
    commit_writes(ledger, {state_key("bench", b"k"): b"v"})
    with pytest.raises(InvalidStateKey):
        ledger.get_state_raw(b"\x00")
    with pytest.raises(InvalidQuery):
        ledger.get_events("bench", "Transfer", limit=0)
    with pytest.raises(StateVersionUnavailable):
        ledger.get_state("bench", b"k", height=1)


def test_events_are_paged_in_chain_order_and_filtered_by_height(ledger: Ledger) -> None:
    made = [commit_next(ledger, ChainShape(txs_per_block=25)) for _ in range(4)]
    expected = [
        (item.block.header.height, tx_index, event)
        for item in made
        for tx_index, receipt in enumerate(item.receipts)
        for event in receipt.events
    ]
    assert len(expected) == 12
    collected = []
    page = ledger.get_events("bench", "Transfer", limit=5)
    pages = 1
    while True:
        collected.extend((r.position.height, r.position.tx_index, r.event) for r in page.events)
        if page.next_after is None:
            break
        page = ledger.get_events("bench", "Transfer", limit=5, after=page.next_after)
        pages += 1
    assert collected == expected
    assert pages == 3
    ranged = ledger.get_events("bench", "Transfer", from_height=1, to_height=2, limit=100)
    assert [r.position.height for r in ranged.events] == [1, 1, 1, 2, 2, 2]
    assert ledger.get_events("bench", "Other", limit=10).events == ()
    assert ledger.get_events("other", "Transfer", limit=10).events == ()


def test_nonces_follow_the_committed_transactions(ledger: Ledger) -> None:
    shape = ChainShape(txs_per_block=100)
    for _ in range(3):
        commit_next(ledger, shape)
    sent = 300
    for sender in range(SENDERS):
        count = len(range(sender, sent, SENDERS))
        assert ledger.get_nonce(SUITE.address(sender_key(SUITE, sender))) == count


def test_schema_mismatch_refuses_to_open() -> None:
    store = MemoryStore()
    Ledger(store, SUITE)
    batch = store.new_batch()
    batch.put(KeySpace.META, MetaKey.SUITE, b"gm")
    store.write(batch)
    with pytest.raises(SchemaMismatch, match="gm"):
        Ledger(store, SUITE)


def test_inclusion_proof_shape_is_rfc6962(ledger: Ledger) -> None:
    made = commit_next(ledger, ChainShape(txs_per_block=5))
    found = ledger.get_transaction(made.block.transactions[4].hash(SUITE))
    assert isinstance(found.proof, InclusionProof)
    assert (found.proof.leaf_index, found.proof.tree_size) == (4, 5)
    assert len(found.proof.hashes) == 1  # leaf 4 of 5 pairs with the root of the first four


def test_execution_reads_through_the_reader_adapters(ledger: Ledger) -> None:
    first = commit_next(ledger, ChainShape(txs_per_block=4, delete_every=0))
    second = commit_writes(ledger, dict.fromkeys(first.state_writes))  # delete them all
    view = ledger.state_reader(0)
    assert view.height == 0
    for key, value in first.state_writes.items():
        assert view.get(key) == value
        assert ledger.state_reader().get(key) is None
    assert second.block.header.height == ledger.state_reader().height == 1
    address = SUITE.address(first.block.transactions[0].sender)
    assert ledger.next_nonce(address) == ledger.get_nonce(address) == 1
