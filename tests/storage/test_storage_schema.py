"""Key layout (prefix-free, ordered) and the pure block record, without any database."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.codec import Block, encode
from gongshi.crypto import get_suite
from gongshi.errors import InvariantViolation
from gongshi.merkle.rfc6962 import MerkleTree, hash_leaf
from gongshi.storage.block_record import fill_block_batch, prepare_block
from gongshi.storage.errors import CertificateTooLarge, InvalidStateKey
from gongshi.storage.ledger import Ledger
from gongshi.storage.memory import MemoryBatch, MemoryStore
from gongshi.storage.roots import receipts_root, tx_root
from gongshi.storage.schema import (
    STATE_KEY_BYTES_MAX,
    KeySpace,
    MetaKey,
    decode_event_position,
    decode_position,
    decode_state_value,
    encode_state_value,
    event_key,
    position_key,
    split_state_key,
    state_key,
    state_value_key,
    version_of_state_value_key,
)
from gongshi.storage.synthetic import ChainShape, build_block

SUITE = get_suite("intl")
namespaces = st.text(min_size=1, max_size=20).filter(lambda text: len(text.encode()) <= 255)


@given(namespaces, st.binary(max_size=40), namespaces, st.binary(max_size=40))
def test_state_keys_are_injective_and_prefix_free(
    namespace_a: str, key_a: bytes, namespace_b: str, key_b: bytes
) -> None:
    raw_a, raw_b = state_key(namespace_a, key_a), state_key(namespace_b, key_b)
    assert split_state_key(raw_a) == (namespace_a, key_a)
    assert (raw_a == raw_b) == ((namespace_a, key_a) == (namespace_b, key_b))
    # Versioned value keys of different state keys never prefix each other.
    value_a, value_b = state_value_key(raw_a, 0)[:-8], state_value_key(raw_b, 0)[:-8]
    if raw_a != raw_b:
        assert not value_a.startswith(value_b)
        assert not value_b.startswith(value_a)


@given(st.binary(min_size=2, max_size=30), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_value_versions_sort_numerically(raw: bytes, first: int, second: int) -> None:
    raw = state_key("ns", raw)
    ordered = state_value_key(raw, first) < state_value_key(raw, second)
    assert ordered == (first < second)
    assert version_of_state_value_key(state_value_key(raw, first)) == first


def test_state_key_limits() -> None:
    with pytest.raises(InvalidStateKey):
        state_key("", b"k")
    with pytest.raises(InvalidStateKey):
        state_key("n" * 256, b"k")
    with pytest.raises(InvalidStateKey):
        state_key("ns", b"k" * STATE_KEY_BYTES_MAX)
    with pytest.raises(InvalidStateKey):
        split_state_key(b"\x05ab")
    with pytest.raises(InvalidStateKey):
        split_state_key(b"\x02\xff\xfekey")  # namespace not UTF-8


@given(st.none() | st.binary(max_size=10))
def test_state_value_tags_round_trip(value: bytes | None) -> None:
    assert decode_state_value(encode_state_value(value)) == value


@given(
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**32 - 1),
)
def test_positions_sort_by_height_then_index(h1: int, i1: int, h2: int, i2: int) -> None:
    assert (position_key(h1, i1) < position_key(h2, i2)) == ((h1, i1) < (h2, i2))
    assert decode_position(position_key(h1, i1)) == (h1, i1)
    key = event_key("bench", "Transfer", h1, i1, i2)
    assert decode_event_position(key) == (h1, i1, i2)


def test_roots_are_rfc6962_over_the_documented_leaves() -> None:
    ledger = Ledger(MemoryStore(), SUITE)
    made = build_block(ledger, 2, ChainShape(txs_per_block=5), suite=SUITE)
    hashes = [tx.hash(SUITE) for tx in made.block.transactions]
    encodings = [encode(receipt) for receipt in made.receipts]
    manual_tx = MerkleTree.from_leaf_hashes(SUITE.hash, [hash_leaf(SUITE.hash, h) for h in hashes])
    assert tx_root(SUITE.hash, hashes) == manual_tx.root == made.block.header.tx_root
    assert receipts_root(SUITE.hash, encodings) == made.block.header.receipts_root
    assert tx_root(SUITE.hash, []) == SUITE.hash(b"")


def test_prepare_and_fill_a_block_without_a_database() -> None:
    ledger = Ledger(MemoryStore(), SUITE)
    made = build_block(ledger, 2, ChainShape(txs_per_block=12), suite=SUITE)
    record = prepare_block(SUITE, made.block, made.receipts, made.certificate)
    assert record.block_hash == made.block.hash(SUITE)
    batch = MemoryBatch()
    fill_block_batch(batch, record, {})
    spaces = [space for space, _, _ in batch.operations]
    assert spaces.count(KeySpace.TXS) == spaces.count(KeySpace.RECEIPTS) == 12
    assert spaces.count(KeySpace.TX_INDEX) == 12
    assert spaces.count(KeySpace.EVENTS) == 2  # transactions 0 and 10 emit one event each
    assert spaces.count(KeySpace.HEADERS) == spaces.count(KeySpace.CERTIFICATES) == 1
    meta = {key: value for space, key, value in batch.operations if space is KeySpace.META}
    assert meta[MetaKey.COMMITTED_HEIGHT] == position_key(0, 0)[:8]
    # A stored nonce above the block's is kept: nonces never go down.
    address = next(iter(record.next_nonces))
    batch = MemoryBatch()
    fill_block_batch(batch, record, {address: 10**6})
    nonces = {key: value for space, key, value in batch.operations if space is KeySpace.NONCES}
    assert int.from_bytes(nonces[address], "big") == 10**6


def test_prepare_block_checks_the_header_roots_and_the_certificate() -> None:
    ledger = Ledger(MemoryStore(), SUITE)
    made = build_block(ledger, 2, ChainShape(txs_per_block=3), suite=SUITE)
    header = dataclasses.replace(made.block.header, tx_root=bytes(32))
    with pytest.raises(InvariantViolation, match="block 0: tx root"):
        prepare_block(
            SUITE,
            Block(header=header, transactions=made.block.transactions),
            made.receipts,
            made.certificate,
        )
    with pytest.raises(InvariantViolation, match="certificate"):
        prepare_block(SUITE, made.block, made.receipts, b"")
    with pytest.raises(CertificateTooLarge):
        prepare_block(SUITE, made.block, made.receipts, b"x" * (256 * 1024 + 1))
