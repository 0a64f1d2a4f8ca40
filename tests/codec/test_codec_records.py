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
    Record,
    Transaction,
    decode,
    encode,
)
from gongshi.codec.diagnose import find_problem
from gongshi.codec.record import record_to_wire
from gongshi.errors import DecodeError, GongshiError, SizeLimitExceeded

from .conftest import RECORDS, transactions  # type: ignore[import-not-found]

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
