"""Fixed cases of the Gongshi types: pinned encodings and hashes, signing, validation messages."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from typing import Annotated, Any

import cbor2
import pytest

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
    frozendict,
    record,
)
from gongshi.codec.errors import (
    DuplicateMapKey,
    EncodingTooLarge,
    InvalidEncodedField,
    InvalidField,
    MissingField,
    NonCanonicalEncoding,
    TrailingBytes,
    UnknownField,
)
from gongshi.codec.kinds import UInt
from gongshi.crypto import get_suite
from gongshi.errors import InvalidKey, InvariantViolation


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def fixed_transaction(**changes: Any) -> Transaction:
    fields: dict[str, Any] = {
        "chain_id": "gongshi-test",
        "nonce": 7,
        "sender": bytes(range(32)),
        "target": "notary",
        "method": "put",
        "args": {"key": b"doc-1", "value": "hello", "tags": ["a", 1, None, True]},
        "gas_limit": 50_000,
        "expiry_height": 1_000,
        "private_ref": bytes([0xAB]) * 32,
        "signature": bytes([0x5A]) * 64,
    }
    fields.update(changes)
    return Transaction(**fields)


def fixed_header(**changes: Any) -> BlockHeader:
    fields: dict[str, Any] = {
        "height": 42,
        "parent_hash": bytes([1]) * 32,
        "tx_root": bytes([2]) * 32,
        "receipts_root": bytes([3]) * 32,
        "state_root": bytes([4]) * 32,
        "timestamp_ms": 1_700_000_000_000,
        "proposer": bytes([5]) * 65,
        "round": 3,
        "config_version": 1,
    }
    fields.update(changes)
    return BlockHeader(**fields)


def wire(obj: Record) -> dict[str, Any]:
    decoded: dict[str, Any] = cbor2.loads(encode(obj))
    return decoded


def canonical(mapping: dict[str, Any]) -> bytes:
    return cbor2.dumps(mapping, canonical=True)


# ---------------------------------------------------------------------------------------------
# Pinned encodings and hashes: an accidental change of the encoding fails here

PINNED_TX_SIGNING_BYTES = (
    "a96461726773a3636b657945646f632d31647461677384616101f6f56576616c75656568656c6c6f656e6f"
    "6e636507666d6574686f64637075746673656e6465725820000102030405060708090a0b0c0d0e0f101112"
    "131415161718191a1b1c1d1e1f66746172676574666e6f7461727968636861696e5f69646c676f6e677368"
    "692d74657374696761735f6c696d697419c3506b707269766174655f7265665820abababababababababab"
    "abababababababababababababababababababababab6d6578706972795f6865696768741903e8"
)
PINNED_TX_HASH_SHA256 = "5d1297b211820397d85595385ab3a8d3984814daec34a69831a343e60733369b"
PINNED_TX_HASH_SM3 = "e4a6a18c2b474393b4b2d9271142063f23123941eb49327fcc666d2c78e238bd"
PINNED_HEADER_HASH_SHA256 = "547dd5733466ba0d35b8d402764e993591f0a07afdfbb5ad722a6fc67f9cf8f0"
PINNED_HEADER_HASH_SM3 = "a53eca30cb238aa19e11f7e08fb4c978745512da00905a4ceff0718f4c219a11"


def test_transaction_encoding_is_pinned() -> None:
    tx = fixed_transaction()
    assert tx.signing_bytes().hex() == PINNED_TX_SIGNING_BYTES
    # The full encoding inserts the signature entry in its canonical place.
    assert encode(tx) == canonical({**cbor2.loads(tx.signing_bytes()), "signature": tx.signature})


def test_transaction_hash_is_pinned_for_sha256_and_sm3() -> None:
    tx = fixed_transaction()
    assert tx.hash(sha256).hex() == PINNED_TX_HASH_SHA256
    assert tx.hash(sm3).hex() == PINNED_TX_HASH_SM3
    assert tx.hash(get_suite("intl")).hex() == PINNED_TX_HASH_SHA256
    assert tx.hash(get_suite("gm")).hex() == PINNED_TX_HASH_SM3


def test_transaction_hash_excludes_the_signature() -> None:
    tx = fixed_transaction()
    assert fixed_transaction(signature=b"").hash(sha256) == tx.hash(sha256)
    assert fixed_transaction(nonce=8).hash(sha256) != tx.hash(sha256)


def test_header_hash_is_pinned_for_sha256_and_sm3() -> None:
    header = fixed_header()
    assert header.hash(sha256).hex() == PINNED_HEADER_HASH_SHA256
    assert header.hash(sm3).hex() == PINNED_HEADER_HASH_SM3
    block = Block(header=header, transactions=(fixed_transaction(),))
    assert block.hash(get_suite("intl")).hex() == PINNED_HEADER_HASH_SHA256
    assert block.height == 42


def test_a_hash_function_of_the_wrong_size_is_a_bug() -> None:
    with pytest.raises(InvariantViolation, match="64 bytes"):
        fixed_transaction().hash(lambda data: hashlib.sha512(data).digest())


# ---------------------------------------------------------------------------------------------
# Signing


@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_sign_and_verify(suite_name: str) -> None:
    suite = get_suite(suite_name)
    key = suite.generate_private_key()
    unsigned = fixed_transaction(sender=key.public_key_bytes(), signature=b"")
    assert not unsigned.verify_signature(suite)
    signed = unsigned.sign(key)
    assert signed.verify_signature(suite)
    assert signed.hash(suite) == unsigned.hash(suite)
    assert signed.sender_address(suite) == key.address()
    decoded = decode(Transaction, encode(signed))
    assert decoded.verify_signature(suite)
    tampered = dataclasses.replace(decoded, nonce=decoded.nonce + 1)
    assert not tampered.verify_signature(suite)
    forged = dataclasses.replace(signed, signature=bytes(64))
    assert not forged.verify_signature(suite)


def test_signing_with_another_key_is_refused() -> None:
    suite = get_suite("intl")
    tx = fixed_transaction(sender=suite.generate_private_key().public_key_bytes())
    with pytest.raises(InvalidKey, match="sender"):
        tx.sign(suite.generate_private_key())


# ---------------------------------------------------------------------------------------------
# Decoding rejections name the field or the problem


def test_unknown_field() -> None:
    data = canonical({**wire(fixed_transaction()), "fee": 1})
    with pytest.raises(UnknownField, match=r"^Transaction: unknown field 'fee'$"):
        decode(Transaction, data)


def test_missing_field() -> None:
    fields = wire(fixed_transaction())
    del fields["gas_limit"]
    with pytest.raises(MissingField, match=r"^Transaction: missing field 'gas_limit'$"):
        decode(Transaction, canonical(fields))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("nonce", "7", "Transaction.nonce: expected an integer, got text"),
        ("nonce", -1, "Transaction.nonce: -1 is outside 0..18446744073709551615"),
        ("nonce", True, "Transaction.nonce: expected an integer, got bool"),
        ("sender", b"\x01" * 33, "Transaction.sender: expected 32 or 65 bytes, got 33"),
        ("sender", "ab", "Transaction.sender: expected bytes, got text"),
        ("chain_id", "", "Transaction.chain_id: '' is not a chain id"),
        ("target", "0xABCD", "Transaction.target: '0xABCD' is not a system-contract name"),
        ("method", "do-it", "Transaction.method: 'do-it' is not an identifier"),
        ("args", {"a": [1, {2: 3}]}, "Transaction.args['a'][1]: map key 2 is not a text"),
        ("private_ref", b"\x01", "Transaction.private_ref: expected 32 bytes, got 1"),
        ("private_ref", None, "Transaction.private_ref: null is not allowed"),
        ("signature", b"\x01" * 63, "Transaction.signature: expected 0 or 64 bytes, got 63"),
        ("gas_limit", [1], "Transaction.gas_limit: expected an integer, got array"),
    ],
)
def test_wrong_field_values(field: str, value: object, message: str) -> None:
    data = canonical({**wire(fixed_transaction()), field: value})
    with pytest.raises(InvalidEncodedField) as caught:
        decode(Transaction, data)
    assert caught.value.message.startswith(message)
    assert caught.value.path.startswith(f"Transaction.{field}")


def test_not_a_map() -> None:
    with pytest.raises(InvalidEncodedField, match=r"^Transaction: expected a map"):
        decode(Transaction, canonical([1, 2]))  # type: ignore[arg-type]


def test_oversize() -> None:
    data = encode(fixed_transaction(args=b"x" * 300_000))
    with pytest.raises(EncodingTooLarge, match=r"^Transaction: \d+ bytes exceeds the limit"):
        decode(Transaction, data)
    assert decode(Transaction, data, max_size=len(data)).args == b"x" * 300_000
    with pytest.raises(EncodingTooLarge):
        decode(Transaction, encode(fixed_transaction()), max_size=100)


def test_non_canonical_integer() -> None:
    data = encode(fixed_transaction())
    # nonce 7 is 0x07; re-encode it in the two-byte form 0x18 0x07.
    marker = bytes.fromhex("656e6f6e636507")
    assert data.count(marker) == 1
    bad = data.replace(marker, bytes.fromhex("656e6f6e63651807"))
    with pytest.raises(
        NonCanonicalEncoding, match=r"unsigned integer 7 at offset \d+ is not in shortest form"
    ):
        decode(Transaction, bad)


def test_unsorted_keys() -> None:
    fields = wire(fixed_transaction())
    reordered = dict(reversed(list(fields.items())))
    bad = cbor2.dumps(reordered)  # not canonical: insertion order
    with pytest.raises(
        NonCanonicalEncoding,
        match=r"map keys out of order at offset 18: 'private_ref' after 'expiry_height'$",
    ):
        decode(Transaction, bad)


def test_duplicate_keys() -> None:
    data = encode(fixed_header())
    # Append a second "round" entry (equal to the first) and bump the entry count from 9 to 10.
    entry = bytes.fromhex("65726f756e6403")
    assert data[0] == 0xA9 and data.count(entry) == 1
    at = data.index(entry) + len(entry)
    bad = bytes([0xAA]) + data[1:at] + entry + data[at:]
    with pytest.raises(DuplicateMapKey, match="duplicate map key 'round'"):
        decode(BlockHeader, bad)


def test_trailing_bytes() -> None:
    data = encode(fixed_header())
    with pytest.raises(
        TrailingBytes, match=f"1 trailing bytes after the item, at offset {len(data)}"
    ):
        decode(BlockHeader, data + b"\x00")


def test_nested_errors_name_the_path() -> None:
    block = Block(header=fixed_header(), transactions=(fixed_transaction(), fixed_transaction()))
    fields = wire(block)
    fields["transactions"][1]["nonce"] = -5
    with pytest.raises(InvalidEncodedField, match=r"^Block\.transactions\[1\]\.nonce: -5 is"):
        decode(Block, canonical(fields))
    fields = wire(block)
    fields["header"]["extra"] = 0
    with pytest.raises(UnknownField, match=r"^Block\.header: unknown field 'extra'"):
        decode(Block, canonical(fields))
    fields = wire(block)
    fields["transactions"] = {"a": 1}
    with pytest.raises(InvalidEncodedField, match=r"^Block\.transactions: expected an array"):
        decode(Block, canonical(fields))


# ---------------------------------------------------------------------------------------------
# Construction validates: an invalid record cannot exist


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nonce": 2**64}, "Transaction.nonce: 18446744073709551616 is outside"),
        ({"nonce": 1.0}, "Transaction.nonce: expected an integer, got float"),
        ({"sender": b""}, "Transaction.sender: expected 32 or 65 bytes, got 0"),
        ({"target": "0x" + "ab" * 19}, "Transaction.target:"),
        ({"method": "x" * 65}, "Transaction.method: 65 bytes is longer than 64"),
        ({"args": {"a": 1.5}}, "Transaction.args['a']: float is not allowed"),
        ({"args": [[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]}, "nested deeper than 16"),
        ({"chain_id": "chain id"}, "Transaction.chain_id: 'chain id' is not a chain id"),
    ],
)
def test_construction_rejects_bad_values(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidField) as caught:
        fixed_transaction(**changes)
    assert message in caught.value.message, caught.value.message


def test_construction_normalises_to_immutable_values() -> None:
    tx = fixed_transaction(args={"b": [1, [2]], "a": None}, sender=bytearray(range(32)))
    assert tx.args == frozendict({"a": None, "b": (1, (2,))})
    assert isinstance(tx.args, frozendict) and list(tx.args) == ["a", "b"]
    assert type(tx.sender) is bytes
    assert hash(tx) == hash(decode(Transaction, encode(tx)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        tx.nonce = 1  # type: ignore[misc]


def test_receipt_rules() -> None:
    receipt = Receipt(tx_hash=bytes(32), status=0, gas_used=21, return_value=[1, "x"])  # type: ignore[arg-type]
    assert receipt.status is ReceiptStatus.SUCCESS and receipt.events == () and receipt.error == ""
    with pytest.raises(InvalidField, match=r"Receipt\.error: must be empty when status is SUCCESS"):
        Receipt(tx_hash=bytes(32), status=ReceiptStatus.SUCCESS, gas_used=0, error="boom")
    with pytest.raises(InvalidField, match=r"Receipt.status: 99 is not one of 0 \(SUCCESS\)"):
        Receipt(tx_hash=bytes(32), status=99, gas_used=0)  # type: ignore[arg-type]
    event = Event(contract="notary", name="Stored", fields={"key": b"k"})
    failed = Receipt(
        tx_hash=bytes(32),
        status=ReceiptStatus.OUT_OF_GAS,
        gas_used=9,
        error="out of gas",
        events=(event,),
    )
    assert decode(Receipt, encode(failed)) == failed
    fields = wire(failed)
    fields["status"] = 17
    with pytest.raises(InvalidEncodedField, match=r"^Receipt.status: 17 is not one of"):
        decode(Receipt, canonical(fields))


def test_event_fields_must_be_a_map() -> None:
    with pytest.raises(InvalidField, match=r"Event\.fields: expected a map, got array"):
        Event(contract="notary", name="Stored", fields=[1])


class Phase(enum.IntEnum):
    PREPARE = 1
    COMMIT = 2


def test_quorum_certificate_rules() -> None:
    qc = QuorumCertificate(
        phase=Phase.COMMIT,
        height=5,
        round=0,
        block_hash=bytes(32),
        signers=(0, 2, 3),
        signatures=(b"a" * 64, b"b" * 64, b"c" * 64),
    )
    assert type(qc.phase) is int and qc.phase == 2
    assert decode(QuorumCertificate, encode(qc)) == qc
    with pytest.raises(InvalidField, match=r"signers\[2\]: signers must be strictly ascending"):
        dataclasses.replace(qc, signers=(0, 2, 2))
    with pytest.raises(InvalidField, match="signers must be strictly ascending"):
        dataclasses.replace(qc, signers=(3, 2, 0))
    with pytest.raises(InvalidField, match="2 signatures for 3 signers"):
        dataclasses.replace(qc, signatures=qc.signatures[:2])
    with pytest.raises(InvalidField, match=r"QuorumCertificate.signers\[1\]: 4096 is outside"):
        dataclasses.replace(qc, signers=(0, 4096, 4097))
    with pytest.raises(InvalidField, match=r"QuorumCertificate\.phase: 256 is outside 0\.\.255"):
        dataclasses.replace(qc, phase=256)
    fields = wire(qc)
    fields["signers"] = [3, 1, 2]
    with pytest.raises(InvalidEncodedField, match=r"^QuorumCertificate.signers\[1\]: signers"):
        decode(QuorumCertificate, canonical(fields))


# ---------------------------------------------------------------------------------------------
# The record mechanism refuses misuse at class definition


def test_record_decorator_requires_the_conventions() -> None:
    with pytest.raises(TypeError, match="frozen=True, slots=True"):

        @record
        @dataclasses.dataclass(kw_only=True)
        class Loose(Record):
            value: Annotated[int, UInt()]

    with pytest.raises(TypeError, match="annotate as Annotated"):

        @record
        @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
        class Bare(Record):
            value: int

    with pytest.raises(TypeError, match="check_invariants"):

        @record
        @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
        class Hooked(Record):
            value: Annotated[int, UInt()]

            def __post_init__(self) -> None:
                pass

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Undecorated(Record):
        value: Annotated[int, UInt()]

    with pytest.raises(TypeError, match="not decorated with @record"):
        Undecorated(value=1)


def test_a_new_record_type_gets_the_whole_mechanism() -> None:
    @record
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Vote(Record):
        height: Annotated[int, UInt()]
        round: Annotated[int, UInt(1000)]

    vote = Vote(height=3, round=1)
    assert encode(vote) == canonical({"height": 3, "round": 1})
    assert decode(Vote, encode(vote)) == vote
    with pytest.raises(InvalidEncodedField, match=r"^Vote.round: 1001 is outside 0..1000"):
        decode(Vote, canonical({"height": 3, "round": 1001}))


# ---------------------------------------------------------------------------------------------
# The memo of the encoding is invisible


def test_encoding_memo_is_not_part_of_the_value() -> None:
    tx = fixed_transaction()
    fresh = fixed_transaction()
    data = encode(tx)
    assert encode(tx) is data  # computed once
    assert tx == fresh and hash(tx) == hash(fresh) and repr(tx) == repr(fresh)
    changed = dataclasses.replace(tx, nonce=8)
    assert encode(changed) != data
    assert encode(changed) == canonical({**wire(tx), "nonce": 8})


def test_decoded_records_memo_their_canonical_bytes() -> None:
    block = Block(header=fixed_header(), transactions=(fixed_transaction(),))
    data = bytearray(encode(block))
    decoded = decode(Block, data)
    assert type(encode(decoded)) is bytes and encode(decoded) == data
    assert encode(decoded.transactions[0]) == encode(fixed_transaction())


def test_records_pickle_and_copy_as_their_encoding() -> None:
    import copy
    import pickle

    block = Block(header=fixed_header(), transactions=(fixed_transaction(),))
    for clone in (pickle.loads(pickle.dumps(block)), copy.copy(block), copy.deepcopy(block)):
        assert clone == block and encode(clone) == encode(block)
        assert isinstance(clone.transactions[0].args, frozendict)
