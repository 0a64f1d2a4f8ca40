"""Hypothesis strategies of every codec record, each field over its whole valid range, edges
included: shared by the record property tests and the `from_checked` tests."""

from __future__ import annotations

from hypothesis import strategies as st

from gongshi.codec import (
    Block,
    BlockHeader,
    Event,
    QuorumCertificate,
    Receipt,
    ReceiptStatus,
    Transaction,
)

UINT64 = st.integers(0, 2**64 - 1) | st.sampled_from([0, 23, 24, 255, 256, 2**32, 2**64 - 1])
HASHES = st.binary(min_size=32, max_size=32)
PUBLIC_KEYS = st.binary(min_size=32, max_size=32) | st.binary(min_size=65, max_size=65)
IDENTIFIERS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,63}", fullmatch=True)
CONTRACTS = st.from_regex(r"0x[0-9a-f]{40}", fullmatch=True) | st.from_regex(
    r"[a-z][a-z0-9_]{0,63}", fullmatch=True
)
CHAIN_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True)
_INT = st.integers(min_value=-(2**64), max_value=2**64 - 1)
_SCALAR = st.none() | st.booleans() | _INT | st.text(max_size=20) | st.binary(max_size=40)
VALUES = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
FIELD_MAPS = st.dictionaries(st.text(max_size=10), VALUES, max_size=4)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    return Transaction(
        chain_id=draw(CHAIN_IDS),
        nonce=draw(UINT64),
        sender=draw(PUBLIC_KEYS),
        target=draw(CONTRACTS),
        method=draw(IDENTIFIERS),
        args=draw(VALUES),
        gas_limit=draw(UINT64),
        expiry_height=draw(UINT64),
        private_ref=draw(st.none() | HASHES),
        signature=draw(st.sampled_from([b""]) | st.binary(min_size=64, max_size=64)),
    )


@st.composite
def headers(draw: st.DrawFn) -> BlockHeader:
    return BlockHeader(
        height=draw(UINT64),
        parent_hash=draw(HASHES),
        tx_root=draw(HASHES),
        receipts_root=draw(HASHES),
        state_root=draw(HASHES),
        timestamp_ms=draw(UINT64),
        proposer=draw(PUBLIC_KEYS),
        round=draw(UINT64),
        config_version=draw(UINT64),
    )


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    return Block(
        header=draw(headers()),
        transactions=tuple(draw(st.lists(transactions(), max_size=3))),
    )


@st.composite
def events(draw: st.DrawFn) -> Event:
    return Event(contract=draw(CONTRACTS), name=draw(IDENTIFIERS), fields=draw(FIELD_MAPS))


@st.composite
def receipts(draw: st.DrawFn) -> Receipt:
    status = draw(st.sampled_from(ReceiptStatus))
    return Receipt(
        tx_hash=draw(HASHES),
        status=status,
        gas_used=draw(UINT64),
        return_value=draw(VALUES),
        error="" if status is ReceiptStatus.SUCCESS else draw(st.text(max_size=40)),
        events=tuple(draw(st.lists(events(), max_size=3))),
    )


@st.composite
def certificates(draw: st.DrawFn) -> QuorumCertificate:
    signers = sorted(draw(st.sets(st.integers(0, 4095), max_size=7)))
    return QuorumCertificate(
        phase=draw(st.integers(0, 255)),
        height=draw(UINT64),
        round=draw(UINT64),
        block_hash=draw(HASHES),
        signers=tuple(signers),
        signatures=tuple(draw(st.binary(min_size=1, max_size=128)) for _ in signers),
    )


RECORDS = st.one_of(transactions(), headers(), blocks(), events(), receipts(), certificates())
