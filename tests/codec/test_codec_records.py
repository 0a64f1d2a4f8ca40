"""Property tests of every record type: round trips, canonical form, mutated encodings."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from gongshi.codec import (
    Block,
    BlockHeader,
    Event,
    QuorumCertificate,
    Receipt,
    ReceiptStatus,
    Record,
    Transaction,
    decode,
    encode,
)
from gongshi.codec.diagnose import find_problem
from gongshi.codec.record import record_to_wire
from gongshi.errors import DecodeError, GongshiError, SizeLimitExceeded

# ---------------------------------------------------------------------------------------------
# Strategies: every field over its whole valid range, edges included

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


# ---------------------------------------------------------------------------------------------
# Round trips and canonical form


@given(RECORDS)
def test_round_trip(obj: Record) -> None:
    data = encode(obj)
    decoded = decode(type(obj), data)
    assert decoded == obj
    assert encode(decoded) == data
    assert hash(decoded) == hash(obj)
    assert type(obj).decode(data) == obj and obj.encode() == data


@given(RECORDS)
def test_encoding_is_rfc8949_deterministic(obj: Record) -> None:
    data = encode(obj)
    # Independently of our key ordering: cbor2's canonical mode over the same map, and the
    # walker's check of shortest forms and bytewise key order.
    assert data == cbor2.dumps(cbor2.loads(data), canonical=True)
    assert find_problem(data, type(obj).__name__) is None


@given(transactions())
def test_transaction_wire_keys_are_the_field_names(tx: Transaction) -> None:
    wire = cbor2.loads(encode(tx))
    expected = {
        "chain_id",
        "nonce",
        "sender",
        "target",
        "method",
        "args",
        "gas_limit",
        "expiry_height",
        "signature",
    }
    assert set(wire) == expected | ({"private_ref"} if tx.private_ref is not None else set())
    assert cbor2.dumps(record_to_wire(tx)) == encode(tx)


@given(transactions())
def test_signing_bytes_are_the_encoding_without_the_signature(tx: Transaction) -> None:
    wire = cbor2.loads(encode(tx))
    del wire["signature"]
    assert tx.signing_bytes() == cbor2.dumps(wire, canonical=True)


# ---------------------------------------------------------------------------------------------
# Mutated encodings: rejected with a GongshiError, or decoding to exactly the input


@st.composite
def mutated(draw: st.DrawFn) -> tuple[type[Record], bytes]:
    obj = draw(RECORDS)
    data = bytearray(encode(obj))
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["flip", "set", "insert", "delete", "duplicate"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if operation == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "set" and data:
            data[position] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=3))
        elif operation == "delete" and data:
            del data[position : position + draw(st.integers(1, 3))]
        elif operation == "duplicate":
            end = position + draw(st.integers(1, 12))
            data[position:position] = data[position:end]
    return type(obj), bytes(data)


@settings(max_examples=2000)
@given(mutated())
def test_mutated_encodings_are_rejected_or_exactly_canonical(
    case: tuple[type[Record], bytes],
) -> None:
    record_class, data = case
    try:
        obj = decode(record_class, data)
    except GongshiError as error:
        assert isinstance(error, DecodeError | SizeLimitExceeded), type(error)
        assert error.message.startswith(record_class.__name__)
        event(f"rejected: {type(error).__name__}")
        return
    event("accepted")
    assert encode(obj) == data


@settings(max_examples=300)
@given(
    st.sampled_from([Transaction, BlockHeader, Block, Event, Receipt, QuorumCertificate]),
    st.binary(max_size=80),
)
def test_random_bytes_are_rejected_cleanly(record_class: type[Record], data: bytes) -> None:
    try:
        obj = decode(record_class, data)
    except DecodeError:
        return
    assert encode(obj) == data


@pytest.mark.parametrize("convert", [bytearray, memoryview])
def test_bytes_like_input(convert: type) -> None:
    header = BlockHeader(
        height=1,
        parent_hash=bytes(32),
        tx_root=bytes(32),
        receipts_root=bytes(32),
        state_root=bytes(32),
        timestamp_ms=5,
        proposer=bytes(32),
        round=0,
        config_version=0,
    )
    assert decode(BlockHeader, convert(encode(header))) == header


@pytest.mark.slow
@settings(max_examples=50_000, deadline=None)
@given(mutated())
def test_mutation_campaign(case: tuple[type[Record], bytes]) -> None:
    test_mutated_encodings_are_rejected_or_exactly_canonical.hypothesis.inner_test(case)  # type: ignore[attr-defined]
